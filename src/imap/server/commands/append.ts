import { InvalidNameError, type NewMessage } from '../../../store/index.ts'
import { type CommandReader, formatSequenceSet, ParseError } from '../../proto/index.ts'
import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'
import { readFlagList } from '../flags.ts'
import { parseInternalDate } from '../internal-date.ts'
import { answerStoreError, withStoreErrors } from '../mailbox-errors.ts'
import { readMailboxNameOrError } from '../mailbox-name.ts'

interface AppendMessage {
  bytes: Buffer
  flags: string[]
  internalDate: Date | undefined
}

/**
 * APPEND mailbox [flags] [date-time] message, repeated for MULTIAPPEND (RFC 9051 §6.3.12,
 * RFC 3502). The messages are stored in one transaction, all or none (RFC 3502 §6), and the
 * UIDs come back in APPENDUID (RFC 4315 §3). A missing mailbox is [TRYCREATE]; going over the
 * quota, [OVERQUOTA] (RFC 9208 §4.1.1), checked for the whole command before anything is stored.
 * Message literals were bounded by APPENDLIMIT before they were read (session.ts).
 */
export const append: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    const account = session.account
    if (account === null) throw new Error('APPEND without an account')
    reader.space()
    const name = readMailboxNameOrError(reader, session.utf8)
    const messages: AppendMessage[] = []
    do {
      reader.space()
      messages.push(readAppendMessage(reader))
    } while (!reader.isAtEnd)
    reader.end()
    if (name instanceof InvalidNameError) {
      // A name no mailbox can have: CREATE would not help, so no [TRYCREATE].
      await answerStoreError(session, tag, name)
      return
    }
    const { store } = session.deps
    for (const message of messages) {
      if (message.bytes.length === 0) {
        await session.tagged(tag, 'NO', 'An empty message cannot be appended')
        return
      }
      if (message.bytes.length > session.deps.config.maxMessageSize) {
        // RFC 7889 §4: a message over APPENDLIMIT is refused with TOOBIG.
        await session.tagged(tag, 'NO', '[TOOBIG] Message larger than APPENDLIMIT')
        return
      }
    }
    const mailbox = await store.getMailbox(account.id, name)
    if (mailbox === null) {
      await session.tagged(tag, 'NO', '[TRYCREATE] No such mailbox')
      return
    }
    const usage = await store.getQuotaUsage(account.id)
    const octets = messages.reduce((sum, message) => sum + message.bytes.length, 0)
    const { storage, messages: count } = usage
    if (
      (storage.limit !== null && storage.used + octets > storage.limit) ||
      (count.limit !== null && count.used + messages.length > count.limit)
    ) {
      await session.tagged(tag, 'NO', '[OVERQUOTA] Quota exceeded')
      return
    }
    await withStoreErrors(session, tag, async () => {
      const result = await store.acceptMessage({
        deliveries: messages.map((message) => {
          const newMessage: NewMessage = { bytes: message.bytes }
          if (message.internalDate !== undefined) newMessage.internalDate = message.internalDate
          return { message: newMessage, targets: [{ mailboxId: mailbox.id, flags: message.flags }] }
        }),
        queue: null,
      })
      const uids: number[] = []
      let uidValidity = mailbox.uidValidity
      for (const [delivered] of result.deliveries) {
        if (delivered?.status !== 'stored') {
          // Another session filled the quota between the check and the store.
          session.log.warn({ mailbox: name }, 'APPEND over quota after the check, partly stored')
          await session.tagged(tag, 'NO', '[OVERQUOTA] Quota exceeded')
          return
        }
        uids.push(delivered.uid)
        uidValidity = delivered.uidValidity
      }
      const selected = session.selected
      const last = uids.at(-1)
      if (selected !== null && selected.mailbox.id === mailbox.id && last !== undefined) {
        await selected.settle({ uid: last }) // its EXISTS goes out with this command
      }
      const set = formatSequenceSet(uids.map((uid) => [uid, uid] as const))
      await session.tagged(tag, 'OK', `[APPENDUID ${uidValidity} ${set}] APPEND completed`)
    })
  },
}

/**
 * append-opts SP append-data (RFC 9051 §9, RFC 3502 §6): [flag-list SP] [date-time SP] then a
 * literal, a literal8 (RFC 3516), or RFC 6855 §4's "UTF8 (" literal8 ")".
 */
function readAppendMessage(reader: CommandReader): AppendMessage {
  let flags: string[] = []
  let internalDate: Date | undefined
  if (reader.peek() === 0x28) {
    flags = readFlagList(reader)
    reader.space()
  }
  if (reader.peek() === 0x22) {
    internalDate = parseInternalDate(reader.string().toString('latin1'))
    reader.space()
  }
  if (reader.isAtLiteral()) return { bytes: reader.literalData().data, flags, internalDate }
  if (reader.keyword() !== 'UTF8') throw new ParseError('expected the message as a literal')
  reader.space()
  reader.openList()
  const bytes = reader.literalData().data
  reader.closeList()
  return { bytes, flags, internalDate }
}
