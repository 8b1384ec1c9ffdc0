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
import type { Connection, Row } from './connection.ts'

/**
 * A UIDVALIDITY no mailbox of this database has had: the current time in seconds, or one more
 * than the last one given when the clock is behind it. A mailbox deleted and created again under
 * the same name therefore never reuses one (RFC 9051 §2.3.1.1).
 */
function nextUidValidity(c: Connection): number {
  const last = c.get<{ value: number }>("SELECT value FROM meta WHERE key = 'last_uid_validity'")
  const value = Math.max(Math.floor(Date.now() / 1000), Number(last?.value ?? 0) + 1)
  c.run("UPDATE meta SET value = ? WHERE key = 'last_uid_validity'", value)
  return value
}

/** Inserts one mailbox row; the caller holds a write transaction and checked the name. */
export function insertMailbox(
  c: Connection,
  accountId: number,
  name: string,
  role: MailboxRole | null,
): number {
  return c.run(
    'INSERT INTO mailboxes (account_id, name, role, uid_validity) VALUES (?, ?, ?, ?)',
    accountId,
    name,
    role,
    nextUidValidity(c),
  ).lastId
}

export function mailboxRow(c: Connection, id: number): Row {
  const row = c.get(`SELECT ${shape.MAILBOX_COLUMNS} FROM mailboxes WHERE id = ?`, id)
  if (!row) throw new NotFoundError(`Mailbox ${id} does not exist`)
  return row
}

function mailboxIdByName(c: Connection, accountId: number, name: string): number | undefined {
  return c.get<{ id: number }>(
    'SELECT id FROM mailboxes WHERE account_id = ? AND name = ?',
    accountId,
    name,
  )?.id
}

// Prefixes are compared with SQLite's length(), which counts characters as substr() does; a
// JavaScript length counts UTF-16 units and is wrong for names with characters beyond the BMP.
const CHILDREN = 'account_id = ? AND substr(name, 1, length(?)) = ?'

function hasChildren(c: Connection, accountId: number, name: string): boolean {
  const prefix = name + MAILBOX_SEPARATOR
  return (
    c.get(`SELECT 1 FROM mailboxes WHERE ${CHILDREN} LIMIT 1`, accountId, prefix, prefix) !==
    undefined
  )
}

/** Creates the missing ancestors of `name` (RFC 9051 §6.3.4: CREATE makes the hierarchy). */
function createParents(c: Connection, accountId: number, name: string): void {
  for (const parent of parentNames(name)) {
    if (mailboxIdByName(c, accountId, parent) === undefined) {
      insertMailbox(c, accountId, parent, null)
    }
  }
}

function checkMailboxCount(c: Connection, accountId: number, adding: number): void {
  const count = Number(
    c.get<{ n: number }>('SELECT count(*) AS n FROM mailboxes WHERE account_id = ?', accountId)?.n,
  )
  if (count + adding > MAX_MAILBOXES_PER_ACCOUNT) {
    throw new ConflictError(
      `An account cannot have more than ${MAX_MAILBOXES_PER_ACCOUNT} mailboxes`,
    )
  }
}

export function listMailboxes(c: Connection, accountId: number): Mailbox[] {
  return c
    .all(
      `SELECT ${shape.MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = ? ORDER BY name`,
      accountId,
    )
    .map(shape.toMailbox)
}

export function getMailbox(c: Connection, accountId: number, name: string): Mailbox | null {
  let canonical: string
  try {
    canonical = checkMailboxName(name)
  } catch {
    return null
  }
  const row = c.get(
    `SELECT ${shape.MAILBOX_COLUMNS} FROM mailboxes WHERE account_id = ? AND name = ?`,
    accountId,
    canonical,
  )
  return row ? shape.toMailbox(row) : null
}

export function createMailbox(
  c: Connection,
  accountId: number,
  name: string,
  role: MailboxRole | null,
): Mailbox {
  const canonical = checkMailboxName(name)
  return c.write(() => {
    if (!c.get('SELECT 1 FROM accounts WHERE id = ?', accountId)) {
      throw new NotFoundError(`Account ${accountId} does not exist`)
    }
    if (mailboxIdByName(c, accountId, canonical) !== undefined) {
      throw new ConflictError(`Mailbox ${canonical} already exists`)
    }
    if (
      role &&
      c.get('SELECT 1 FROM mailboxes WHERE account_id = ? AND role = ?', accountId, role)
    ) {
      throw new ConflictError(`Another mailbox already has the role ${role}`)
    }
    checkMailboxCount(c, accountId, parentNames(canonical).length + 1)
    createParents(c, accountId, canonical)
    return shape.toMailbox(mailboxRow(c, insertMailbox(c, accountId, canonical, role)))
  })
}

