import {
  type Account,
  type AccountCredentials,
  type Alias,
  ConflictError,
  type Domain,
  MAX_ALIAS_TARGETS,
  NotFoundError,
  type QuotaLimits,
  shape,
} from '../index.ts'
import type { Connection } from './connection.ts'
import { insertMailbox } from './mailbox-rows.ts'

// Domains, accounts and aliases: the directory's data. Names arrive in canonical form from
// src/directory; here they are only compared exactly.

export function addDomain(c: Connection, name: string): Domain {
  return c.write(() => {
    if (c.get('SELECT 1 FROM domains WHERE name = ?', name)) {
      throw new ConflictError(`Domain ${name} already exists`)
    }
    const createdAt = Date.now()
    c.run('INSERT INTO domains (name, created_at) VALUES (?, ?)', name, createdAt)
    return { name, createdAt: new Date(createdAt) }
  })
}

export function removeDomain(c: Connection, name: string): void {
  c.write(() => {
    if (!c.get('SELECT 1 FROM domains WHERE name = ?', name)) {
      throw new NotFoundError(`Domain ${name} does not exist`)
    }
    if (c.get('SELECT 1 FROM accounts WHERE domain = ? LIMIT 1', name)) {
      throw new ConflictError(`Domain ${name} still has accounts; remove them first`)
    }
    if (c.get('SELECT 1 FROM aliases WHERE domain = ? LIMIT 1', name)) {
      throw new ConflictError(`Domain ${name} still has aliases; remove them first`)
    }
    c.run('DELETE FROM domains WHERE name = ?', name)
  })
}

export function listDomains(c: Connection): Domain[] {
  return c.all('SELECT name, created_at FROM domains ORDER BY name').map(shape.toDomain)
}

export function getDomain(c: Connection, name: string): Domain | null {
  const row = c.get('SELECT name, created_at FROM domains WHERE name = ?', name)
  return row ? shape.toDomain(row) : null
}

