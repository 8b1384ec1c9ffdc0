import { multiline } from '../../proto/index.ts'
import { capabilities } from '../capabilities.ts'
import { ANY_STATE, type Pop3CommandEntry } from '../command.ts'

/** CAPA (RFC 2449 §5): valid in every state, lists what this session can use now. */
export const capa: Pop3CommandEntry = {
  states: ANY_STATE,
  async handle(session) {
    await session.send(multiline('Capability list follows', capabilities(session)))
  },
}
