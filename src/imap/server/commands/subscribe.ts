import { checkMailboxName } from '../../../store/index.ts'
import { AUTHENTICATED, type ImapCommand, type ImapCommandEntry } from '../command.ts'
import { withStoreErrors } from '../mailbox-errors.ts'
import { decodeWireName } from '../mailbox-name.ts'
import type { ImapSession } from '../session.ts'

/**
 * SUBSCRIBE (RFC 9051 §6.3.7): any name the store could hold may be subscribed, whether or not a
 * mailbox has it (the section lets a server check; Dovecot does not, and LIST (SUBSCRIBED) shows
 * such names as \NonExistent). Subscribing twice is no error.
 */
export const subscribe: ImapCommandEntry = {
  states: AUTHENTICATED,
  handle: (session, command) => setSubscribed(session, command, true),
}

/** UNSUBSCRIBE (RFC 9051 §6.3.8): a name that was not subscribed is no error either. */
export const unsubscribe: ImapCommandEntry = {
  states: AUTHENTICATED,
  handle: (session, command) => setSubscribed(session, command, false),
}

async function setSubscribed(
  session: ImapSession,
  { tag, name: verb, reader }: ImapCommand,
  isSubscribed: boolean,
): Promise<void> {
  reader.space()
  const octets = reader.astring()
  reader.end()
  const account = session.account
  if (account === null) throw new Error(`${verb} without an account`)
  // The store's ConflictError here is its limit on subscriptions.
  await withStoreErrors(
    session,
    tag,
    async () => {
      const name = checkMailboxName(decodeWireName(octets, session.utf8))
      await session.deps.store.setSubscribed(account.id, name, isSubscribed)
      await session.tagged(tag, 'OK', `${verb} completed`)
    },
    { conflict: 'LIMIT' },
  )
}
