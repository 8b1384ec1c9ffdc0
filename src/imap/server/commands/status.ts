import type { Mailbox } from '../../../store/index.ts'
import { type CommandReader, formatString, ParseError } from '../../proto/index.ts'
import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'
import { mailboxNamed, withStoreErrors } from '../mailbox-errors.ts'
import { decodeWireName, wireName } from '../mailbox-name.ts'
import type { ImapSession } from '../session.ts'

/**
 * The STATUS data items (RFC 9051 §6.3.11) this server answers: RECENT from IMAP4rev1 (RFC 3501
 * §6.3.10), HIGHESTMODSEQ from RFC 7162 §3.1.6, SIZE also from RFC 8438 (STATUS=SIZE),
 * APPENDLIMIT from RFC 7889 §4 and DELETED-STORAGE from RFC 9208 (QUOTA=RES-STORAGE).
 */
export const STATUS_ITEMS = [
  'MESSAGES',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'HIGHESTMODSEQ',
  'RECENT',
  'APPENDLIMIT',
  'DELETED-STORAGE',
] as const
export type StatusItem = (typeof STATUS_ITEMS)[number]

const KNOWN_ITEMS: ReadonlySet<string> = new Set(STATUS_ITEMS)

/**
 * "(" status-att *(SP status-att) ")": at least one item, each once (a repeated item is answered
 * once), in the order given.
 */
export function readStatusItems(reader: CommandReader): StatusItem[] {
  const items = reader.list((item) => {
    const name = item.keyword()
    if (!KNOWN_ITEMS.has(name)) throw new ParseError(`unknown STATUS item ${name}`)
    return name as StatusItem
  })
  if (items.length === 0) throw new ParseError('STATUS needs at least one item')
  return [...new Set(items)]
}

/**
 * Asking for HIGHESTMODSEQ turns CONDSTORE on (RFC 7162 §3.1: a CONDSTORE enabling command), in
 * STATUS and as a LIST return option (RFC 5819) alike.
 */
export function enableCondstoreFor(session: ImapSession, items: readonly StatusItem[]): void {
  if (items.includes('HIGHESTMODSEQ')) session.enabled.add('CONDSTORE')
}

/** "STATUS name (item value …)", as it follows "* " (RFC 9051 §7.3.2). */
export async function statusResponse(
  session: ImapSession,
  mailbox: Mailbox,
  items: readonly StatusItem[],
): Promise<string> {
  const { store } = session.deps
  const status = await store.getMailboxStatus(mailbox.id)
  const selected = session.selected
  let deletedStorage = 0
  if (items.includes('DELETED-STORAGE') && status.deleted > 0) {
    // The octets an EXPUNGE would free; only asked for now and then, so read when asked.
    for (const message of await store.getMessages(mailbox.id, [[1, status.uidNext]])) {
      if (message.flags.includes('\\Deleted')) deletedStorage += message.size
    }
  }
  const values = items.map((item) => {
    switch (item) {
      case 'MESSAGES':
        return `MESSAGES ${status.messages}`
      case 'UIDNEXT':
        return `UIDNEXT ${status.uidNext}`
      case 'UIDVALIDITY':
        return `UIDVALIDITY ${status.uidValidity}`
      case 'UNSEEN':
        return `UNSEEN ${status.unseen}`
      case 'DELETED':
        return `DELETED ${status.deleted}`
      case 'SIZE':
        return `SIZE ${status.size}`
      case 'HIGHESTMODSEQ':
        return `HIGHESTMODSEQ ${status.highestModseq}`
      case 'RECENT': {
        // \Recent belongs to the session that selected the mailbox first (RFC 3501 §2.3.2); this
        // one knows only the count of the mailbox it has selected.
        const isSelected = selected !== null && selected.mailbox.id === mailbox.id
        return `RECENT ${isSelected ? selected.recentCount : 0}`
      }
      case 'APPENDLIMIT':
        // RFC 7889 §4: the same limit for every mailbox.
        return `APPENDLIMIT ${session.deps.config.maxMessageSize}`
      case 'DELETED-STORAGE':
        return `DELETED-STORAGE ${deletedStorage}`
    }
    throw new Error(`unhandled STATUS item ${item satisfies never}`)
  })
  return `STATUS ${formatString(wireName(mailbox.name, session.utf8))} (${values.join(' ')})`
}

/**
 * STATUS mailbox (items) (RFC 9051 §6.3.11). The selected mailbox may be asked too: the counts
 * are the store's, which may be ahead of what the session has announced (§6.3.11 advises
 * clients against it, not servers).
 */
export const status: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.space()
    const octets = reader.astring()
    reader.space()
    const items = readStatusItems(reader)
    reader.end()
    enableCondstoreFor(session, items)
    // The store finds no mailbox for a name it could not hold, so no check is needed here.
    const name = decodeWireName(octets, session.utf8)
    const mailbox = await mailboxNamed(session, tag, name)
    if (mailbox === null) return
    // A mailbox deleted by another session in the meantime is answered NONEXISTENT all the same.
    await withStoreErrors(session, tag, async () => {
      await session.untagged(await statusResponse(session, mailbox, items))
      await session.tagged(tag, 'OK', 'STATUS completed')
    })
  },
}
