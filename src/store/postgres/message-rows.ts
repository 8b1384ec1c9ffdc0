import type pg from 'pg'
import {
  type AcceptPlan,
  type AcceptResult,
  applyFlags,
  checkFlags,
  type DeliveryResult,
  type FlagAction,
  flagList,
  type MailboxChanges,
  type MessageDescription,
  type MessageRecord,
  NotFoundError,
  normalizeRanges,
  type PlannedDelivery,
  QuotaExceededError,
  queryTrigrams,
  type StoreFlagsResult,
  shape,
  systemFlagBit,
  type TextQuery,
  textMatches,
  type UidRanges,
} from '../index.ts'
import { all, type Client, hasColumn, one, type Row, run, transaction } from './database.ts'
import { databaseNow, holdsLock } from './mailbox-locks.ts'
import { mailboxRow } from './mailbox-rows.ts'
import { insertQueueEntry, readQueueEntry } from './queue-rows.ts'

const DELETED = systemFlagBit('\\Deleted')

/** `ranges` as two arrays for `uid BETWEEN` over unnest($2, $3). */
function rangeArrays(ranges: UidRanges): [number[], number[]] {
  const normalized = normalizeRanges(ranges)
  return [normalized.map(([low]) => low), normalized.map(([, high]) => high)]
}

/** `column` lies in one of the ranges passed as $2 (lows) and $3 (highs): see rangeArrays. */
function inRanges(column: string): string {
  return `EXISTS (SELECT 1 FROM unnest($2::bigint[], $3::bigint[]) AS r (low, high)
    WHERE ${column} BETWEEN r.low AND r.high)`
}

/**
 * Locks, in one global order (accounts by id, then mailboxes by id), every row a change to these
 * mailboxes will update, so that concurrent writers on any node cannot deadlock on them.
 */
export async function lockMailboxes(
  client: Client,
  mailboxIds: readonly number[],
): Promise<Map<number, Row>> {
  await run(
    client,
    `SELECT 1 FROM accounts WHERE id IN (SELECT account_id FROM mailboxes WHERE id = ANY($1))
     ORDER BY id FOR UPDATE`,
    [mailboxIds],
  )
  const rows = await all(
    client,
    `SELECT id, account_id, uid_next, highest_modseq, uid_validity FROM mailboxes
     WHERE id = ANY($1) ORDER BY id FOR UPDATE`,
    [mailboxIds],
  )
  const byId = new Map(rows.map((row) => [Number(row.id), row]))
  for (const id of mailboxIds) {
    if (!byId.has(id)) throw new NotFoundError(`Mailbox ${id} does not exist`)
  }
  return byId
}

/** Takes the next MODSEQ of a locked mailbox. */
async function nextModseq(client: Client, mailboxId: number): Promise<number> {
  const row = await one<{ highest_modseq: number }>(
    client,
    'UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1 RETURNING highest_modseq',
    [mailboxId],
  )
  if (!row) throw new NotFoundError(`Mailbox ${mailboxId} does not exist`)
  return Number(row.highest_modseq)
}

async function quotaProblem(
  client: Client,
  accountId: number,
  size: number,
  count: number,
): Promise<'storage' | 'messages' | null> {
  const account = await one<Record<string, number | null>>(
    client,
    'SELECT quota_storage, quota_messages, storage_used, messages_used FROM accounts WHERE id = $1',
    [accountId],
  )
  if (!account) throw new NotFoundError(`Account ${accountId} does not exist`)
  const { quota_storage, quota_messages, storage_used, messages_used } = account
  if (quota_messages != null && Number(messages_used) + count > quota_messages) return 'messages'
  if (quota_storage != null && Number(storage_used) + size > quota_storage) return 'storage'
  return null
}

/** What acceptMessage stores: distinct contents by blob id, and which one each part uses. */
export interface AcceptContents {
  blobs: ReadonlyMap<string, Buffer>
  /** Per planned delivery, its blob id; null for a delivery with no target. */
  deliveryBlobs: ReadonlyArray<string | null>
  queueBlob: string | null
}

/**
 * One received message, one transaction: the bytes (once per content), their metadata, a
 * message row in every target that is not over quota, and the queue entry. Commit means all of
 * it; a crash before means none. Row locks follow the global order: accounts, mailboxes (both in
 * lockMailboxes), then blobs by blob id.
 */
