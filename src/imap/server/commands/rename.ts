import { ConflictError, checkMailboxName } from '../../../store/index.ts'
import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'
import { answerStoreError, mailboxNamed } from '../mailbox-errors.ts'
import { decodeWireName, HIERARCHY_DELIMITER } from '../mailbox-name.ts'

/**
 * RENAME existing new (RFC 9051 §6.3.6): the mailbox and its children take the new name and keep
 * their UIDVALIDITY; missing parents of the new name are created. Renaming INBOX moves its
 * messages to a new mailbox of that name and leaves INBOX, empty, in place; the store does both.
 * Subscriptions are names and are not renamed (Dovecot does the same).
 */
export const rename: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.space()
    const from = reader.astring()
    reader.space()
    const to = reader.astring()
    reader.end()
    const account = session.account
    if (account === null) throw new Error('RENAME without an account')
    const { store } = session.deps
    const mailbox = await mailboxNamed(session, tag, decodeWireName(from, session.utf8))
    if (mailbox === null) return
    let newName = ''
    try {
      newName = checkMailboxName(decodeWireName(to, session.utf8))
      await store.renameMailbox(mailbox.id, newName)
    } catch (error) {
      if (error instanceof ConflictError) {
        // The new name is taken, lies inside the mailbox itself, or is one mailbox too many.
        let text = '[LIMIT] Too many mailboxes'
        if ((await store.getMailbox(account.id, newName)) !== null) {
          text = '[ALREADYEXISTS] Mailbox already exists'
        } else if (newName.startsWith(mailbox.name + HIERARCHY_DELIMITER)) {
          text = '[CANNOT] A mailbox cannot be moved inside itself'
        }
        await session.tagged(tag, 'NO', text)
        return
      }
      if (await answerStoreError(session, tag, error)) return
      throw error
    }
    await session.tagged(tag, 'OK', 'RENAME completed')
  },
}
