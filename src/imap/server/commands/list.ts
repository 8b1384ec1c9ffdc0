import { NotFoundError } from '../../../store/index.ts'
import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'
import { formatListEntry, isRootRequest, listEntries, readListRequest } from '../list.ts'
import { enableCondstoreFor, statusResponse } from './status.ts'

/**
 * LIST (RFC 9051 §6.3.9) with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and SPECIAL-USE
 * (RFC 6154); which names and attributes are listed is list.ts's. With RETURN (STATUS …) each
 * mailbox's STATUS response follows its LIST response; names with no mailbox get none (RFC 5819
 * §2).
 */
export const list: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    const request = readListRequest(reader, session.utf8)
    if (request.returnStatus !== null) enableCondstoreFor(session, request.returnStatus)
    const account = session.account
    if (account === null) throw new Error('LIST without an account')
    const { store } = session.deps
    const isRoot = isRootRequest(request)
    const needsSubscriptions = !isRoot && (request.selectSubscribed || request.returnSubscribed)
    const [mailboxes, subscriptions] = await Promise.all([
      isRoot ? [] : store.listMailboxes(account.id),
      needsSubscriptions ? store.listSubscriptions(account.id) : [],
    ])
    for (const entry of listEntries(request, mailboxes, subscriptions)) {
      await session.untagged(formatListEntry('LIST', entry, session.utf8))
      if (request.returnStatus === null || entry.mailbox === null) continue
      try {
        await session.untagged(await statusResponse(session, entry.mailbox, request.returnStatus))
      } catch (error) {
        // Deleted by another session since it was listed: nothing to tell.
        if (!(error instanceof NotFoundError)) throw error
      }
    }
    await session.tagged(tag, 'OK', 'LIST completed')
  },
}
