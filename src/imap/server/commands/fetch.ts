import { type ImapCommandEntry, SELECTED } from '../command.ts'
import { fetch as runFetch } from '../fetch.ts'

/** FETCH (RFC 9051 §6.4.5); UID FETCH goes through uid.ts. */
export const fetch: ImapCommandEntry = {
  states: SELECTED,
  handle: (session, command) => runFetch(session, command, false),
}
