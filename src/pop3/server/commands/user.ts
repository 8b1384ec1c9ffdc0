import { ok } from '../../proto/index.ts'
import { AUTHORIZATION, type Pop3CommandEntry } from '../command.ts'

/**
 * USER (RFC 1939 §7). Always "+OK": whether the name exists is only told, as a failure, after
 * PASS. Refused before TLS except from loopback or where the operator allows it (RFC 2595 §4).
 */
export const user: Pop3CommandEntry = {
  states: AUTHORIZATION,
  async handle(session, { args }) {
    if (args.length !== 1) {
      await session.fail('Usage: USER name')
      return
    }
    if (!session.mayAuthenticate) {
      await session.fail('Plaintext authentication needs TLS here, send STLS first', 'AUTH')
      return
    }
    session.userName = args[0] as string
    await session.send(ok('Send PASS'))
  },
}
