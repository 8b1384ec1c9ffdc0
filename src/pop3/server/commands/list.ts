import { multiline, ok } from '../../proto/index.ts'
import { type Pop3CommandEntry, TRANSACTION } from '../command.ts'
import { messageArgument, openMaildrop } from './maildrop-of.ts'

/** LIST (RFC 1939 §5): "n size" for one message, or for every one not marked deleted. */
export const list: Pop3CommandEntry = {
  states: TRANSACTION,
  async handle(session, { args }) {
    if (args.length > 1) {
      await session.fail('Usage: LIST [message]')
      return
    }
    if (args.length === 1) {
      const found = await messageArgument(session, args[0])
      if (found !== null) await session.send(ok(`${found.n} ${found.message.size}`))
      return
    }
    const maildrop = openMaildrop(session)
    const { count, size } = maildrop.totals()
    const lines: string[] = []
    maildrop.messages.forEach((message, index) => {
      if (!message.isDeleted) lines.push(`${index + 1} ${message.size}`)
    })
    await session.send(multiline(`${count} messages (${size} octets)`, lines))
  },
}
