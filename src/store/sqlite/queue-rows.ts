import {
  type AttemptPlan,
  type NewQueueEntry,
  NotFoundError,
  type QueueClaim,
  type QueueEntry,
  type QueueEntryId,
  shape,
} from '../index.ts'
import type { Connection } from './connection.ts'

// The outbound queue's rows: entries and recipients as accepted, claims with leases, and the
// outcomes of delivery attempts. SQLite has one writer at a time, so a claim made inside the
// write transaction is exclusive without row locks; the lease is what outlives it.

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

/**
 * Leases the due recipients to `owner`; the caller holds the write transaction. Due means waiting
 * (pending or deferred) with its time come, and either unleased or leased by someone whose lease
 * has run out (a node that died). Each half reads its own partial index in order and stops at
 * `limit` (schema VERSION_6): live leases are never stepped over.
 */
export function claimQueue(
  c: Connection,
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
): QueueClaim[] {
  const rows = c.all<{ id: number; entry_id: number }>(
    `UPDATE queue_recipients SET lease_owner = ?1, lease_until = ?2
     WHERE id IN (SELECT id FROM (
         SELECT id, next_attempt_at FROM (SELECT id, next_attempt_at FROM queue_recipients
           WHERE status IN ('pending', 'deferred') AND lease_owner IS NULL
             AND next_attempt_at <= ?3
           ORDER BY next_attempt_at, id LIMIT ?4)
         UNION ALL
         SELECT id, next_attempt_at FROM queue_recipients
           WHERE lease_owner IS NOT NULL AND lease_until <= ?3
             AND status IN ('pending', 'deferred') AND next_attempt_at <= ?3)
       ORDER BY next_attempt_at, id LIMIT ?4)
     RETURNING id, entry_id`,
    owner,
    now + leaseMs,
    now,
    limit,
  )
  if (rows.length === 0) return []
  const isClaimed = new Set(rows.map((row) => Number(row.id)))
  const ids = JSON.stringify([...new Set(rows.map((row) => Number(row.entry_id)))])
  const entries = c.all(
    `${ENTRIES} WHERE q.id IN (SELECT value FROM json_each(?)) ORDER BY q.id`,
    ids,
  )
  const recipients = c.all(
    `SELECT ${shape.QUEUE_RECIPIENT_COLUMNS} FROM queue_recipients
     WHERE entry_id IN (SELECT value FROM json_each(?)) ORDER BY entry_id, position`,
    ids,
  )
  return shape.toQueueEntries(entries, recipients).map((entry) => ({
    entry,
    recipientIds: entry.recipients.filter((r) => isClaimed.has(r.id)).map((r) => r.id),
  }))
}

export function renewQueueLeases(c: Connection, owner: string, until: number): number {
  return c.run('UPDATE queue_recipients SET lease_until = ? WHERE lease_owner = ?', until, owner)
    .changes
}

export function releaseQueueLeases(c: Connection, owner: string): number {
  return c.run(
    'UPDATE queue_recipients SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?',
    owner,
  ).changes
}

/**
 * Applies the outcomes whose lease `owner` still holds; returns the ids it did not hold. The
 * caller holds the write transaction.
 */
export function applyOutcomes(
  c: Connection,
  entryId: QueueEntryId,
  owner: string,
  outcomes: AttemptPlan['outcomes'],
  now: number,
): number[] {
  const stale: number[] = []
  for (const outcome of outcomes) {
    const { changes } = c.run(
      `UPDATE queue_recipients SET status = ?, last_reply = ?, next_attempt_at = ?,
         attempts = attempts + ?, last_attempt_at = CASE WHEN ? THEN ? ELSE last_attempt_at END,
         delay_notified = delay_notified OR ?, lease_owner = NULL, lease_until = NULL
       WHERE id = ? AND entry_id = ? AND lease_owner = ? AND status IN ('pending', 'deferred')`,
      outcome.status,
      outcome.reply,
      outcome.nextAttemptAt,
      outcome.isAttempt ? 1 : 0,
      outcome.isAttempt ? 1 : 0,
      now,
      outcome.delayNotified ? 1 : 0,
      outcome.id,
      entryId,
      owner,
    )
    if (changes === 0) {
      const other = c.get<{ entry_id: number }>(
        'SELECT entry_id FROM queue_recipients WHERE id = ?',
        outcome.id,
      )
      if (other && Number(other.entry_id) !== entryId) {
        throw new RangeError(`Recipient ${outcome.id} is not in queue entry ${entryId}`)
      }
      stale.push(outcome.id)
    }
  }
  return stale
}

/**
 * Removes the entry once nothing in it waits. Returns false while something waits; otherwise
 * the blob row it referred to (null when the entry was already gone).
 */
export function removeIfDone(c: Connection, entryId: QueueEntryId): false | number | null {
  const waiting = c.get(
    `SELECT 1 AS found FROM queue_recipients
     WHERE entry_id = ? AND status IN ('pending', 'deferred') LIMIT 1`,
    entryId,
  )
  if (waiting) return false
  const entry = c.get<{ blob: number }>('SELECT blob FROM queue_entries WHERE id = ?', entryId)
  if (!entry) return null
  c.run('DELETE FROM queue_entries WHERE id = ?', entryId)
  return Number(entry.blob)
}

export function rescheduleQueue(c: Connection, id: QueueEntryId | undefined, now: number): number {
  if (id === undefined) {
    return c.run(
      `UPDATE queue_recipients SET next_attempt_at = ?
       WHERE status IN ('pending', 'deferred') AND next_attempt_at > ?`,
      now,
      now,
    ).changes
  }
  if (!c.get('SELECT 1 AS found FROM queue_entries WHERE id = ?', id)) {
    throw new NotFoundError(`Queue entry ${id} does not exist`)
  }
  return c.run(
    `UPDATE queue_recipients SET next_attempt_at = ?
     WHERE entry_id = ? AND status IN ('pending', 'deferred') AND next_attempt_at > ?`,
    now,
    id,
    now,
  ).changes
}

export function nextQueueAttemptAt(c: Connection): Date | null {
  // The first unleased one by its index, and the leased ones (a few per node) when their lease
  // or their time comes, whichever is later.
  const row = c.get<{ due: number | null }>(
    `SELECT MIN(due) AS due FROM (
       SELECT MIN(next_attempt_at) AS due FROM queue_recipients
         WHERE status IN ('pending', 'deferred') AND lease_owner IS NULL
       UNION ALL
       SELECT MIN(MAX(next_attempt_at, lease_until)) FROM queue_recipients
         WHERE lease_owner IS NOT NULL AND status IN ('pending', 'deferred'))`,
  )
  return row?.due === null || row?.due === undefined ? null : new Date(Number(row.due))
}
