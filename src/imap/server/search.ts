import type { MessageRecord } from '../../store/index.ts'
import type { SearchRequest } from '../proto/index.ts'
import { evaluateSearch, type SearchCandidate, textQueries, walk } from './search-eval.ts'
import type { ImapSession } from './session.ts'

/**
 * The messages of the selected mailbox that match a SEARCH (or SORT/THREAD) key, in sequence
 * order. Flags, UIDs and MODSEQs come from the session's view; dates and sizes from one store
 * query, sent dates from the stored metadata, and text from the store's index, one query per
 * distinct text criterion, so the evaluation itself is in memory.
 */
export async function matchingMessages(
  session: ImapSession,
  request: SearchRequest,
): Promise<SearchCandidate[]> {
  const selected = session.selected
  if (selected === null) throw new Error('SEARCH without a selected mailbox')
  const { store } = session.deps
  let needsRecords = false
  let needsSentDates = false
  for (const node of walk(request.key)) {
    if (node.kind === 'modseq') session.enabled.add('CONDSTORE') // RFC 7162 §3.1.5
    if (node.kind === 'size' || node.kind === 'older' || node.kind === 'younger')
      needsRecords = true
    if (node.kind === 'date') {
      needsRecords = true
      if (node.field === 'sent') needsSentDates = true
    }
  }
  const uids = selected.uids
  const all = [[1, 0xffff_ffff] as const]
  const records = new Map<number, MessageRecord>()
  if (needsRecords && uids.length > 0) {
    for (const record of await store.getMessages(selected.mailbox.id, all)) {
      records.set(record.uid, record)
    }
  }
  const sentDates = new Map<number, Date | null>()
  if (needsSentDates) {
    for (const [uid, record] of records) {
      sentDates.set(uid, (await store.getMetadata(record.blobId)).sentDate)
    }
  }
  const hits = new Map<string, ReadonlySet<number>>()
  for (const query of textQueries(request.key)) {
    const found = uids.length === 0 ? [] : await store.searchText(selected.mailbox.id, [query], all)
    hits.set(JSON.stringify([query.field, query.value]), new Set(found))
  }
  const candidates: SearchCandidate[] = []
  const epoch = new Date(0)
  for (const [index, uid] of uids.entries()) {
    const summary = selected.summary(uid)
    if (summary === undefined) continue
    const record = records.get(uid)
    candidates.push({
      seq: index + 1,
      uid,
      modseq: summary.modseq,
      flags: summary.flags,
      isRecent: !session.isRev2 && selected.isRecent(uid),
      internalDate: record?.internalDate ?? epoch,
      sentDate: sentDates.get(uid) ?? null,
      size: record?.size ?? 0,
    })
  }
  return evaluateSearch(request.key, candidates, {
    maxSeq: uids.length,
    maxUid: selected.maxUid,
    savedUids: session.savedSearch,
    textHits: (query) => hits.get(JSON.stringify([query.field, query.value])) ?? new Set(),
    now: new Date(),
  })
}
