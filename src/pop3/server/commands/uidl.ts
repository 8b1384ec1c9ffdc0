import { multiline, ok } from '../../proto/index.ts'
import { type Pop3CommandEntry, TRANSACTION } from '../command.ts'
import { messageArgument, openMaildrop } from './maildrop-of.ts'

/** UIDL (RFC 1939 §7): "n unique-id" for one message, or for every one not marked deleted. */
export const uidl: Pop3CommandEntry = {
  states: TRANSACTION,
  async handle(session, { args }) {
    if (args.length > 1) {
      await session.fail('Usage: UIDL [message]')
      return
    }
    if (args.length === 1) {
      const found = await messageArgument(session, args[0])
      if (found !== null) await session.send(ok(`${found.n} ${found.message.uniqueId}`))
      return
    }
    const lines: string[] = []
    openMaildrop(session).messages.forEach((message, index) => {
      if (!message.isDeleted) lines.push(`${index + 1} ${message.uniqueId}`)
    })
    await session.send(multiline('Unique-ID listing follows', lines))
  },
}
