import type { CommandReader } from '../proto/index.ts'
import type { ImapSession, ImapState } from './session.ts'

/** One command as dispatched: its tag, its name in upper case, and the reader past the name. */
export interface ImapCommand {
  tag: string
  name: string
  /** Positioned right after the command name: arguments start with a space. */
  reader: CommandReader
}

/**
 * One command name: the states it is valid in (RFC 9051 §6: a command in any other state is a
 * protocol error, answered BAD) and its handler. A handler throws ParseError for bad syntax (the
 * session answers BAD) and answers everything else itself.
 */
export interface ImapCommandEntry {
  states: readonly ImapState[]
  handle(session: ImapSession, command: ImapCommand): Promise<void>
}

/** RFC 9051 §6.1: CAPABILITY, NOOP, LOGOUT (and RFC 2971 ID) are valid in every state. */
export const ANY_STATE = ['not-authenticated', 'authenticated', 'selected'] as const
/** RFC 9051 §6.2: STARTTLS, AUTHENTICATE, LOGIN. */
export const NOT_AUTHENTICATED = ['not-authenticated'] as const
/** RFC 9051 §6.3: valid once logged in, whether or not a mailbox is selected. */
export const AUTHENTICATED = ['authenticated', 'selected'] as const
/** RFC 9051 §6.4: valid only with a mailbox selected. */
export const SELECTED = ['selected'] as const
