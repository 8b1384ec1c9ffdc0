import { capabilityText } from '../capabilities.ts'
import { ANY_STATE, type ImapCommandEntry } from '../command.ts'

/** CAPABILITY (RFC 9051 §6.1.1): the untagged list for this state, then OK. */
export const capability: ImapCommandEntry = {
  states: ANY_STATE,
  async handle(session, { tag, reader }) {
    reader.end()
    await session.untagged(capabilityText(session))
    await session.tagged(tag, 'OK', 'CAPABILITY completed')
  },
}