export async function accept(
  pool: pg.Pool,
  plan: AcceptPlan,
  contents: AcceptContents,
  describe: (blobId: string, bytes: Buffer) => MessageDescription,
  now: number,
): Promise<AcceptResult> {
  const hasCrlfSize = await hasColumn(pool, 'blobs', 'crlf_size')
  return transaction(pool, async (client) => {
    const mailboxes =
      plan.mailboxIds.length === 0
        ? new Map<number, Row>()
        : await lockMailboxes(client, plan.mailboxIds)
    const blobRows = new Map<string, number>()
    const inLockOrder = [...contents.blobs].sort(([a], [b]) => (a < b ? -1 : 1))
    for (const [blobId, bytes] of inLockOrder) {
      blobRows.set(blobId, await storeBlob(client, blobId, bytes, describe, hasCrlfSize))
    }
    const deliveries: DeliveryResult[][] = []
    for (const [index, delivery] of plan.deliveries.entries()) {
      const blobRow = blobRows.get(contents.deliveryBlobs[index] ?? '')
      deliveries.push(
        blobRow === undefined
          ? []
          : await fileMessage(client, mailboxes, blobRow, delivery.bytes.length, delivery),
      )
    }
    const queueRow = blobRows.get(contents.queueBlob ?? '')
    if (!plan.queue || queueRow === undefined) return { deliveries, queued: null }
    const id = await insertQueueEntry(
      client,
      queueRow,
      plan.queue.bytes.length,
      plan.queue.entry,
      now,
    )
    return { deliveries, queued: await readQueueEntry(client, id) }
  })
}

/**
 * The blob row of these bytes, made with its bytes and metadata when missing. A row held FOR
 * UPDATE cannot be collected; one being collected is waited for, and then is gone, so it is
 * made again. `hasCrlfSize` (hasColumn) is false only before schema version 4, whose blobs have
 * no size as POP3 sends them.
 */
export async function storeBlob(
  client: Client,
  blobId: string,
  bytes: Buffer,
  describe: (blobId: string, bytes: Buffer) => MessageDescription,
  hasCrlfSize: boolean,
): Promise<number> {
  const found = await one<{ id: number }>(
    client,
    'SELECT id FROM blobs WHERE blob_id = $1 FOR UPDATE',
    [blobId],
  )
  if (found) return Number(found.id)
  const description = describe(blobId, bytes)
  const values = [
    blobId,
    bytes.length,
    JSON.stringify(description.metadata),
    // PostgreSQL text cannot hold NUL; search values cannot usefully contain one either.
    description.headerText.toLowerCase().replaceAll('\u0000', ''),
    description.bodyText.toLowerCase().replaceAll('\u0000', ''),
  ]
  const row = await one<{ id: number }>(
    client,
    hasCrlfSize
      ? `INSERT INTO blobs (blob_id, size, refcount, metadata, headers_folded, body_folded,
           crlf_size) VALUES ($1, $2, 0, $3, $4, $5, $6)
         ON CONFLICT (blob_id) DO UPDATE SET refcount = blobs.refcount RETURNING id`
      : `INSERT INTO blobs (blob_id, size, refcount, metadata, headers_folded, body_folded)
         VALUES ($1, $2, 0, $3, $4, $5)
         ON CONFLICT (blob_id) DO UPDATE SET refcount = blobs.refcount RETURNING id`,
    hasCrlfSize ? [...values, description.crlfSize] : values,
  )
  if (!row) throw new Error('INSERT returned no row')
  await run(
    client,
    'INSERT INTO blob_data (blob_id, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    [blobId, bytes],
  )
  return Number(row.id)
}

