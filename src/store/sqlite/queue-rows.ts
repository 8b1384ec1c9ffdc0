import {
  type NewQueueEntry,
  NotFoundError,
  type QueueEntry,
  type QueueEntryId,
  shape,
} from '../index.ts'
import type { Connection } from './connection.ts'

// The outbound queue's rows. Only what accepting a message needs so far, and reading it back;
// claiming, retrying and finishing recipients belong to the queue's own issue.

/** Inserts the entry and its recipients; the caller holds the write transaction. */
export function insertQueueEntry(
  c: Connection,
  blobRow: number,
  size: number,
  entry: NewQueueEntry,
  now: number,
): QueueEntryId {
  const { lastId } = c.run(
    `INSERT INTO queue_entries (blob, size, sender, envid, ret, body, smtputf8, submitted_by,
      created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    blobRow,
    size,
    entry.sender,
    entry.envelopeId,
    entry.ret,
    entry.body,
    entry.smtputf8 ? 1 : 0,
    entry.submittedBy,
    now,
  )
  entry.recipients.forEach((recipient, position) => {
    const isDeferred = recipient.lastReply !== undefined
    c.run(
      `INSERT INTO queue_recipients (entry_id, position, address, orcpt, notify, status, attempts,
        next_attempt_at, last_attempt_at, last_reply) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      lastId,
      position,
      recipient.address,
      recipient.originalRecipient,
      shape.formatNotify(recipient.notify),
      isDeferred ? 'deferred' : 'pending',
      isDeferred ? 1 : 0,
      now,
      isDeferred ? now : null,
      recipient.lastReply ?? null,
    )
  })
  return lastId
}

const ENTRIES = `SELECT ${shape.QUEUE_ENTRY_COLUMNS} FROM queue_entries q JOIN blobs b ON b.id = q.blob`

/** The entries with ids in [first, last], at most `limit`, with their recipients. */
function readEntries(c: Connection, first: number, last: number, limit: number): QueueEntry[] {
  const entries = c.all(
    `${ENTRIES} WHERE q.id BETWEEN ? AND ? ORDER BY q.id LIMIT ?`,
    first,
    last,
    limit,
  )
  const lastRow = entries.at(-1)
  if (lastRow === undefined) return []
  const recipients = c.all(
    `SELECT ${shape.QUEUE_RECIPIENT_COLUMNS} FROM queue_recipients
     WHERE entry_id BETWEEN ? AND ? ORDER BY entry_id, position`,
    first,
    Number(lastRow.id),
  )
  return shape.toQueueEntries(entries, recipients)
}

export function getQueueEntry(c: Connection, id: QueueEntryId): QueueEntry | null {
  return c.read(() => readEntries(c, id, id, 1)[0] ?? null)
}

export function listQueue(c: Connection, afterId: QueueEntryId, limit: number): QueueEntry[] {
  if (limit === 0) return []
  return c.read(() => readEntries(c, afterId + 1, Number.MAX_SAFE_INTEGER, limit))
}

/** Deletes the entry; its recipients go with it (ON DELETE CASCADE), its blob reference too. */
export function removeQueueEntry(c: Connection, id: QueueEntryId): void {
  const { changes } = c.run('DELETE FROM queue_entries WHERE id = ?', id)
  if (changes === 0) throw new NotFoundError(`Queue entry ${id} does not exist`)
}

/** The entry just inserted, read inside the caller's transaction. */
export function readQueueEntry(c: Connection, id: QueueEntryId): QueueEntry {
  const entry = readEntries(c, id, id, 1)[0]
  if (!entry) throw new NotFoundError(`Queue entry ${id} does not exist`)
  return entry
}
