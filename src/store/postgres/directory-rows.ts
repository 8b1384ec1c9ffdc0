import type pg from 'pg'
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
import { all, isUniqueViolation, one, run, transaction } from './database.ts'
import { insertMailbox } from './mailbox-rows.ts'

// Domains, accounts and aliases, as the SQLite backend keeps them (names compared exactly).

export async function addDomain(pool: pg.Pool, name: string): Promise<Domain> {
  const createdAt = Date.now()
  const row = await one(
    pool,
    'INSERT INTO domains (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING name',
    [name, createdAt],
  )
  if (!row) throw new ConflictError(`Domain ${name} already exists`)
  return { name, createdAt: new Date(createdAt) }
}

export async function removeDomain(pool: pg.Pool, name: string): Promise<void> {
  await transaction(pool, async (client) => {
    if (!(await one(client, 'SELECT 1 FROM domains WHERE name = $1 FOR UPDATE', [name]))) {
      throw new NotFoundError(`Domain ${name} does not exist`)
    }
    if (await one(client, 'SELECT 1 FROM accounts WHERE domain = $1 LIMIT 1', [name])) {
      throw new ConflictError(`Domain ${name} still has accounts; remove them first`)
    }
    if (await one(client, 'SELECT 1 FROM aliases WHERE domain = $1 LIMIT 1', [name])) {
      throw new ConflictError(`Domain ${name} still has aliases; remove them first`)
    }
    await run(client, 'DELETE FROM domains WHERE name = $1', [name])
  })
}

export async function listDomains(pool: pg.Pool): Promise<Domain[]> {
  return (await all(pool, 'SELECT name, created_at FROM domains ORDER BY name COLLATE "C"')).map(
    shape.toDomain,
  )
}

export async function getDomain(pool: pg.Pool, name: string): Promise<Domain | null> {
  const row = await one(pool, 'SELECT name, created_at FROM domains WHERE name = $1', [name])
  return row ? shape.toDomain(row) : null
}

export async function addAccount(
  pool: pg.Pool,
  input: {
    address: string
    domain: string
    credentials: AccountCredentials
    quota?: Partial<QuotaLimits>
  },
): Promise<Account> {
  try {
    return await transaction(pool, async (client) => {
      // FOR SHARE: the domain cannot be removed while its account is being added.
      if (!(await one(client, 'SELECT 1 FROM domains WHERE name = $1 FOR SHARE', [input.domain]))) {
        throw new NotFoundError(`Domain ${input.domain} does not exist`)
      }
      if (await one(client, 'SELECT 1 FROM accounts WHERE address = $1', [input.address])) {
        throw new ConflictError(`Account ${input.address} already exists`)
      }
      if (await one(client, 'SELECT 1 FROM aliases WHERE source = $1 LIMIT 1', [input.address])) {
        throw new ConflictError(`${input.address} is an alias`)
      }
      const row = await one(
        client,
        `INSERT INTO accounts (address, domain, password_hash, scram_sha256, quota_storage,
          quota_messages, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING ${shape.ACCOUNT_COLUMNS}`,
        [
          input.address,
          input.domain,
          input.credentials.passwordHash,
          input.credentials.scramSha256,
          input.quota?.storage ?? null,
          input.quota?.messages ?? null,
          Date.now(),
        ],
      )
      if (!row) throw new Error('INSERT returned no row')
      const account = shape.toAccount(row)
      // Written only when there is one (the column is NULL otherwise), so that the upgrade tests
      // can still fill a database from before schema version 4, which has no such column.
      const { apopSecret } = input.credentials
      if (apopSecret != null) {
        await run(client, 'UPDATE accounts SET apop_secret = $1 WHERE id = $2', [
          apopSecret,
          account.id,
        ])
      }
      for (const [name, role] of shape.DEFAULT_MAILBOXES) {
        await insertMailbox(client, account.id, name, role)
        await run(client, 'INSERT INTO subscriptions (account_id, name) VALUES ($1, $2)', [
          account.id,
          name,
        ])
      }
      return account
    })
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(`Account ${input.address} already exists`)
    throw error
  }
}

/** Removes the account's rows; returns its mailbox ids so their watchers can be told. */
export async function removeAccount(pool: pg.Pool, address: string): Promise<number[]> {
  return transaction(pool, async (client) => {
    const account = await one<{ id: number }>(
      client,
      'SELECT id FROM accounts WHERE address = $1 FOR UPDATE',
      [address],
    )
    if (!account) throw new NotFoundError(`Account ${address} does not exist`)
    const mailboxes = (
      await all<{ id: number }>(
        client,
        'SELECT id FROM mailboxes WHERE account_id = $1 ORDER BY id FOR UPDATE',
        [account.id],
      )
    ).map((row) => row.id)
    await run(client, 'DELETE FROM messages WHERE mailbox_id = ANY($1)', [mailboxes])
    await run(client, 'DELETE FROM expunged WHERE mailbox_id = ANY($1)', [mailboxes])
    await run(client, 'DELETE FROM mailbox_locks WHERE mailbox_id = ANY($1)', [mailboxes])
    await run(client, 'DELETE FROM mailboxes WHERE account_id = $1', [account.id])
    await run(client, 'DELETE FROM subscriptions WHERE account_id = $1', [account.id])
    await run(client, 'DELETE FROM accounts WHERE id = $1', [account.id])
    return mailboxes
  })
}

export async function getAccount(pool: pg.Pool, address: string): Promise<Account | null> {
  const row = await one(pool, `SELECT ${shape.ACCOUNT_COLUMNS} FROM accounts WHERE address = $1`, [
    address,
  ])
  return row ? shape.toAccount(row) : null
}

