import { type CopyResult, InvalidNameError } from '../../../store/index.ts'
import { formatSequenceSet } from '../../proto/index.ts'
import { type ImapCommand, type ImapCommandEntry, SELECTED } from '../command.ts'
import { readSequenceSet } from '../fetch.ts'
import { answerStoreError, withStoreErrors } from '../mailbox-errors.ts'
import { readMailboxNameOrError } from '../mailbox-name.ts'
import type { ImapSession } from '../session.ts'
import { reportExpunged } from './expunge.ts'

/** COPY (RFC 9051 §6.4.7); UID COPY goes through uid.ts. */
export const copy: ImapCommandEntry = {
  states: SELECTED,
  handle: (session, command) => copyOrMove(session, command, false, false),
}

/** MOVE (RFC 6851, RFC 9051 §6.4.8); UID MOVE goes through uid.ts. */
export const move: ImapCommandEntry = {
  states: SELECTED,
  handle: (session, command) => copyOrMove(session, command, false, true),
}

/**
 * COPY/MOVE set mailbox. The store copies in one transaction (quota checked for all: RFC 9208
 * §4.1 nothing is copied when one would not fit) and shares the stored bytes. COPYUID (RFC 4315
 * §3) pairs source and new UIDs; MOVE sends it untagged before the expunges (RFC 6851 §4.3),
 * since its tagged OK comes after them.
 */
export async function copyOrMove(
  session: ImapSession,
  command: ImapCommand,
  isUid: boolean,
  isMove: boolean,
): Promise<void> {
  const { tag, reader } = command
  const selected = session.selected
  const account = session.account
  if (selected === null || account === null) throw new Error('COPY without a selected mailbox')
  reader.space()
  const set = readSequenceSet(command)
  reader.space()
  const name = readMailboxNameOrError(reader, session.utf8)
  reader.end()
  const verb = `${isUid ? 'UID ' : ''}${isMove ? 'MOVE' : 'COPY'}`
  if (name instanceof InvalidNameError) {
    // A name no mailbox can have: CREATE would not help, so no [TRYCREATE].
    await answerStoreError(session, tag, name)
    return
  }
  if (isMove && selected.isReadOnly) {
    await session.tagged(tag, 'NO', '[READ-ONLY] The mailbox is open read-only (EXAMINE)')
    return
  }
  const { store } = session.deps
  const destination = await store.getMailbox(account.id, name)
  if (destination === null) {
    // RFC 9051 §6.4.7: TRYCREATE tells the client that CREATE would make the COPY work.
    await session.tagged(tag, 'NO', '[TRYCREATE] No such mailbox')
    return
  }
  const targets = selected.resolve(set, isUid, session.savedSearch)
  if (targets.length === 0) {
    // RFC 9051 §6.4.9: a UID set that names no message is not an error.
    await session.tagged(tag, 'OK', `${verb} completed, no messages`)
    return
  }
  const uids = targets.map(([, uid]) => [uid, uid] as const)
  await withStoreErrors(session, tag, async () => {
    const result = isMove
      ? await store.moveMessages(selected.mailbox.id, uids, destination.id)
      : await store.copyMessages(selected.mailbox.id, uids, destination.id)
    const copyUid = copyUidCode(result)
    if (destination.id === selected.mailbox.id) {
      const last = result.uids.at(-1)
      if (last !== undefined) await selected.settle({ uid: last[1] })
    }
    if (!isMove) {
      await session.tagged(tag, 'OK', `${copyUid}${verb} completed`)
      return
    }
    if (copyUid !== '') await session.untagged(`OK ${copyUid}Moved`)
    await reportExpunged(
      session,
      result.uids.map(([source]) => source),
    )
    await session.tagged(tag, 'OK', `${verb} completed`)
  })
}

/** "[COPYUID uidvalidity source-uids dest-uids] " (RFC 4315 §3), or "" when nothing was copied. */
function copyUidCode(result: CopyResult): string {
  if (result.uids.length === 0) return ''
  const from = formatSequenceSet(result.uids.map(([source]) => [source, source] as const))
  const to = formatSequenceSet(result.uids.map(([, target]) => [target, target] as const))
  return `[COPYUID ${result.uidValidity} ${from} ${to}] `
}
