import type pg from 'pg'
import {
  type NewQueueEntry,
  NotFoundError,
  type QueueEntry,
  type QueueEntryId,
  shape,
} from '../index.ts'
import { all, type Client, one, transaction } from './database.ts'

// The outbound queue's rows, as the SQLite backend keeps them. Only what accepting a message
// needs so far, and reading it back; claiming, retrying and finishing recipients belong to the
// queue's own issue.

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
  await client.query(
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
  return transaction(pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY')
    return work(client)
  })
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
  const result = await pool.query('DELETE FROM queue_entries WHERE id = $1', [id])
  if (result.rowCount === 0) throw new NotFoundError(`Queue entry ${id} does not exist`)
}
