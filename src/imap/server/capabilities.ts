import { SASL_MECHANISMS } from '../../auth/index.ts'
import type { ImapSession } from './session.ts'

/**
 * The CAPABILITY list (RFC 9051 §7.2.2) for what this session can do now: only what is
 * implemented. The login-related ones are not-authenticated-state capabilities and go once the
 * client has logged in; after STARTTLS the list changes, so the client must ask again.
 */
export function capabilities(session: ImapSession): string[] {
  const caps = [
    'IMAP4rev2', // RFC 9051
    'IMAP4rev1', // RFC 3501, still what most clients speak (RFC 9051 Appendix E)
  ]
  if (session.state === 'not-authenticated') {
    if (!session.isTls) caps.push('STARTTLS') // RFC 9051 §6.2.1
    if (session.mayAuthenticate) {
      caps.push(...SASL_MECHANISMS.map((mechanism) => `AUTH=${mechanism}`)) // RFC 9051 §6.2.2
      caps.push('SASL-IR') // RFC 4959: AUTHENTICATE with an initial response
    } else {
      caps.push('LOGINDISABLED') // RFC 9051 §6.2.3: LOGIN (and every mechanism) refused here
    }
  }
  caps.push(
    'LITERAL+', // RFC 7888 §3: non-synchronizing literals, read by the session loop
    'ID', // RFC 2971
  )
  if (session.state !== 'not-authenticated') {
    caps.push(
      'ENABLE', // RFC 5161
      'CONDSTORE', // RFC 7162 §3.1
      'QRESYNC', // RFC 7162 §3.2
      'UTF8=ACCEPT', // RFC 6855
      'UNSELECT', // RFC 3691
      'MOVE', // RFC 6851
      'BINARY', // RFC 3516
      'UIDPLUS', // RFC 4315: UID EXPUNGE, APPENDUID, COPYUID
      'MULTIAPPEND', // RFC 3502
      `APPENDLIMIT=${session.deps.config.maxMessageSize}`, // RFC 7889 §3
      'IDLE', // RFC 2177
      'COMPRESS=DEFLATE', // RFC 4978
      'QUOTA', // RFC 9208
      'QUOTA=RES-STORAGE',
      'QUOTA=RES-MESSAGE',
      'ESEARCH', // RFC 4731
      'SEARCHRES', // RFC 5182
      'WITHIN', // RFC 5032: OLDER and YOUNGER
      'SORT', // RFC 5256
      'SORT=DISPLAY', // RFC 5957
      'THREAD=ORDEREDSUBJECT', // RFC 5256
      'THREAD=REFERENCES', // RFC 5256
      'LIST-EXTENDED', // RFC 5258
      'LIST-STATUS', // RFC 5819
      'SPECIAL-USE', // RFC 6154
      'CREATE-SPECIAL-USE', // RFC 6154 §3
      'CHILDREN', // RFC 3348
      'NAMESPACE', // RFC 2342
      'STATUS=SIZE', // RFC 8438
    )
  }
  return caps
}

/** "CAPABILITY …" as it follows "* " or goes in a response code. */
export function capabilityText(session: ImapSession): string {
  return `CAPABILITY ${capabilities(session).join(' ')}`
}
