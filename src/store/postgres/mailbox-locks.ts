import type pg from 'pg'
import {
  holdsMailboxLock,
  type MailboxLockRequest,
  type MailboxLockResult,
  planMailboxLock,
  toMailboxLockRow,
} from '../index.ts'
import { type Client, one, run, transaction } from './database.ts'
import { mailboxRow } from './mailbox-rows.ts'

// POP3's mailbox locks (store/mailbox-lock.ts) for every node at once. Whoever changes a lock
// holds its mailbox's row lock first (lockMailbox here, expunge in message-rows.ts), so that two
// nodes never both read a free lock and take it; rows go in the order mailboxes, then locks.

async function readLock(client: Client, mailboxId: number) {
  return toMailboxLockRow(
    await one(
      client,
      'SELECT holder, expires_at, acquired_at FROM mailbox_locks WHERE mailbox_id = $1',
      [mailboxId],
    ),
  )
}

export async function lockMailbox(
  pool: pg.Pool,
  mailboxId: number,
  request: MailboxLockRequest,
): Promise<MailboxLockResult> {
  return transaction(pool, async (client) => {
    await mailboxRow(client, mailboxId, true)
    const now = await databaseNow(client)
    const { result, next } = planMailboxLock(await readLock(client, mailboxId), request, now)
    if (next) {
      await run(
        client,
        `INSERT INTO mailbox_locks (mailbox_id, holder, expires_at, acquired_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (mailbox_id) DO UPDATE SET holder = EXCLUDED.holder,
           expires_at = EXCLUDED.expires_at, acquired_at = EXCLUDED.acquired_at`,
        [mailboxId, next.holder, next.expiresAt, next.acquiredAt],
      )
    }
    return result
  })
}

export async function unlockMailbox(pool: pg.Pool, mailboxId: number, holder: string) {
  // Under the mailbox's row lock like every other change of the lock, so it is ordered with them.
  await transaction(pool, async (client) => {
    if (
      (await one(client, 'SELECT id FROM mailboxes WHERE id = $1 FOR UPDATE', [mailboxId])) ===
      undefined
    )
      return
    await run(
      client,
      'UPDATE mailbox_locks SET holder = NULL WHERE mailbox_id = $1 AND holder = $2',
      [mailboxId, holder],
    )
  })
}

/**
 * The database's time in milliseconds: every node judges a lease by the same clock, so one whose
 * clock runs ahead cannot take a lock that is still live.
 */
export async function databaseNow(client: Client): Promise<number> {
  const row = await one<{ now: string }>(
    client,
    'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now',
  )
  return Number(row?.now)
}

/** Whether `holder` has the mailbox's lock now; the caller holds the mailbox's row lock. */
export async function holdsLock(
  client: Client,
  mailboxId: number,
  holder: string,
  now: number,
): Promise<boolean> {
  return holdsMailboxLock(await readLock(client, mailboxId), holder, now)
}
