import { ok } from '../../proto/index.ts'
import { type Pop3CommandEntry, TRANSACTION } from '../command.ts'

/** NOOP (RFC 1939 §5). */
export const noop: Pop3CommandEntry = {
  states: TRANSACTION,
  async handle(session) {
    await session.send(ok(''))
  },
}
