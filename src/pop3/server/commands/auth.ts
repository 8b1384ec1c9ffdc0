import {
  createSaslExchange,
  malformedResponseText,
  runSaslExchange,
  SASL_MECHANISMS,
} from '../../../auth/index.ts'
import { MAX_AUTH_LINE_OCTETS, multiline } from '../../proto/index.ts'
import { AUTHORIZATION, type Pop3CommandEntry } from '../command.ts'
import { enterMaildrop, mayTryLogin, refuseLogin } from '../login.ts'
import type { Pop3Session } from '../session.ts'

/**
 * AUTH (RFC 5034): a SASL exchange with "+ base64" challenges, an optional initial response
 * ("=" for an empty one), "*" to cancel. SCRAM's final server message goes out as one more
 * challenge that the client answers with an empty line (§4). Without a mechanism, the list of
 * mechanisms, as clients of RFC 1734 ask for it.
 */
export const auth: Pop3CommandEntry = {
  states: AUTHORIZATION,
  async handle(session, { args }) {
    if (!session.mayAuthenticate) {
      await session.fail('Authentication needs TLS here, send STLS first', 'AUTH')
      return
    }
    const [mechanism, initial] = args
    if (mechanism === undefined) {
      await session.send(multiline('Mechanisms follow', SASL_MECHANISMS))
      return
    }
    if (args.length > 2) {
      await session.fail('Usage: AUTH mechanism [initial-response]')
      return
    }
    const exchange = createSaslExchange(mechanism, session.deps.directory.credentialStore())
    if (exchange === null) {
      await session.fail(`Mechanism ${mechanism.slice(0, 32)} is not supported`)
      return
    }
    if (!(await mayTryLogin(session))) return
    const outcome = await runSaslExchange(exchange, initial ?? null, {
      challenge: async (data) => {
        await session.send(`+ ${data.toString('base64')}\r\n`)
        return readResponse(session)
      },
    })
    switch (outcome.kind) {
      case 'success':
        await enterMaildrop(session, outcome.login, exchange.mechanism)
        return
      case 'failure':
        if (outcome.step.reason === 'malformed') {
          await refuseLogin(session, outcome.step.attemptedLogin, outcome.step.message)
        } else {
          await refuseLogin(session, outcome.step.attemptedLogin, 'wrong credentials')
        }
        return
      case 'cancelled':
        await session.fail('Authentication cancelled')
        return
      case 'malformed':
        await session.fail(malformedResponseText(outcome))
        return
      case 'closed':
        session.isClosing = true
        return
    }
  },
}

async function readResponse(session: Pop3Session): Promise<string | null> {
  await session.flush()
  const { connection } = session
  const line = await connection.withinDeadline(session.deps.config.timeoutMs, () =>
    connection.reader.readLine(MAX_AUTH_LINE_OCTETS),
  )
  return line === null ? null : line.bytes.toString('latin1')
}
