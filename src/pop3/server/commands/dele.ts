import { ok } from '../../proto/index.ts'
import { type Pop3CommandEntry, TRANSACTION } from '../command.ts'
import { messageArgument } from './maildrop-of.ts'

/** DELE (RFC 1939 §5): marks the message; it is removed only at QUIT. */
export const dele: Pop3CommandEntry = {
  states: TRANSACTION,
  async handle(session, { args }) {
    if (args.length !== 1) {
      await session.fail('Usage: DELE message')
      return
    }
    const found = await messageArgument(session, args[0])
    if (found === null) return
    found.message.isDeleted = true
    await session.send(ok(`Message ${found.n} deleted`))
  },
}
