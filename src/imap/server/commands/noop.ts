import { ANY_STATE, type ImapCommandEntry } from '../command.ts'

/** NOOP (RFC 9051 §6.1.2). Once mailboxes can be selected, pending updates go out here. */
export const noop: ImapCommandEntry = {
  states: ANY_STATE,
  async handle(session, { tag, reader }) {
    reader.end()
    await session.tagged(tag, 'OK', 'NOOP completed')
  },
}
