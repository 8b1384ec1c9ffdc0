import type { UidRanges } from '../../../store/index.ts'
import { formatSequenceSet, resolveSequenceSet } from '../../proto/index.ts'
import { type ImapCommand, type ImapCommandEntry, SELECTED } from '../command.ts'
import { readSequenceSet } from '../fetch.ts'
import type { ImapSession } from '../session.ts'

/** EXPUNGE (RFC 9051 §6.4.3). */
export const expunge: ImapCommandEntry = {
  states: SELECTED,
  handle: (session, command) => runExpunge(session, command, false),
}

/**
 * EXPUNGE, or UID EXPUNGE set (RFC 4315 §2.1, RFC 9051 §6.4.9): removes the \Deleted messages
 * (of the set) and reports each, as "n EXPUNGE" in its turn or, under QRESYNC, one VANISHED.
 */
export async function runExpunge(
  session: ImapSession,
  command: ImapCommand,
  isUid: boolean,
): Promise<void> {
  const { tag, reader } = command
  const selected = session.selected
  if (selected === null) throw new Error('EXPUNGE without a selected mailbox')
  let uids: UidRanges | undefined
  if (isUid) {
    reader.space()
    const set = readSequenceSet(command)
    uids =
      set.kind === 'saved'
        ? session.savedSearch.map((uid) => [uid, uid] as const)
        : resolveSequenceSet(set, selected.maxUid)
  }
  reader.end()
  if (selected.isReadOnly) {
    await session.tagged(tag, 'NO', '[READ-ONLY] The mailbox is open read-only (EXAMINE)')
    return
  }
  if (uids !== undefined && uids.length === 0) {
    await session.tagged(tag, 'OK', 'UID EXPUNGE completed')
    return
  }
  const removed = await session.deps.store.expunge(selected.mailbox.id, uids)
  await reportExpunged(session, removed)
  await session.tagged(tag, 'OK', `${isUid ? 'UID EXPUNGE' : 'EXPUNGE'} completed`)
}

/** Removes UIDs this session expunged (or moved away) and tells the client. */
export async function reportExpunged(session: ImapSession, uids: readonly number[]): Promise<void> {
  const selected = session.selected
  if (selected === null) return
  if (session.enabled.has('QRESYNC')) {
    const known = uids.filter((uid) => selected.seqOf(uid) !== 0)
    selected.removeOwn(known)
    if (known.length > 0) {
      const ranges = known.map((uid) => [uid, uid] as const)
      await session.untagged(`VANISHED ${formatSequenceSet(ranges)}`)
    }
    return
  }
  for (const seq of selected.removeOwn(uids)) await session.untagged(`${seq} EXPUNGE`)
}
