import { type Pop3CommandEntry, TRANSACTION } from '../command.ts'
import { messageArgument } from './maildrop-of.ts'
import { sendMessage } from './send-message.ts'

/** RETR (RFC 1939 §5): the whole message, CRLF line ends, dot-stuffed. */
export const retr: Pop3CommandEntry = {
  states: TRANSACTION,
  async handle(session, { args }) {
    if (args.length !== 1) {
      await session.fail('Usage: RETR message')
      return
    }
    const found = await messageArgument(session, args[0])
    if (found !== null) await sendMessage(session, found.n, found.message, null)
  },
}
