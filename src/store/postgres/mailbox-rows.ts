import type pg from 'pg'
import {
  ConflictError,
  checkMailboxName,
  MAILBOX_SEPARATOR,
  MAX_MAILBOXES_PER_ACCOUNT,
  MAX_SUBSCRIPTIONS_PER_ACCOUNT,
  type Mailbox,
  type MailboxRole,
  NotFoundError,
  parentNames,
  shape,
} from '../index.ts'
import { all, type Client, isUniqueViolation, one, type Row, run, transaction } from './database.ts'

// Prefix tests with length(), which counts characters, as left() does.
const CHILDREN = 'account_id = $1 AND left(name, length($2)) = $2'

/** A UIDVALIDITY no mailbox of this database has had (RFC 9051 §2.3.1.1), across all nodes. */
async function nextUidValidity(client: Client): Promise<number> {
  const row = await one<{ value: number }>(
    client,
    `UPDATE meta SET value = GREATEST(value + 1, $1) WHERE key = 'last_uid_validity'
     RETURNING value`,
    [Math.floor(Date.now() / 1000)],
  )
  return Number(row?.value)
}

export async function insertMailbox(
  client: Client,
  accountId: number,
  name: string,
  role: MailboxRole | null,
): Promise<number> {
  const row = await one<{ id: number }>(
    client,
    'INSERT INTO mailboxes (account_id, name, role, uid_validity) VALUES ($1, $2, $3, $4) RETURNING id',
    [accountId, name, role, await nextUidValidity(client)],
  )
  return Number(row?.id)
}

