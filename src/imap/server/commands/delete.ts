import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'
import { mailboxNamed, withStoreErrors } from '../mailbox-errors.ts'
import { decodeWireName } from '../mailbox-name.ts'

/**
 * DELETE (RFC 9051 §6.3.5). INBOX cannot be deleted; nor can a mailbox with children: §6.3.5
 * would let it lose its messages and stay as a \Noselect level, but this store keeps no such
 * levels, so the client deletes the children first (NO [HASCHILDREN], §7.1). Subscriptions stay
 * (§6.3.7). The selected mailbox may be deleted: the session then goes back to the
 * authenticated state, and a client that can tell closes from the rest is told [CLOSED], as
 * SELECT does.
 */
export const deleteCommand: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.space()
    const octets = reader.astring()
    reader.end()
    const { store } = session.deps
    const mailbox = await mailboxNamed(session, tag, decodeWireName(octets, session.utf8))
    if (mailbox === null) return
    if (mailbox.name === 'INBOX') {
      await session.tagged(tag, 'NO', '[CANNOT] INBOX cannot be deleted')
      return
    }
    await withStoreErrors(
      session,
      tag,
      async () => {
        await store.deleteMailbox(mailbox.id)
        if (session.selected?.mailbox.id === mailbox.id) {
          session.deselect()
          if (session.isRev2 || session.enabled.has('QRESYNC')) {
            await session.untagged('OK [CLOSED] The selected mailbox was deleted')
          }
        }
        await session.tagged(tag, 'OK', 'DELETE completed')
      },
      { conflict: 'HASCHILDREN' },
    )
  },
}
