import { parseLineCount } from '../../proto/index.ts'
import { type Pop3CommandEntry, TRANSACTION } from '../command.ts'
import { messageArgument } from './maildrop-of.ts'
import { sendMessage } from './send-message.ts'

/** TOP (RFC 1939 §7): the header, the empty line, and the first n lines of the body. */
export const top: Pop3CommandEntry = {
  states: TRANSACTION,
  async handle(session, { args }) {
    const lines = parseLineCount(args[1])
    if (args.length !== 2 || lines === null) {
      await session.fail('Usage: TOP message lines')
      return
    }
    const found = await messageArgument(session, args[0])
    if (found !== null) await sendMessage(session, found.n, found.message, lines)
  },
}
