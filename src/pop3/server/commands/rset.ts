import { ok } from '../../proto/index.ts'
import { type Pop3CommandEntry, TRANSACTION } from '../command.ts'
import { openMaildrop } from './maildrop-of.ts'

/** RSET (RFC 1939 §5): unmarks every message marked deleted. */
export const rset: Pop3CommandEntry = {
  states: TRANSACTION,
  async handle(session) {
    const maildrop = openMaildrop(session)
    maildrop.unmarkAll()
    const { count, size } = maildrop.totals()
    await session.send(ok(`Maildrop has ${count} messages (${size} octets)`))
  },
}