export async function getAccountById(pool: pg.Pool, id: number): Promise<Account | null> {
  const row = await one(pool, `SELECT ${shape.ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id])
  return row ? shape.toAccount(row) : null
}

export async function listAccounts(pool: pg.Pool, domain?: string): Promise<Account[]> {
  const rows =
    domain === undefined
      ? await all(
          pool,
          `SELECT ${shape.ACCOUNT_COLUMNS} FROM accounts ORDER BY address COLLATE "C"`,
        )
      : await all(
          pool,
          `SELECT ${shape.ACCOUNT_COLUMNS} FROM accounts WHERE domain = $1 ORDER BY address COLLATE "C"`,
          [domain],
        )
  return rows.map(shape.toAccount)
}

export async function getCredentials(
  pool: pg.Pool,
  address: string,
): Promise<AccountCredentials | null> {
  const row = await one<{
    password_hash: string
    scram_sha256: string
    apop_secret: string | null
  }>(pool, 'SELECT password_hash, scram_sha256, apop_secret FROM accounts WHERE address = $1', [
    address,
  ])
  return row
    ? {
        passwordHash: row.password_hash,
        scramSha256: row.scram_sha256,
        apopSecret: row.apop_secret,
      }
    : null
}

/** Replaces all of them: an APOP secret not given is gone (APOP off, or a new password). */
export async function setCredentials(
  pool: pg.Pool,
  address: string,
  credentials: AccountCredentials,
): Promise<void> {
  const result = await run(
    pool,
    'UPDATE accounts SET password_hash = $1, scram_sha256 = $2, apop_secret = $3 WHERE address = $4',
    [credentials.passwordHash, credentials.scramSha256, credentials.apopSecret ?? null, address],
  )
  if (result.rowCount === 0) throw new NotFoundError(`Account ${address} does not exist`)
}

export async function setQuota(
  pool: pg.Pool,
  address: string,
  quota: Partial<QuotaLimits>,
): Promise<void> {
  // A limit left out keeps its value: CASE on whether it was given.
  const result = await run(
    pool,
    `UPDATE accounts SET
       quota_storage = CASE WHEN $1 THEN $2::bigint ELSE quota_storage END,
       quota_messages = CASE WHEN $3 THEN $4::bigint ELSE quota_messages END
     WHERE address = $5`,
    [
      quota.storage !== undefined,
      quota.storage ?? null,
      quota.messages !== undefined,
      quota.messages ?? null,
      address,
    ],
  )
  if (result.rowCount === 0) throw new NotFoundError(`Account ${address} does not exist`)
}

function sourceDomain(source: string): string {
  return source.slice(source.lastIndexOf('@') + 1)
}

export async function addAlias(
  pool: pg.Pool,
  source: string,
  targets: readonly string[],
): Promise<Alias> {
  if (targets.length === 0) throw new ConflictError(`Alias ${source} needs at least one target`)
  return transaction(pool, async (client) => {
    const domain = sourceDomain(source)
    if (!(await one(client, 'SELECT 1 FROM domains WHERE name = $1 FOR SHARE', [domain]))) {
      throw new NotFoundError(`Domain ${domain} does not exist`)
    }
    if (await one(client, 'SELECT 1 FROM accounts WHERE address = $1', [source])) {
      throw new ConflictError(`${source} is an account; an address cannot be both`)
    }
    let position = Number(
      (
        await one<{ last: number | null }>(
          client,
          'SELECT max(position) AS last FROM aliases WHERE source = $1',
          [source],
        )
      )?.last ?? 0,
    )
    for (const target of targets) {
      const result = await run(
        client,
        `INSERT INTO aliases (source, target, domain, position) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING`,
        [source, target, domain, position + 1],
      )
      position += result.rowCount ?? 0
    }
    const alias = await readAlias(client, source)
    if (!alias || alias.targets.length > MAX_ALIAS_TARGETS) {
      throw new ConflictError(`An alias cannot have more than ${MAX_ALIAS_TARGETS} targets`)
    }
    return alias
  })
}

export async function removeAlias(
  pool: pg.Pool,
  source: string,
  targets?: readonly string[],
): Promise<void> {
  await transaction(pool, async (client) => {
    if (!(await readAlias(client, source)))
      throw new NotFoundError(`Alias ${source} does not exist`)
    if (targets === undefined) {
      await run(client, 'DELETE FROM aliases WHERE source = $1', [source])
      return
    }
    for (const target of targets) {
      const result = await run(client, 'DELETE FROM aliases WHERE source = $1 AND target = $2', [
        source,
        target,
      ])
      if (result.rowCount === 0) throw new NotFoundError(`Alias ${source} has no target ${target}`)
    }
  })
}

async function readAlias(client: pg.ClientBase | pg.Pool, source: string): Promise<Alias | null> {
  const targets = (
    await all<{ target: string }>(
      client,
      'SELECT target FROM aliases WHERE source = $1 ORDER BY position',
      [source],
    )
  ).map((row) => row.target)
  return targets.length === 0 ? null : { source, targets }
}

export async function getAlias(pool: pg.Pool, source: string): Promise<Alias | null> {
  return readAlias(pool, source)
}

export async function listAliases(pool: pg.Pool, domain?: string): Promise<Alias[]> {
  const rows =
    domain === undefined
      ? await all<{ source: string; target: string }>(
          pool,
          'SELECT source, target FROM aliases ORDER BY source COLLATE "C", position',
        )
      : await all<{ source: string; target: string }>(
          pool,
          'SELECT source, target FROM aliases WHERE domain = $1 ORDER BY source COLLATE "C", position',
          [domain],
        )
  const aliases: Alias[] = []
  for (const row of rows) {
    const last = aliases.at(-1)
    if (last?.source === row.source) last.targets.push(row.target)
    else aliases.push({ source: row.source, targets: [row.target] })
  }
  return aliases
}