/** Files one stored blob into each target of a delivery; the mailboxes are locked. */
async function fileMessage(
  client: Client,
  mailboxes: ReadonlyMap<number, Row>,
  blobRow: number,
  size: number,
  delivery: PlannedDelivery,
): Promise<DeliveryResult[]> {
  const results: DeliveryResult[] = []
  for (const target of delivery.targets) {
    const mailbox = mailboxes.get(target.mailboxId)
    if (!mailbox) throw new NotFoundError(`Mailbox ${target.mailboxId} does not exist`)
    const problem = await quotaProblem(client, Number(mailbox.account_id), size, 1)
    if (problem) {
      results.push({ mailboxId: target.mailboxId, status: 'over-quota', resource: problem })
      continue
    }
    const row = await one<{ uid: number; modseq: number }>(
      client,
      `UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1
       WHERE id = $1 RETURNING uid_next - 1 AS uid, highest_modseq AS modseq`,
      [target.mailboxId],
    )
    if (!row) throw new NotFoundError(`Mailbox ${target.mailboxId} does not exist`)
    await run(
      client,
      `INSERT INTO messages (mailbox_id, uid, blob, flags, keywords, internal_date, size, modseq)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        target.mailboxId,
        row.uid,
        blobRow,
        target.mask,
        shape.formatKeywords(target.keywords),
        delivery.internalDate,
        size,
        row.modseq,
      ],
    )
    await notify(client, target.mailboxId)
    results.push({
      mailboxId: target.mailboxId,
      status: 'stored',
      uid: Number(row.uid),
      uidValidity: Number(mailbox.uid_validity),
      modseq: Number(row.modseq),
    })
  }
  return results
}

/** Tells every node's change feed, when the transaction commits, that the mailbox changed. */
export async function notify(client: Client, mailboxId: number): Promise<void> {
  await run(client, "SELECT pg_notify('postern_mailbox', $1)", [String(mailboxId)])
}

export async function getMessages(
  pool: pg.Pool,
  mailboxId: number,
  ranges: UidRanges,
): Promise<MessageRecord[]> {
  const [lows, highs] = rangeArrays(ranges)
  // Before schema version 4 (see storeBlob) no size as sent is known.
  const crlfSize = (await hasColumn(pool, 'blobs', 'crlf_size'))
    ? 'b.crlf_size'
    : 'NULL AS crlf_size'
  const rows = await all(
    pool,
    `SELECT m.uid, m.flags, m.keywords, m.modseq, m.internal_date, m.size, b.blob_id, ${crlfSize}
     FROM messages m JOIN blobs b ON b.id = m.blob
     WHERE m.mailbox_id = $1 AND ${inRanges('m.uid')}
     ORDER BY m.uid`,
    [mailboxId, lows, highs],
  )
  return rows.map(shape.toRecord)
}

export async function storeFlags(
  pool: pg.Pool,
  mailboxId: number,
  ranges: UidRanges,
  action: FlagAction,
  flags: readonly string[],
  unchangedSince: number | undefined,
): Promise<StoreFlagsResult> {
  const given = checkFlags(flags)
  const [lows, highs] = rangeArrays(ranges)
  return transaction(pool, async (client) => {
    await lockMailboxes(client, [mailboxId])
    const rows = await all(
      client,
      `SELECT uid, flags, keywords, modseq FROM messages WHERE mailbox_id = $1 AND ${inRanges('uid')}
       ORDER BY uid`,
      [mailboxId, lows, highs],
    )
    const result: StoreFlagsResult = { changed: [], modified: [] }
    const updates: Array<{ uid: number; mask: number; keywords: string[] }> = []
    for (const row of rows) {
      // RFC 7162 §3.1.3: checked before the no-op test, so UNCHANGEDSINCE 0 always fails.
      if (unchangedSince !== undefined && Number(row.modseq) > unchangedSince) {
        result.modified.push(Number(row.uid))
        continue
      }
      const next = applyFlags(
        { mask: Number(row.flags), keywords: shape.parseKeywords(row.keywords) },
        action,
        given,
      )
      if (next) updates.push({ uid: Number(row.uid), ...next })
    }
    if (updates.length === 0) return result
    const modseq = await nextModseq(client, mailboxId)
    for (const { uid, mask, keywords } of updates) {
      await run(
        client,
        'UPDATE messages SET flags = $1, keywords = $2, modseq = $3 WHERE mailbox_id = $4 AND uid = $5',
        [mask, shape.formatKeywords(keywords), modseq, mailboxId, uid],
      )
      result.changed.push({ uid, modseq, flags: flagList(mask, keywords) })
    }
    await notify(client, mailboxId)
    return result
  })
}

/** Deletes the messages, remembering each UID with one new MODSEQ; the mailbox is locked. */
async function removeMessages(
  client: Client,
  mailboxId: number,
  uids: readonly number[],
): Promise<void> {
  if (uids.length === 0) return
  const modseq = await nextModseq(client, mailboxId)
  await run(client, 'DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)', [
    mailboxId,
    uids,
  ])
  await run(
    client,
    `INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, uid, $3 FROM unnest($2::bigint[]) AS uid
     ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`,
    [mailboxId, uids, modseq],
  )
  await notify(client, mailboxId)
}

/** Which messages expunge removes. */
export interface ExpungeOptions {
  /** IMAP EXPUNGE removes only messages flagged \Deleted; POP3's DELE marks them otherwise. */
  isDeletedOnly: boolean
  /** Nothing is removed, and null returned, unless this holder's mailbox lock is live. */
  lockHolder?: string | undefined
}

/** Removes messages among `ranges` (all when absent) in one transaction; returns their UIDs. */
export async function expunge(
  pool: pg.Pool,
  mailboxId: number,
  ranges: UidRanges | undefined,
  options: ExpungeOptions = { isDeletedOnly: true },
): Promise<number[] | null> {
  const [lows, highs] = rangeArrays(ranges ?? [[1, Number.MAX_SAFE_INTEGER]])
  const flagged = options.isDeletedOnly ? `AND flags & ${DELETED} <> 0` : ''
  return transaction(pool, async (client) => {
    // The mailbox row's lock also keeps lockMailbox (mailbox-locks.ts) from changing the lock
    // until this commits.
    await lockMailboxes(client, [mailboxId])
    const { lockHolder } = options
    if (
      lockHolder !== undefined &&
      !(await holdsLock(client, mailboxId, lockHolder, await databaseNow(client)))
    ) {
      return null
    }
    const uids = (
      await all<{ uid: number }>(
        client,
        `SELECT uid FROM messages WHERE mailbox_id = $1 ${flagged} AND ${inRanges('uid')}
         ORDER BY uid`,
        [mailboxId, lows, highs],
      )
    ).map((row) => Number(row.uid))
    await removeMessages(client, mailboxId, uids)
    return uids
  })
}

export async function copyMessages(
  pool: pg.Pool,
  from: number,
  ranges: UidRanges,
  to: number,
  move: boolean,
): Promise<{ uidValidity: number; uids: Array<[number, number]> }> {
  const [lows, highs] = rangeArrays(ranges)
  return transaction(pool, async (client) => {
    const locked = await lockMailboxes(client, from === to ? [from] : [from, to])
    const source = locked.get(from)
    const target = locked.get(to)
    if (!source || !target) throw new NotFoundError('Mailbox does not exist')
    const rows = await all(
      client,
      `SELECT uid, size FROM messages WHERE mailbox_id = $1 AND ${inRanges('uid')} ORDER BY uid`,
      [from, lows, highs],
    )
    const uidValidity = Number(target.uid_validity)
    if (rows.length === 0) return { uidValidity, uids: [] }
    const total = rows.reduce((sum, row) => sum + Number(row.size), 0)
    const isMoveWithinAccount = move && Number(target.account_id) === Number(source.account_id)
    const problem = isMoveWithinAccount
      ? null
      : await quotaProblem(client, Number(target.account_id), total, rows.length)
    if (problem) throw new QuotaExceededError(problem, `The copy would exceed the ${problem} quota`)
    const sourceUids = rows.map((row) => Number(row.uid))
    const uids = await copyRows(client, from, sourceUids, to)
    if (move) await removeMessages(client, from, sourceUids)
    return { uidValidity, uids }
  })
}

/** Copies message rows (sharing blobs) into a locked mailbox under new UIDs, in UID order. */
async function copyRows(
  client: Client,
  from: number,
  sourceUids: readonly number[],
  to: number,
): Promise<Array<[number, number]>> {
  const row = await one<{ first: number; modseq: number }>(
    client,
    `UPDATE mailboxes SET uid_next = uid_next + $2, highest_modseq = highest_modseq + 1
     WHERE id = $1 RETURNING uid_next - $2 AS first, highest_modseq AS modseq`,
    [to, sourceUids.length],
  )
  const first = Number(row?.first)
  await run(
    client,
    `INSERT INTO messages (mailbox_id, uid, blob, flags, keywords, internal_date, size, modseq)
     SELECT $1, $2 + s.n - 1, m.blob, m.flags, m.keywords, m.internal_date, m.size, $3
     FROM unnest($5::bigint[]) WITH ORDINALITY AS s (uid, n)
     JOIN messages m ON m.mailbox_id = $4 AND m.uid = s.uid`,
    [to, first, Number(row?.modseq), from, sourceUids],
  )
  await notify(client, to)
  return sourceUids.map((uid, index) => [uid, first + index])
}

/** Renaming INBOX (RFC 9051 §6.3.6): every message moves to `to`; INBOX stays, empty. */
export async function moveAll(client: Client, from: number, to: number): Promise<void> {
  await lockMailboxes(client, [from, to])
  const uids = (
    await all<{ uid: number }>(
      client,
      'SELECT uid FROM messages WHERE mailbox_id = $1 ORDER BY uid',
      [from],
    )
  ).map((row) => Number(row.uid))
  if (uids.length === 0) return
  await copyRows(client, from, uids, to)
  await removeMessages(client, from, uids)
}

export async function changesSince(
  pool: pg.Pool,
  mailboxId: number,
  modseq: number,
): Promise<MailboxChanges> {
  // One statement sees one snapshot: the mailbox's HIGHESTMODSEQ, the changed messages and the
  // expunged UIDs agree without a transaction (this runs for every change any node announces).
  const rows = await all<{ kind: number; uid: number | null; modseq: number } & Row>(
    pool,
    `SELECT 0 AS kind, NULL::bigint AS uid, highest_modseq AS modseq, NULL::integer AS flags,
            NULL::text AS keywords
     FROM mailboxes WHERE id = $1
     UNION ALL
     SELECT 1, uid, modseq, flags, keywords FROM messages WHERE mailbox_id = $1 AND modseq > $2
     UNION ALL
     SELECT 2, uid, modseq, NULL, NULL FROM expunged WHERE mailbox_id = $1 AND modseq > $2
     ORDER BY kind, uid`,
    [mailboxId, modseq],
  )
  const mailbox = rows[0]
  if (mailbox === undefined || mailbox.kind !== 0) {
    throw new NotFoundError(`Mailbox ${mailboxId} does not exist`)
  }
  return {
    changed: rows.filter((row) => row.kind === 1).map(shape.toSummary),
    expunged: rows
      .filter((row) => row.kind === 2)
      .map((row) => ({ uid: Number(row.uid), modseq: Number(row.modseq) })),
    highestModseq: Number(mailbox.modseq),
  }
}

export async function openMailbox(pool: pg.Pool, mailboxId: number) {
  return transaction(
    pool,
    async (client) => {
      const status = await mailboxRow(client, mailboxId)
      const result = await client.query({
        text: 'SELECT uid, modseq, flags, keywords FROM messages WHERE mailbox_id = $1 ORDER BY uid',
        values: [mailboxId],
        rowMode: 'array',
      })
      const messages = (result.rows as unknown[][]).map((row) => ({
        uid: Number(row[0]),
        modseq: Number(row[1]),
        flags: flagList(Number(row[2]), row[3] === null ? [] : shape.parseKeywords(row[3])),
      }))
      return { status, messages }
    },
    { isSnapshot: true },
  )
}

/**
 * Candidates from the trigram indexes (LIKE on text folded to lower case), each then checked
 * exactly by textMatches, as the SQLite backend does.
 */
export async function searchText(
  pool: pg.Pool,
  mailboxId: number,
  queries: readonly TextQuery[],
  ranges: UidRanges | undefined,
): Promise<number[]> {
  const [lows, highs] = rangeArrays(ranges ?? [[1, Number.MAX_SAFE_INTEGER]])
  const conditions: string[] = []
  const params: unknown[] = [mailboxId, lows, highs]
  for (const query of queries) {
    if (queryTrigrams(query.value).length === 0) continue
    params.push(
      `%${query.value
        .toLowerCase()
        .replace(/[\\%_]/g, (c) => `\\${c}`)
        .replaceAll('\u0000', '')}%`,
    )
    const pattern = `$${params.length}`
    const column =
      query.field === 'body'
        ? `b.body_folded LIKE ${pattern}`
        : query.field === 'text'
          ? `(b.headers_folded LIKE ${pattern} OR b.body_folded LIKE ${pattern})`
          : `b.headers_folded LIKE ${pattern}`
    conditions.push(column)
  }
  // Unnamed (not run()): the trigram index pays only for a plan made for the actual patterns.
  const result = await pool.query(
    `SELECT m.uid, b.headers_folded, b.body_folded FROM messages m JOIN blobs b ON b.id = m.blob
     WHERE m.mailbox_id = $1 AND ${inRanges('m.uid')}
     ${conditions.map((condition) => `AND ${condition}`).join(' ')}
     ORDER BY m.uid`,
    params,
  )
  const rows = result.rows as Array<{ uid: number; headers_folded: string; body_folded: string }>
  return rows
    .filter((row) =>
      queries.every((query) => textMatches(row.headers_folded, row.body_folded, query)),
    )
    .map((row) => Number(row.uid))
}

/** Removes up to `limit` unreferenced blobs with their bytes; true when there may be more. */
export async function collectGarbage(pool: pg.Pool, limit: number): Promise<boolean> {
  return transaction(pool, async (client) => {
    const rows = await all<{ blob_id: string }>(
      client,
      `DELETE FROM blobs WHERE id IN (
         SELECT id FROM blobs WHERE refcount = 0 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
       ) AND refcount = 0 RETURNING blob_id`,
      [limit],
    )
    if (rows.length > 0) {
      await run(client, 'DELETE FROM blob_data WHERE blob_id = ANY($1)', [
        rows.map((row) => row.blob_id),
      ])
    }
    return rows.length === limit
  })
}
