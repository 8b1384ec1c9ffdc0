import type { FlagAction } from '../../../store/index.ts'
import { formatSequenceSet, ParseError } from '../../proto/index.ts'
import { type ImapCommand, type ImapCommandEntry, SELECTED } from '../command.ts'
import { readSequenceSet } from '../fetch.ts'
import { readFlag, readFlagList } from '../flags.ts'
import { withStoreErrors } from '../mailbox-errors.ts'
import type { ImapSession } from '../session.ts'

/** STORE (RFC 9051 §6.4.6); UID STORE goes through uid.ts. */
export const store: ImapCommandEntry = {
  states: SELECTED,
  handle: (session, command) => runStore(session, command, false),
}

/**
 * STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags (RFC 9051 §6.4.6, RFC 7162 §3.1.3).
 * Unless .SILENT, every message of the set is answered with its flags as they now are; with
 * CONDSTORE on, a .SILENT store still reports each changed message's new MODSEQ (RFC 7162
 * §3.1.3 example 3). Messages another session changed after UNCHANGEDSINCE are left alone and
 * listed in MODIFIED.
 */
export async function runStore(
  session: ImapSession,
  command: ImapCommand,
  isUid: boolean,
): Promise<void> {
  const { tag, reader } = command
  const selected = session.selected
  if (selected === null) throw new Error('STORE without a selected mailbox')
  reader.space()
  const set = readSequenceSet(command)
  reader.space()
  let unchangedSince: number | undefined
  if (reader.peek() === 0x28) {
    reader.openList()
    if (reader.keyword() !== 'UNCHANGEDSINCE') throw new ParseError('expected UNCHANGEDSINCE')
    reader.space()
    unchangedSince = reader.number64()
    reader.closeList()
    reader.space()
    session.enabled.add('CONDSTORE') // RFC 7162 §3.1: a CONDSTORE-enabling command
  }
  const operation = reader.atom().toUpperCase()
  const match = /^([+-]?)FLAGS(\.SILENT)?$/.exec(operation)
  if (match === null) throw new ParseError('expected FLAGS, +FLAGS or -FLAGS')
  const action: FlagAction = match[1] === '+' ? 'add' : match[1] === '-' ? 'remove' : 'replace'
  const isSilent = match[2] !== undefined
  reader.space()
  const flags = reader.peek() === 0x28 ? readFlagList(reader) : readFlags(reader)
  reader.end()
  if (selected.isReadOnly) {
    await session.tagged(tag, 'NO', '[READ-ONLY] The mailbox is open read-only (EXAMINE)')
    return
  }
  const targets = selected.resolve(set, isUid, session.savedSearch)
  await withStoreErrors(session, tag, async () => {
    const result =
      targets.length === 0
        ? { changed: [], modified: [] }
        : await session.deps.store.storeFlags(
            selected.mailbox.id,
            targets.map(([, uid]) => [uid, uid] as const),
            action,
            flags,
            unchangedSince === undefined ? {} : { unchangedSince },
          )
    selected.applyOwnFlags(result.changed)
    const changed = new Set(result.changed.map((message) => message.uid))
    const modified = new Set(result.modified)
    const options = { ...session.updateOptions(false), withUid: isUid }
    for (const [seq, uid] of targets) {
      const summary = selected.summary(uid)
      if (summary === undefined || modified.has(uid)) continue
      if (!isSilent) {
        await session.untagged(selected.flagsFetch(seq, summary, options))
      } else if (changed.has(uid) && (options.condstore || options.qresync)) {
        const uidItem = isUid || options.qresync ? `UID ${uid} ` : ''
        await session.untagged(`${seq} FETCH (${uidItem}MODSEQ (${summary.modseq}))`)
      }
    }
    const name = isUid ? 'UID STORE' : 'STORE'
    if (modified.size === 0) {
      await session.tagged(tag, 'OK', `${name} completed`)
      return
    }
    // RFC 7162 §3.1.3: MODIFIED lists sequence numbers for STORE, UIDs for UID STORE.
    const numbers = targets
      .filter(([, uid]) => modified.has(uid))
      .map(([seq, uid]) => (isUid ? uid : seq))
      .map((number) => [number, number] as const)
    await session.tagged(
      tag,
      'OK',
      `[MODIFIED ${formatSequenceSet(numbers)}] Conditional ${name} failed`,
    )
  })
}

/** flag *(SP flag): the list without parentheses that RFC 9051 §9 store-att-flags allows. */
function readFlags(reader: Parameters<typeof readFlag>[0]): string[] {
  const flags = [readFlag(reader)]
  while (reader.take(' ')) flags.push(readFlag(reader))
  return flags
}
