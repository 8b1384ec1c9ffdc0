import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'
import { formatListEntry, lsubEntries, readListMailbox } from '../list.ts'
import { decodeWireName } from '../mailbox-name.ts'

/**
 * LSUB reference pattern (RFC 3501 §6.3.9). IMAP4rev2 dropped it for LIST (SUBSCRIBED) (RFC 9051
 * Appendix E), but it stays available in both, as Dovecot keeps it: IMAP4rev1 clients use it.
 */
export const lsub: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.space()
    const reference = decodeWireName(reader.astring(), session.utf8).normalize('NFC')
    reader.space()
    const pattern = decodeWireName(readListMailbox(reader), session.utf8).normalize('NFC')
    reader.end()
    const account = session.account
    if (account === null) throw new Error('LSUB without an account')
    const { store } = session.deps
    const [mailboxes, subscriptions] = await Promise.all([
      store.listMailboxes(account.id),
      store.listSubscriptions(account.id),
    ])
    for (const entry of lsubEntries(reference, pattern, mailboxes, subscriptions)) {
      await session.untagged(formatListEntry('LSUB', entry, session.utf8))
    }
    await session.tagged(tag, 'OK', 'LSUB completed')
  },
}
