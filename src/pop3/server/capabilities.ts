import { SASL_MECHANISMS } from '../../auth/index.ts'
import type { Pop3Session } from './session.ts'

/**
 * The CAPA list (RFC 2449 §5), exactly what this session can use now: USER and SASL only where
 * passwords may be sent, STLS only before TLS, none of the three after login (§6: they are
 * AUTHORIZATION-state capabilities).
 */
export function capabilities(session: Pop3Session): string[] {
  const { config } = session.deps
  const lines = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING']
  if (session.state === 'authorization') {
    if (session.mayAuthenticate) lines.push('USER', `SASL ${SASL_MECHANISMS.join(' ')}`)
    if (!session.isTls) lines.push('STLS')
  }
  if (config.expire !== null) lines.push(`EXPIRE ${config.expire === 'never' ? 'NEVER' : '0'}`)
  if (config.loginDelayMs !== null) lines.push(`LOGIN-DELAY ${config.loginDelayMs / 1000}`)
  lines.push('IMPLEMENTATION Postern')
  return lines
}
