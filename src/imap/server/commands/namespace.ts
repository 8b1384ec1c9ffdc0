import { formatString } from '../../proto/index.ts'
import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'
import { HIERARCHY_DELIMITER } from '../mailbox-name.ts'

/**
 * NAMESPACE (RFC 2342, RFC 9051 §6.3.10): one personal namespace, the whole tree with no prefix;
 * no other users' mailboxes, no shared ones.
 */
export const namespace: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.end()
    await session.untagged(`NAMESPACE (("" ${formatString(HIERARCHY_DELIMITER)})) NIL NIL`)
    await session.tagged(tag, 'OK', 'NAMESPACE completed')
  },
}