export function addAccount(
  c: Connection,
  input: {
    address: string
    domain: string
    credentials: AccountCredentials
    quota?: Partial<QuotaLimits>
  },
): Account {
  return c.write(() => {
    if (!c.get('SELECT 1 FROM domains WHERE name = ?', input.domain)) {
      throw new NotFoundError(`Domain ${input.domain} does not exist`)
    }
    if (c.get('SELECT 1 FROM accounts WHERE address = ?', input.address)) {
      throw new ConflictError(`Account ${input.address} already exists`)
    }
    if (c.get('SELECT 1 FROM aliases WHERE source = ? LIMIT 1', input.address)) {
      throw new ConflictError(`${input.address} is an alias`)
    }
    const { lastId } = c.run(
      `INSERT INTO accounts (address, domain, password_hash, scram_sha256, quota_storage,
        quota_messages, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      input.address,
      input.domain,
      input.credentials.passwordHash,
      input.credentials.scramSha256,
      input.quota?.storage ?? null,
      input.quota?.messages ?? null,
      Date.now(),
    )
    // Written only when there is one (the column is NULL otherwise), so that the upgrade tests
    // can still fill a database from before schema version 5, which has no such column.
    const { apopSecret } = input.credentials
    if (apopSecret != null) {
      c.run('UPDATE accounts SET apop_secret = ? WHERE id = ?', apopSecret, lastId)
    }
    for (const [name, role] of shape.DEFAULT_MAILBOXES) {
      insertMailbox(c, lastId, name, role)
      c.run('INSERT INTO subscriptions (account_id, name) VALUES (?, ?)', lastId, name)
    }
    return shape.toAccount(
      c.get(`SELECT ${shape.ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`, lastId) ?? {},
    )
  })
}

/** Removes the account's rows; returns its mailbox ids so their watchers can be told. */
export function removeAccount(c: Connection, address: string): number[] {
  return c.write(() => {
    const account = c.get<{ id: number }>('SELECT id FROM accounts WHERE address = ?', address)
    if (!account) throw new NotFoundError(`Account ${address} does not exist`)
    const mailboxes = c
      .all<{ id: number }>('SELECT id FROM mailboxes WHERE account_id = ?', account.id)
      .map((row) => row.id)
    for (const id of mailboxes) {
      c.run('DELETE FROM messages WHERE mailbox_id = ?', id)
      c.run('DELETE FROM expunged WHERE mailbox_id = ?', id)
      c.run('DELETE FROM mailbox_locks WHERE mailbox_id = ?', id)
    }
    c.run('DELETE FROM mailboxes WHERE account_id = ?', account.id)
    c.run('DELETE FROM subscriptions WHERE account_id = ?', account.id)
    c.run('DELETE FROM accounts WHERE id = ?', account.id)
    return mailboxes
  })
}

export function getAccount(c: Connection, address: string): Account | null {
  const row = c.get(`SELECT ${shape.ACCOUNT_COLUMNS} FROM accounts WHERE address = ?`, address)
  return row ? shape.toAccount(row) : null
}

export function getAccountById(c: Connection, id: number): Account | null {
  const row = c.get(`SELECT ${shape.ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`, id)
  return row ? shape.toAccount(row) : null
}

export function listAccounts(c: Connection, domain?: string): Account[] {
  const rows =
    domain === undefined
      ? c.all(`SELECT ${shape.ACCOUNT_COLUMNS} FROM accounts ORDER BY address`)
      : c.all(
          `SELECT ${shape.ACCOUNT_COLUMNS} FROM accounts WHERE domain = ? ORDER BY address`,
          domain,
        )
  return rows.map(shape.toAccount)
}

export function getCredentials(c: Connection, address: string): AccountCredentials | null {
  const row = c.get<{ password_hash: string; scram_sha256: string; apop_secret: string | null }>(
    'SELECT password_hash, scram_sha256, apop_secret FROM accounts WHERE address = ?',
    address,
  )
  return row
    ? {
        passwordHash: row.password_hash,
        scramSha256: row.scram_sha256,
        apopSecret: row.apop_secret,
      }
    : null
}

/** Replaces all of them: an APOP secret not given is gone (APOP off, or a new password). */
export function setCredentials(
  c: Connection,
  address: string,
  credentials: AccountCredentials,
): void {
  const { changes } = c.run(
    'UPDATE accounts SET password_hash = ?, scram_sha256 = ?, apop_secret = ? WHERE address = ?',
    credentials.passwordHash,
    credentials.scramSha256,
    credentials.apopSecret ?? null,
    address,
  )
  if (changes === 0) throw new NotFoundError(`Account ${address} does not exist`)
}

export function setQuota(c: Connection, address: string, quota: Partial<QuotaLimits>): void {
  c.write(() => {
    const row = c.get<{ quota_storage: number | null; quota_messages: number | null }>(
      'SELECT quota_storage, quota_messages FROM accounts WHERE address = ?',
      address,
    )
    if (!row) throw new NotFoundError(`Account ${address} does not exist`)
    c.run(
      'UPDATE accounts SET quota_storage = ?, quota_messages = ? WHERE address = ?',
      quota.storage === undefined ? row.quota_storage : quota.storage,
      quota.messages === undefined ? row.quota_messages : quota.messages,
      address,
    )
  })
}

/** The domain part of an alias source: "user@domain" or "@domain". */
function sourceDomain(source: string): string {
  return source.slice(source.lastIndexOf('@') + 1)
}

export function addAlias(c: Connection, source: string, targets: readonly string[]): Alias {
  if (targets.length === 0) throw new ConflictError(`Alias ${source} needs at least one target`)
  return c.write(() => {
    const domain = sourceDomain(source)
    if (!c.get('SELECT 1 FROM domains WHERE name = ?', domain)) {
      throw new NotFoundError(`Domain ${domain} does not exist`)
    }
    if (c.get('SELECT 1 FROM accounts WHERE address = ?', source)) {
      throw new ConflictError(`${source} is an account; an address cannot be both`)
    }
    let position =
      c.get<{ last: number | null }>(
        'SELECT max(position) AS last FROM aliases WHERE source = ?',
        source,
      )?.last ?? 0
    for (const target of targets) {
      const { changes } = c.run(
        `INSERT INTO aliases (source, target, domain, position) VALUES (?, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
        source,
        target,
        domain,
        position + 1,
      )
      position += changes
    }
    const alias = readAlias(c, source)
    if (!alias || alias.targets.length > MAX_ALIAS_TARGETS) {
      throw new ConflictError(`An alias cannot have more than ${MAX_ALIAS_TARGETS} targets`)
    }
    return alias
  })
}

export function removeAlias(c: Connection, source: string, targets?: readonly string[]): void {
  c.write(() => {
    if (!readAlias(c, source)) throw new NotFoundError(`Alias ${source} does not exist`)
    if (targets === undefined) {
      c.run('DELETE FROM aliases WHERE source = ?', source)
      return
    }
    for (const target of targets) {
      const { changes } = c.run(
        'DELETE FROM aliases WHERE source = ? AND target = ?',
        source,
        target,
      )
      if (changes === 0) throw new NotFoundError(`Alias ${source} has no target ${target}`)
    }
  })
}

function readAlias(c: Connection, source: string): Alias | null {
  const targets = c
    .all<{ target: string }>(
      'SELECT target FROM aliases WHERE source = ? ORDER BY position',
      source,
    )
    .map((row) => row.target)
  return targets.length === 0 ? null : { source, targets }
}

export function getAlias(c: Connection, source: string): Alias | null {
  return readAlias(c, source)
}

export function listAliases(c: Connection, domain?: string): Alias[] {
  const rows =
    domain === undefined
      ? c.all<{ source: string; target: string }>(
          'SELECT source, target FROM aliases ORDER BY source, position',
        )
      : c.all<{ source: string; target: string }>(
          'SELECT source, target FROM aliases WHERE domain = ? ORDER BY source, position',
          domain,
        )
  const aliases: Alias[] = []
  for (const row of rows) {
    const last = aliases.at(-1)
    if (last?.source === row.source) last.targets.push(row.target)
    else aliases.push({ source: row.source, targets: [row.target] })
  }
  return aliases
}
