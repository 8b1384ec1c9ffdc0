import { type ImapCommandEntry, SELECTED } from '../command.ts'

/**
 * CLOSE (RFC 9051 §6.4.1): messages flagged \Deleted are removed, silently (no EXPUNGE
 * responses), unless the mailbox was opened read-only; then back to the authenticated state.
 */
export const close: ImapCommandEntry = {
  states: SELECTED,
  async handle(session, { tag, reader }) {
    reader.end()
    const selected = session.selected
    session.deselect()
    if (selected !== null && !selected.isReadOnly) {
      await session.deps.store.expunge(selected.mailbox.id)
    }
    await session.tagged(tag, 'OK', 'CLOSE completed')
  },
}

/** UNSELECT (RFC 3691, RFC 9051 §6.4.2): back to the authenticated state, removing nothing. */
export const unselect: ImapCommandEntry = {
  states: SELECTED,
  async handle(session, { tag, reader }) {
    reader.end()
    session.deselect()
    await session.tagged(tag, 'OK', 'UNSELECT completed')
  },
}

/** CHECK (RFC 3501 §6.4.1, gone from IMAP4rev2): every change is durable at once; a NOOP. */
export const check: ImapCommandEntry = {
  states: SELECTED,
  async handle(session, { tag, reader }) {
    reader.end()
    await session.tagged(tag, 'OK', 'CHECK completed')
  },
}
