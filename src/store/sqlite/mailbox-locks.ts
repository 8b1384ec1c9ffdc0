import {
  holdsMailboxLock,
  type MailboxLockRequest,
  type MailboxLockResult,
  planMailboxLock,
  toMailboxLockRow,
} from '../index.ts'
import type { Connection } from './connection.ts'
import { mailboxRow } from './mailbox-rows.ts'

// POP3's mailbox locks (store/mailbox-lock.ts). Each read and write below runs inside the
// caller's write transaction: SQLite's write lock makes the read and the write one step for
// every process on the database.

function readLock(c: Connection, mailboxId: number) {
  return toMailboxLockRow(
    c.get(
      'SELECT holder, expires_at, acquired_at FROM mailbox_locks WHERE mailbox_id = ?',
      mailboxId,
    ),
  )
}

/** Takes or extends the lock as planMailboxLock says; the caller holds a write transaction. */
export function lockMailbox(
  c: Connection,
  mailboxId: number,
  request: MailboxLockRequest,
  now: number,
): MailboxLockResult {
  mailboxRow(c, mailboxId)
  const { result, next } = planMailboxLock(readLock(c, mailboxId), request, now)
  if (next) {
    c.run(
      `INSERT OR REPLACE INTO mailbox_locks (mailbox_id, holder, expires_at, acquired_at)
       VALUES (?, ?, ?, ?)`,
      mailboxId,
      next.holder,
      next.expiresAt,
      next.acquiredAt,
    )
  }
  return result
}

export function unlockMailbox(c: Connection, mailboxId: number, holder: string): void {
  c.run(
    'UPDATE mailbox_locks SET holder = NULL WHERE mailbox_id = ? AND holder = ?',
    mailboxId,
    holder,
  )
}

/** Whether `holder` has the mailbox's lock now; the caller holds a write transaction. */
export function holdsLock(c: Connection, mailboxId: number, holder: string, now: number): boolean {
  return holdsMailboxLock(readLock(c, mailboxId), holder, now)
}
