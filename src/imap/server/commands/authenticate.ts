import { createSaslExchange, malformedResponseText, runSaslExchange } from '../../../auth/index.ts'
import { MAX_COMMAND_LINE_OCTETS } from '../../proto/index.ts'
import { type ImapCommandEntry, NOT_AUTHENTICATED } from '../command.ts'
import { completeLogin, mayTryLogin, mayUsePassword, refuseLogin } from '../login.ts'
import type { ImapSession } from '../session.ts'

/**
 * AUTHENTICATE mechanism [initial-response] (RFC 9051 §6.2.2, RFC 4959 SASL-IR: "=" is an empty
 * initial response). Challenges go out as "+ base64", the client answers each with a line of
 * base64 or "*" to cancel (answered BAD). SCRAM's final server message goes out as one more
 * challenge that the client answers with an empty line.
 */
export const authenticate: ImapCommandEntry = {
  states: NOT_AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.space()
    const mechanism = reader.atom()
    let initial: string | null = null
    if (!reader.isAtEnd) {
      reader.space()
      initial = reader.atom()
    }
    reader.end()
    // Every mechanism offered carries a password or a proof derived from one (RFC 9051 §6.2.2:
    // none is advertised where LOGINDISABLED is).
    if (!(await mayUsePassword(session, tag))) return
    const exchange = createSaslExchange(mechanism, session.deps.directory.credentialStore())
    if (exchange === null) {
      await session.tagged(tag, 'NO', `Mechanism ${mechanism.slice(0, 32)} is not supported`)
      return
    }
    if (!(await mayTryLogin(session, tag))) return
    const outcome = await runSaslExchange(exchange, initial, {
      challenge: async (data) => {
        await session.send(`+ ${data.toString('base64')}\r\n`)
        return readResponse(session)
      },
    })
    switch (outcome.kind) {
      case 'success':
        await completeLogin(session, tag, outcome.login, exchange.mechanism, 'AUTHENTICATE')
        return
      case 'failure':
        await refuseLogin(
          session,
          tag,
          outcome.step.attemptedLogin,
          outcome.step.reason === 'malformed' ? outcome.step.message : 'wrong credentials',
        )
        return
      case 'cancelled':
        await session.tagged(tag, 'BAD', 'Authentication cancelled')
        return
      case 'malformed':
        await session.tagged(tag, 'BAD', malformedResponseText(outcome))
        return
      case 'closed':
        session.isClosing = true
        return
    }
  },
}

async function readResponse(session: ImapSession): Promise<string | null> {
  await session.flush()
  const { connection } = session
  const line = await connection.withinDeadline(session.deps.config.timeoutMs, () =>
    connection.reader.readLine(MAX_COMMAND_LINE_OCTETS),
  )
  return line === null ? null : line.bytes.toString('latin1')
}