export async function mailboxRow(client: Client | pg.Pool, id: number, lock = false): Promise<Row> {
  const row = await one(
    client,
    `SELECT ${shape.MAILBOX_COLUMNS} FROM mailboxes WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [id],
  )
  if (!row) throw new NotFoundError(`Mailbox ${id} does not exist`)
  return row
}

async function mailboxIdByName(client: Client, accountId: number, name: string) {
  return (
    await one<{ id: number }>(
      client,
      'SELECT id FROM mailboxes WHERE account_id = $1 AND name = $2',
      [accountId, name],
    )
  )?.id
}

async function createParents(client: Client, accountId: number, name: string): Promise<void> {
  for (const parent of parentNames(name)) {
    if ((await mailboxIdByName(client, accountId, parent)) === undefined) {
      await insertMailbox(client, accountId, parent, null)
    }
  }
}

/** Locks the account row, so that mailbox changes of one account run one at a time. */
async function lockAccount(client: Client, accountId: number): Promise<void> {
  if (!(await one(client, 'SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId]))) {
    throw new NotFoundError(`Account ${accountId} does not exist`)
  }
}

async function checkMailboxCount(client: Client, accountId: number, adding: number) {
  const row = await one<{ n: number }>(
    client,
    'SELECT count(*)::bigint AS n FROM mailboxes WHERE account_id = $1',
    [accountId],
  )
  if (Number(row?.n) + adding > MAX_MAILBOXES_PER_ACCOUNT) {
    throw new ConflictError(
      `An account cannot have more than ${MAX_MAILBOXES_PER_ACCOUNT} mailboxes`,
    )
  }
}

export async function listMailboxes(pool: pg.Pool, accountId: number): Promise<Mailbox[]> {
  return (
    await all(
      pool,
      `SELECT ${shape.MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = $1 ORDER BY name COLLATE "C"`,
      [accountId],
    )
  ).map(shape.toMailbox)
}

export async function getMailbox(
  pool: pg.Pool,
  accountId: number,
  name: string,
): Promise<Mailbox | null> {
  let canonical: string
  try {
    canonical = checkMailboxName(name)
  } catch {
    return null
  }
  const row = await one(
    pool,
    `SELECT ${shape.MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = $1 AND name = $2`,
    [accountId, canonical],
  )
  return row ? shape.toMailbox(row) : null
}

export async function createMailbox(
  pool: pg.Pool,
  accountId: number,
  name: string,
  role: MailboxRole | null,
): Promise<Mailbox> {
  const canonical = checkMailboxName(name)
  try {
    return await transaction(pool, async (client) => {
      await lockAccount(client, accountId)
      if ((await mailboxIdByName(client, accountId, canonical)) !== undefined) {
        throw new ConflictError(`Mailbox ${canonical} already exists`)
      }
      if (
        role &&
        (await one(client, 'SELECT 1 FROM mailboxes WHERE account_id = $1 AND role = $2', [
          accountId,
          role,
        ]))
      ) {
        throw new ConflictError(`Another mailbox already has the role ${role}`)
      }
      await checkMailboxCount(client, accountId, parentNames(canonical).length + 1)
      await createParents(client, accountId, canonical)
      return shape.toMailbox(
        await mailboxRow(client, await insertMailbox(client, accountId, canonical, role)),
      )
    })
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(`Mailbox ${canonical} already exists`)
    throw error
  }
}

export async function deleteMailbox(pool: pg.Pool, id: number): Promise<void> {
  await transaction(pool, async (client) => {
    const mailbox = shape.toMailbox(await mailboxRow(client, id))
    await lockAccount(client, mailbox.accountId)
    await mailboxRow(client, id, true)
    if (mailbox.name === 'INBOX') throw new ConflictError('INBOX cannot be deleted')
    const prefix = mailbox.name + MAILBOX_SEPARATOR
    if (
      await one(client, `SELECT 1 FROM mailboxes WHERE ${CHILDREN} LIMIT 1`, [
        mailbox.accountId,
        prefix,
      ])
    ) {
      throw new ConflictError(`Mailbox ${mailbox.name} has children; delete them first`)
    }
    await run(client, 'DELETE FROM messages WHERE mailbox_id = $1', [id])
    await run(client, 'DELETE FROM expunged WHERE mailbox_id = $1', [id])
    await run(client, 'DELETE FROM mailbox_locks WHERE mailbox_id = $1', [id])
    await run(client, 'DELETE FROM mailboxes WHERE id = $1', [id])
    await run(client, "SELECT pg_notify('postern_mailbox', $1)", [String(id)])
  })
}

/** As the SQLite backend's renameMailbox; `moveInbox` runs inside the transaction. */
export async function renameMailbox(
  pool: pg.Pool,
  id: number,
  newName: string,
  moveInbox: (client: Client, from: number, to: number) => Promise<void>,
): Promise<Mailbox> {
  const canonical = checkMailboxName(newName)
  return transaction(pool, async (client) => {
    const mailbox = shape.toMailbox(await mailboxRow(client, id))
    const { accountId } = mailbox
    await lockAccount(client, accountId)
    if ((await mailboxIdByName(client, accountId, canonical)) !== undefined) {
      throw new ConflictError(`Mailbox ${canonical} already exists`)
    }
    if (mailbox.name === 'INBOX') {
      await checkMailboxCount(client, accountId, parentNames(canonical).length + 1)
      await createParents(client, accountId, canonical)
      const created = await insertMailbox(client, accountId, canonical, null)
      await moveInbox(client, id, created)
      return shape.toMailbox(await mailboxRow(client, created))
    }
    const oldPrefix = mailbox.name + MAILBOX_SEPARATOR
    if (canonical.startsWith(oldPrefix)) {
      throw new ConflictError(`Mailbox ${mailbox.name} cannot be moved inside itself`)
    }
    const children = (
      await all<{ id: number; name: string }>(
        client,
        `SELECT id, name FROM mailboxes WHERE ${CHILDREN}`,
        [accountId, oldPrefix],
      )
    ).map((child) => ({
      id: child.id,
      name: checkMailboxName(canonical + MAILBOX_SEPARATOR + child.name.slice(oldPrefix.length)),
    }))
    const missing: string[] = []
    for (const parent of parentNames(canonical)) {
      if ((await mailboxIdByName(client, accountId, parent)) === undefined) missing.push(parent)
    }
    await checkMailboxCount(client, accountId, missing.length)
    await createParents(client, accountId, canonical)
    for (const child of children) {
      await run(client, 'UPDATE mailboxes SET name = $1 WHERE id = $2', [child.name, child.id])
    }
    await run(client, 'UPDATE mailboxes SET name = $1 WHERE id = $2', [canonical, id])
    return shape.toMailbox(await mailboxRow(client, id))
  })
}

export async function setSubscribed(
  pool: pg.Pool,
  accountId: number,
  name: string,
  subscribed: boolean,
): Promise<void> {
  const canonical = checkMailboxName(name)
  if (!subscribed) {
    await run(pool, 'DELETE FROM subscriptions WHERE account_id = $1 AND name = $2', [
      accountId,
      canonical,
    ])
    return
  }
  await transaction(pool, async (client) => {
    await lockAccount(client, accountId)
    // Subscribing again is a no-op, also at the limit.
    if (
      await one(client, 'SELECT 1 FROM subscriptions WHERE account_id = $1 AND name = $2', [
        accountId,
        canonical,
      ])
    ) {
      return
    }
    const row = await one<{ n: number }>(
      client,
      'SELECT count(*)::bigint AS n FROM subscriptions WHERE account_id = $1',
      [accountId],
    )
    if (Number(row?.n) >= MAX_SUBSCRIPTIONS_PER_ACCOUNT) {
      throw new ConflictError(
        `An account cannot have more than ${MAX_SUBSCRIPTIONS_PER_ACCOUNT} subscriptions`,
      )
    }
    await run(
      client,
      'INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [accountId, canonical],
    )
  })
}

export async function listSubscriptions(pool: pg.Pool, accountId: number): Promise<string[]> {
  return (
    await all<{ name: string }>(
      pool,
      'SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name COLLATE "C"',
      [accountId],
    )
  ).map((row) => row.name)
}
