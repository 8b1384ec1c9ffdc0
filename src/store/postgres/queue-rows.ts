import type pg from 'pg'
import {
  type AttemptPlan,
  type MessageDescription,
  type NewQueueEntry,
  NotFoundError,
  type QueueAttemptResult,
  type QueueClaim,
  type QueueEntry,
  type QueueEntryId,
  shape,
} from '../index.ts'
import { all, type Client, hasColumn, one, run, transaction } from './database.ts'
import { storeBlob } from './message-rows.ts'

// The outbound queue's rows, as the SQLite backend keeps them. Claims take row locks with
// SKIP LOCKED, so nodes claiming at once each get other recipients without waiting for each
// other; the lease written in that transaction is what keeps the claim after it commits.

/** Inserts the entry and its recipients inside the caller's transaction. */
export async function insertQueueEntry(
  client: Client,
  blobRow: number,
  size: number,
  entry: NewQueueEntry,
  now: number,
): Promise<QueueEntryId> {
  const row = await one<{ id: number }>(
    client,
    `INSERT INTO queue_entries (blob, size, sender, envid, ret, body, smtputf8, submitted_by,
      created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [
      blobRow,
      size,
      entry.sender,
      entry.envelopeId,
      entry.ret,
      entry.body,
      entry.smtputf8,
      entry.submittedBy,
      now,
    ],
  )
  if (!row) throw new Error('INSERT returned no row')
  const id = Number(row.id)
  // One statement for all recipients: up to MAX_QUEUE_RECIPIENTS rows, one round trip.
  const { recipients } = entry
  await run(
    client,
    `INSERT INTO queue_recipients (entry_id, position, address, orcpt, notify, status, attempts,
       next_attempt_at, last_attempt_at, last_reply)
     SELECT $1::bigint, r.n - 1, r.address, r.orcpt, r.notify,
       CASE WHEN r.reply IS NULL THEN 'pending' ELSE 'deferred' END,
       CASE WHEN r.reply IS NULL THEN 0 ELSE 1 END,
       $2::bigint, CASE WHEN r.reply IS NULL THEN NULL ELSE $2::bigint END, r.reply
     FROM unnest($3::text[], $4::text[], $5::text[], $6::text[])
       WITH ORDINALITY AS r (address, orcpt, notify, reply, n)`,
    [
      id,
      now,
      recipients.map((r) => r.address),
      recipients.map((r) => r.originalRecipient),
      recipients.map((r) => shape.formatNotify(r.notify)),
      recipients.map((r) => r.lastReply ?? null),
    ],
  )
  return id
}

const ENTRIES = `SELECT ${shape.QUEUE_ENTRY_COLUMNS} FROM queue_entries q JOIN blobs b ON b.id = q.blob`

/** The entries with ids in [first, last], at most `limit`, with their recipients. */
async function readEntries(
  client: Client,
  first: number,
  last: number,
  limit: number,
): Promise<QueueEntry[]> {
  const entries = await all(
    client,
    `${ENTRIES} WHERE q.id BETWEEN $1 AND $2 ORDER BY q.id LIMIT $3`,
    [first, last, limit],
  )
  const lastRow = entries.at(-1)
  if (lastRow === undefined) return []
  const recipients = await all(
    client,
    `SELECT ${shape.QUEUE_RECIPIENT_COLUMNS} FROM queue_recipients
     WHERE entry_id BETWEEN $1 AND $2 ORDER BY entry_id, position`,
    [first, Number(lastRow.id)],
  )
  return shape.toQueueEntries(entries, recipients)
}

/** Entries and recipients from one snapshot, so no entry is seen without its recipients. */
function readSnapshot<T>(pool: pg.Pool, work: (client: Client) => Promise<T>): Promise<T> {
  return transaction(pool, work, { isSnapshot: true })
}

export async function getQueueEntry(pool: pg.Pool, id: QueueEntryId): Promise<QueueEntry | null> {
  return readSnapshot(pool, async (client) => (await readEntries(client, id, id, 1))[0] ?? null)
}

export async function listQueue(
  pool: pg.Pool,
  afterId: QueueEntryId,
  limit: number,
): Promise<QueueEntry[]> {
  if (limit === 0) return []
  return readSnapshot(pool, (client) =>
    readEntries(client, afterId + 1, Number.MAX_SAFE_INTEGER, limit),
  )
}

/** The entry just inserted, read inside the caller's transaction. */
export async function readQueueEntry(client: Client, id: QueueEntryId): Promise<QueueEntry> {
  const entry = (await readEntries(client, id, id, 1))[0]
  if (!entry) throw new NotFoundError(`Queue entry ${id} does not exist`)
  return entry
}

/** Deletes the entry; its recipients go with it (ON DELETE CASCADE), its blob reference too. */
export async function removeQueueEntry(pool: pg.Pool, id: QueueEntryId): Promise<void> {
  const result = await run(pool, 'DELETE FROM queue_entries WHERE id = $1', [id])
  if (result.rowCount === 0) throw new NotFoundError(`Queue entry ${id} does not exist`)
}

/** Entries by id with their recipients, in id order. */
async function readEntriesById(client: Client, ids: number[]): Promise<QueueEntry[]> {
  const entries = await all(client, `${ENTRIES} WHERE q.id = ANY($1) ORDER BY q.id`, [ids])
  const recipients = await all(
    client,
    `SELECT ${shape.QUEUE_RECIPIENT_COLUMNS} FROM queue_recipients
     WHERE entry_id = ANY($1) ORDER BY entry_id, position`,
    [ids],
  )
  return shape.toQueueEntries(entries, recipients)
}

export async function claimQueue(
  pool: pg.Pool,
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
): Promise<QueueClaim[]> {
  return transaction(pool, async (client) => {
    const rows = await all<{ id: number; entry_id: number }>(
      client,
      `WITH due AS (
         SELECT id FROM queue_recipients
         WHERE status IN ('pending', 'deferred') AND next_attempt_at <= $1
           AND (lease_until IS NULL OR lease_until <= $1)
         ORDER BY next_attempt_at, id LIMIT $2
         FOR UPDATE SKIP LOCKED)
       UPDATE queue_recipients r SET lease_owner = $3, lease_until = $4
       FROM due WHERE r.id = due.id RETURNING r.id, r.entry_id`,
      [now, limit, owner, now + leaseMs],
    )
    if (rows.length === 0) return []
    const isClaimed = new Set(rows.map((row) => Number(row.id)))
    const entries = await readEntriesById(client, [
      ...new Set(rows.map((row) => Number(row.entry_id))),
    ])
    return entries.map((entry) => ({
      entry,
      recipientIds: entry.recipients.filter((r) => isClaimed.has(r.id)).map((r) => r.id),
    }))
  })
}

export async function renewQueueLeases(pool: pg.Pool, owner: string, until: number) {
  const result = await run(
    pool,
    'UPDATE queue_recipients SET lease_until = $1 WHERE lease_owner = $2',
    [until, owner],
  )
  return result.rowCount ?? 0
}

export async function releaseQueueLeases(pool: pg.Pool, owner: string) {
  const result = await run(
    pool,
    'UPDATE queue_recipients SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1',
    [owner],
  )
  return result.rowCount ?? 0
}

/** One attempt's outcomes, its notices and the entry's removal when done, in one transaction. */
export async function finishAttempt(
  pool: pg.Pool,
  entryId: QueueEntryId,
  owner: string,
  plan: AttemptPlan,
  now: number,
  describe: (blobId: string, bytes: Buffer) => MessageDescription,
  blobIdOf: (bytes: Buffer) => string,
): Promise<QueueAttemptResult> {
  const hasCrlfSize = await hasColumn(pool, 'blobs', 'crlf_size')
  return transaction(pool, async (client) => {
    const { outcomes } = plan
    const applied = await all<{ id: number }>(
      client,
      `UPDATE queue_recipients r SET status = o.status, last_reply = o.reply,
         next_attempt_at = o.next_at, attempts = r.attempts + o.counts,
         last_attempt_at = CASE WHEN o.counts = 1 THEN $2::bigint ELSE r.last_attempt_at END,
         delay_notified = r.delay_notified OR o.notified, lease_owner = NULL, lease_until = NULL
       FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::int[], $8::boolean[])
         AS o (id, status, reply, next_at, counts, notified)
       WHERE r.id = o.id AND r.entry_id = $1 AND r.lease_owner = $9
         AND r.status IN ('pending', 'deferred')
       RETURNING r.id`,
      [
        entryId,
        now,
        outcomes.map((o) => o.id),
        outcomes.map((o) => o.status),
        outcomes.map((o) => o.reply),
        outcomes.map((o) => o.nextAttemptAt),
        outcomes.map((o) => (o.isAttempt ? 1 : 0)),
        outcomes.map((o) => o.delayNotified),
        owner,
      ],
    )
    const isApplied = new Set(applied.map((row) => Number(row.id)))
    const stale = outcomes.map((o) => o.id).filter((id) => !isApplied.has(id))
    if (stale.length > 0) {
      const foreign = await one(
        client,
        'SELECT id FROM queue_recipients WHERE id = ANY($1) AND entry_id <> $2 LIMIT 1',
        [stale, entryId],
      )
      if (foreign) throw new RangeError(`Recipient ${foreign.id} is not in queue entry ${entryId}`)
    }
    const notices: QueueEntry[] = []
    // A lost lease means another claimant owns the recipient now, and its notices too.
    if (stale.length === 0) {
      for (const notice of plan.notices) {
        const row = await storeBlob(
          client,
          blobIdOf(notice.bytes),
          notice.bytes,
          describe,
          hasCrlfSize,
        )
        const id = await insertQueueEntry(client, row, notice.bytes.length, notice.entry, now)
        notices.push(await readQueueEntry(client, id))
      }
    }
    const waiting = await one(
      client,
      `SELECT 1 AS found FROM queue_recipients
       WHERE entry_id = $1 AND status IN ('pending', 'deferred') LIMIT 1`,
      [entryId],
    )
    if (!waiting) await run(client, 'DELETE FROM queue_entries WHERE id = $1', [entryId])
    return { removed: !waiting, stale, notices }
  })
}

export async function rescheduleQueue(
  pool: pg.Pool,
  id: QueueEntryId | undefined,
  now: number,
): Promise<number> {
  if (id === undefined) {
    const result = await run(
      pool,
      `UPDATE queue_recipients SET next_attempt_at = $1
       WHERE status IN ('pending', 'deferred') AND next_attempt_at > $1`,
      [now],
    )
    return result.rowCount ?? 0
  }
  return transaction(pool, async (client) => {
    if (!(await one(client, 'SELECT 1 AS found FROM queue_entries WHERE id = $1', [id]))) {
      throw new NotFoundError(`Queue entry ${id} does not exist`)
    }
    const result = await run(
      client,
      `UPDATE queue_recipients SET next_attempt_at = $1
       WHERE entry_id = $2 AND status IN ('pending', 'deferred') AND next_attempt_at > $1`,
      [now, id],
    )
    return result.rowCount ?? 0
  })
}

export async function nextQueueAttemptAt(pool: pg.Pool): Promise<Date | null> {
  const row = await one<{ due: string | null }>(
    pool,
    `SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 0))) AS due
     FROM queue_recipients WHERE status IN ('pending', 'deferred')`,
  )
  return row?.due === null || row?.due === undefined ? null : new Date(Number(row.due))
}
