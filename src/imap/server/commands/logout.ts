import { ANY_STATE, type ImapCommandEntry } from '../command.ts'

/** LOGOUT (RFC 9051 §6.1.3): the untagged BYE, then the tagged OK, then the server closes. */
export const logout: ImapCommandEntry = {
  states: ANY_STATE,
  async handle(session, { tag, reader }) {
    reader.end()
    session.state = 'logout'
    session.isClosing = true
    await session.untagged(`BYE ${session.deps.hostname} Postern IMAP logging out`)
    await session.tagged(tag, 'OK', 'LOGOUT completed')
  },
}
