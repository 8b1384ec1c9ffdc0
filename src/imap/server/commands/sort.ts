import { firstField, parseMessage, unfoldedFieldValue } from '../../../mime/index.ts'
import {
  BadCharsetError,
  formatSortResponse,
  formatThreadResponse,
  parseSearchRequest,
  parseSortCriteria,
  parseThreadAlgorithm,
} from '../../proto/index.ts'
import { type ImapCommand, type ImapCommandEntry, SELECTED } from '../command.ts'
import { readHeader } from '../fetch.ts'
import { matchingMessages } from '../search.ts'
import type { ImapSession } from '../session.ts'
import { type SortInput, sortMessages } from '../sort.ts'
import { type ThreadInput, threadOrderedSubject, threadReferences } from '../thread.ts'
import { BADCHARSET } from './search.ts'

/** SORT (RFC 5256 §3); UID SORT goes through uid.ts. */
export const sort: ImapCommandEntry = {
  states: SELECTED,
  handle: (session, command) => runSort(session, command, false),
}

/** THREAD (RFC 5256 §3); UID THREAD goes through uid.ts. */
export const thread: ImapCommandEntry = {
  states: SELECTED,
  handle: (session, command) => runThread(session, command, false),
}

/** SORT (criteria) charset keys: the matches in the criteria's order (RFC 5256 §3). */
export async function runSort(session: ImapSession, command: ImapCommand, isUid: boolean) {
  const { tag, reader } = command
  reader.space()
  const criteria = parseSortCriteria(reader)
  const inputs = await sortInputs(session, command, false)
  if (inputs === null) return
  const sorted = sortMessages(inputs, criteria)
  await session.untagged(formatSortResponse(sorted.map((input) => (isUid ? input.uid : input.seq))))
  await session.tagged(tag, 'OK', `${isUid ? 'UID SORT' : 'SORT'} completed`)
}

/** THREAD algorithm charset keys (RFC 5256 §3): ORDEREDSUBJECT or REFERENCES threads. */
export async function runThread(session: ImapSession, command: ImapCommand, isUid: boolean) {
  const { tag, reader } = command
  reader.space()
  const algorithm = parseThreadAlgorithm(reader)
  const inputs = await sortInputs(session, command, algorithm === 'REFERENCES')
  if (inputs === null) return
  const numbering = isUid ? 'uid' : 'seq'
  const threads =
    algorithm === 'REFERENCES'
      ? threadReferences(inputs, numbering)
      : threadOrderedSubject(inputs, numbering)
  await session.untagged(formatThreadResponse(threads))
  await session.tagged(tag, 'OK', `${isUid ? 'UID THREAD' : 'THREAD'} completed`)
}

/**
 * The charset and search keys that SORT and THREAD share, and what sorting needs of each match:
 * its envelope and sent date from the stored metadata, and for REFERENCES its References field
 * from the header. Null once a BADCHARSET has been answered.
 */
async function sortInputs(
  session: ImapSession,
  command: ImapCommand,
  withReferences: boolean,
): Promise<ThreadInput[] | null> {
  let request: ReturnType<typeof parseSearchRequest>
  try {
    request = parseSearchRequest(command.reader, { utf8Enabled: session.utf8, charsetFirst: true })
  } catch (error) {
    if (!(error instanceof BadCharsetError)) throw error
    await session.tagged(command.tag, 'NO', BADCHARSET.slice(3))
    return null
  }
  const matches = await matchingMessages(session, request)
  const selected = session.selected
  if (selected === null || matches.length === 0) return []
  const { store } = session.deps
  const records = new Map(
    (
      await store.getMessages(
        selected.mailbox.id,
        matches.map((m) => [m.uid, m.uid] as const),
      )
    ).map((record) => [record.uid, record]),
  )
  const inputs: ThreadInput[] = []
  for (const match of matches) {
    const record = records.get(match.uid)
    if (record === undefined) continue // expunged meanwhile
    const metadata = await store.getMetadata(record.blobId)
    const input: SortInput = {
      seq: match.seq,
      uid: match.uid,
      internalDate: record.internalDate,
      sentDate: metadata.sentDate,
      size: record.size,
      envelope: metadata.envelope,
    }
    let references: string | null = null
    if (withReferences) {
      const header = await readHeader(store, record.blobId, record.size)
      const parsed = parseMessage(header)
      const field = firstField(parsed.root.header.fields, 'references')
      references = field === undefined ? null : unfoldedFieldValue(header, field)
    }
    inputs.push({ ...input, references })
  }
  return inputs
}
