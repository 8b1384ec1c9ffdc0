import type { MailboxLockResult } from './types.ts'

// POP3's exclusive maildrop (RFC 1939 §8) as a lease in the database, so that it holds across
// processes and nodes. Both backends read the row and write what planMailboxLock says inside one
// transaction (SQLite's write lock, PostgreSQL's row lock), so the rules are written once.

/** A mailbox's lock row; times in milliseconds since the epoch. */
export interface MailboxLockRow {
  /** Null once released. */
  holder: string | null
  expiresAt: number
  /** When the lock was last taken (not extended): what RFC 2449 LOGIN-DELAY counts from. */
  acquiredAt: number
}

export interface MailboxLockRequest {
  holder: string
  leaseMs: number
  minIntervalMs?: number
  /** Only extend the holder's live lock; 'lost' otherwise. */
  renew?: boolean
}

/**
 * What Store.lockMailbox answers for a mailbox whose lock row is `current` (null: never taken),
 * and the row to write then (null: nothing changes).
 */
export function planMailboxLock(
  current: MailboxLockRow | null,
  request: MailboxLockRequest,
  now: number,
): { result: MailboxLockResult; next: MailboxLockRow | null } {
  const expiresAt = now + request.leaseMs
  const isLive = current !== null && current.holder !== null && current.expiresAt > now
  if (isLive && current.holder === request.holder) {
    // An extension: a session renewing its lease is not a new login.
    return { result: 'locked', next: { ...current, expiresAt } }
  }
  // A renewal never takes a lock: between the lapse and now another session may have had it.
  if (request.renew === true) return { result: 'lost', next: null }
  if (isLive) return { result: 'in-use', next: null }
  const { minIntervalMs } = request
  if (minIntervalMs !== undefined && current !== null && now - current.acquiredAt < minIntervalMs) {
    return { result: 'too-soon', next: null }
  }
  return { result: 'locked', next: { holder: request.holder, expiresAt, acquiredAt: now } }
}

/** Whether `holder` has the lock described by `row` at `now`. */
export function holdsMailboxLock(row: MailboxLockRow | null, holder: string, now: number): boolean {
  return row !== null && row.holder === holder && row.expiresAt > now
}

/** The row as both schemas name its columns (numbers may arrive as bigint or string). */
export function toMailboxLockRow(row: Record<string, unknown> | undefined): MailboxLockRow | null {
  if (!row) return null
  return {
    holder: row.holder === null ? null : String(row.holder),
    expiresAt: Number(row.expires_at),
    acquiredAt: Number(row.acquired_at),
  }
}