export function deleteMailbox(c: Connection, id: number): void {
  c.write(() => {
    const mailbox = shape.toMailbox(mailboxRow(c, id))
    if (mailbox.name === 'INBOX') throw new ConflictError('INBOX cannot be deleted')
    if (hasChildren(c, mailbox.accountId, mailbox.name)) {
      throw new ConflictError(`Mailbox ${mailbox.name} has children; delete them first`)
    }
    c.run('DELETE FROM messages WHERE mailbox_id = ?', id)
    c.run('DELETE FROM expunged WHERE mailbox_id = ?', id)
    c.run('DELETE FROM mailbox_locks WHERE mailbox_id = ?', id)
    c.run('DELETE FROM mailboxes WHERE id = ?', id)
  })
}

/**
 * Renames a mailbox and its children. INBOX is special (RFC 9051 §6.3.6): its messages move to
 * a new mailbox of the new name, INBOX stays, empty, and its children keep their names. The
 * caller passes `moveInbox` to do that move inside this transaction.
 */
export function renameMailbox(
  c: Connection,
  id: number,
  newName: string,
  moveInbox: (from: number, to: number) => void,
): Mailbox {
  const canonical = checkMailboxName(newName)
  return c.write(() => {
    const mailbox = shape.toMailbox(mailboxRow(c, id))
    const { accountId } = mailbox
    if (mailboxIdByName(c, accountId, canonical) !== undefined) {
      throw new ConflictError(`Mailbox ${canonical} already exists`)
    }
    if (mailbox.name === 'INBOX') {
      checkMailboxCount(c, accountId, parentNames(canonical).length + 1)
      createParents(c, accountId, canonical)
      const created = insertMailbox(c, accountId, canonical, null)
      moveInbox(id, created)
      return shape.toMailbox(mailboxRow(c, created))
    }
    const oldPrefix = mailbox.name + MAILBOX_SEPARATOR
    if (canonical.startsWith(oldPrefix)) {
      throw new ConflictError(`Mailbox ${mailbox.name} cannot be moved inside itself`)
    }
    // Every renamed child must still be a valid name (depth and length limits).
    const children = c
      .all<{ id: number; name: string }>(
        `SELECT id, name FROM mailboxes WHERE ${CHILDREN}`,
        accountId,
        oldPrefix,
        oldPrefix,
      )
      .map((child) => ({
        id: child.id,
        name: checkMailboxName(canonical + MAILBOX_SEPARATOR + child.name.slice(oldPrefix.length)),
      }))
    const missing = parentNames(canonical).filter(
      (parent) => mailboxIdByName(c, accountId, parent) === undefined,
    )
    checkMailboxCount(c, accountId, missing.length)
    createParents(c, accountId, canonical)
    for (const child of children) {
      c.run('UPDATE mailboxes SET name = ? WHERE id = ?', child.name, child.id)
    }
    c.run('UPDATE mailboxes SET name = ? WHERE id = ?', canonical, id)
    return shape.toMailbox(mailboxRow(c, id))
  })
}

export function setSubscribed(
  c: Connection,
  accountId: number,
  name: string,
  subscribed: boolean,
): void {
  const canonical = checkMailboxName(name)
  if (subscribed) {
    c.write(() => {
      if (!c.get('SELECT 1 FROM accounts WHERE id = ?', accountId)) {
        throw new NotFoundError(`Account ${accountId} does not exist`)
      }
      // Subscribing again is a no-op, also at the limit.
      if (
        c.get('SELECT 1 FROM subscriptions WHERE account_id = ? AND name = ?', accountId, canonical)
      ) {
        return
      }
      const count = c.get<{ n: number }>(
        'SELECT count(*) AS n FROM subscriptions WHERE account_id = ?',
        accountId,
      )
      if (Number(count?.n) >= MAX_SUBSCRIPTIONS_PER_ACCOUNT) {
        throw new ConflictError(
          `An account cannot have more than ${MAX_SUBSCRIPTIONS_PER_ACCOUNT} subscriptions`,
        )
      }
      c.run(
        'INSERT INTO subscriptions (account_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING',
        accountId,
        canonical,
      )
    })
  } else {
    c.run('DELETE FROM subscriptions WHERE account_id = ? AND name = ?', accountId, canonical)
  }
}

export function listSubscriptions(c: Connection, accountId: number): string[] {
  return c
    .all<{ name: string }>(
      'SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name',
      accountId,
    )
    .map((row) => row.name)
}
