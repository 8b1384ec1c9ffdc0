import { ParseError } from '../../proto/index.ts'
import { type ImapCommand, type ImapCommandEntry, SELECTED } from '../command.ts'
import { fetch } from '../fetch.ts'
import type { ImapSession } from '../session.ts'
import { copyOrMove } from './copy.ts'
import { runExpunge } from './expunge.ts'
import { runSearch } from './search.ts'
import { runSort, runThread } from './sort.ts'
import { runStore } from './store.ts'

type UidHandler = (session: ImapSession, command: ImapCommand) => Promise<void>

/** The commands UID prefixes (RFC 9051 §6.4.9, RFC 4315 UID EXPUNGE, RFC 6851 UID MOVE). */
const UID_COMMANDS = new Map<string, UidHandler>([
  ['FETCH', (session, command) => fetch(session, command, true)],
  ['STORE', (session, command) => runStore(session, command, true)],
  ['COPY', (session, command) => copyOrMove(session, command, true, false)],
  ['MOVE', (session, command) => copyOrMove(session, command, true, true)],
  ['EXPUNGE', (session, command) => runExpunge(session, command, true)],
  ['SEARCH', (session, command) => runSearch(session, command, true)],
  ['SORT', (session, command) => runSort(session, command, true)],
  ['THREAD', (session, command) => runThread(session, command, true)],
])

/** UID command arguments: the command named with UIDs in place of sequence numbers. */
export const uid: ImapCommandEntry = {
  states: SELECTED,
  async handle(session, command) {
    command.reader.space()
    const name = command.reader.keyword()
    const handler = UID_COMMANDS.get(name)
    if (handler === undefined) throw new ParseError(`UID ${name} is not a command`)
    // The UID forms may see EXPUNGE responses (RFC 9051 §7.5.1).
    session.currentCommand = `UID ${name}`
    await handler(session, { ...command, name: `UID ${name}` })
  },
}
