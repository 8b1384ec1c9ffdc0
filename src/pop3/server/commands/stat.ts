import { ok } from '../../proto/index.ts'
import { type Pop3CommandEntry, TRANSACTION } from '../command.ts'
import { openMaildrop } from './maildrop-of.ts'

/** STAT (RFC 1939 §5): messages not marked deleted, and their octets. */
export const stat: Pop3CommandEntry = {
  states: TRANSACTION,
  async handle(session) {
    const { count, size } = openMaildrop(session).totals()
    await session.send(ok(`${count} ${size}`))
  },
}
