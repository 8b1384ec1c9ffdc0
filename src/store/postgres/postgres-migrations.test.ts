import assert from 'node:assert/strict'
import { test } from 'node:test'
import pg from 'pg'
import { testDatabase } from '../../../test/support/postgres.ts'
import {
  checkClaimsAfterUpgrade,
  checkPop3AfterUpgrade,
  checkQueueAfterUpgrade,
  fillStore,
  OLD_QUEUE_ROWS,
  readContents,
} from '../contract/upgrade.ts'
import { type Migration, SchemaVersionError } from '../index.ts'
import {
  migratePostgresStore,
  openPostgresStore,
  POSTGRES_MIGRATIONS,
  postgresSchemaStatus,
} from './index.ts'

test('schema upgrades on PostgreSQL: refused at open until migrated, applied once, data kept', async (t) => {
  const url = await testDatabase(t)
  assert.equal((await postgresSchemaStatus(url)).current, 0, 'an empty database')
  const first = await openPostgresStore({ url })
  await first.addDomain('example.test')
  await first.close()
  const latest = POSTGRES_MIGRATIONS.length
  const next: Migration[] = [
    ...POSTGRES_MIGRATIONS,
    { version: latest + 1, description: 'a probe table', sql: 'CREATE TABLE probe (x bigint);' },
  ]
  await assert.rejects(openPostgresStore({ url, migrations: next }), SchemaVersionError)
  assert.deepEqual((await postgresSchemaStatus(url, next)).pending, [
    { version: latest + 1, description: 'a probe table' },
  ])
  assert.equal(
    (await migratePostgresStore(url, { migrations: next, dryRun: true })).current,
    latest,
  )
  // Two nodes migrating at once apply the step once (the advisory lock).
  const results = await Promise.all([
    migratePostgresStore(url, { migrations: next }),
    migratePostgresStore(url, { migrations: next }),
  ])
  assert.deepEqual(
    results.map((r) => r.current),
    [latest + 1, latest + 1],
  )
  const upgraded = await openPostgresStore({ url, migrations: next })
  assert.deepEqual(
    (await upgraded.listDomains()).map((d) => d.name),
    ['example.test'],
  )
  await upgraded.close()
  await assert.rejects(openPostgresStore({ url }), /newer than this Postern knows/)
})

test('version 1 to 2 on PostgreSQL adds the outbound queue and changes nothing else', async (t) => {
  const url = await testDatabase(t)
  const old = await openPostgresStore({ url, migrations: POSTGRES_MIGRATIONS.slice(0, 1) })
  await fillStore(old)
  const before = await readContents(old)
  await old.close()

  const v2 = POSTGRES_MIGRATIONS.slice(0, 2)
  await assert.rejects(
    openPostgresStore({ url, migrations: v2 }),
    /version 1 and this Postern needs version 2/,
  )
  assert.deepEqual(await postgresSchemaStatus(url, v2), {
    current: 1,
    latest: 2,
    pending: [{ version: 2, description: 'outbound queue: entries, recipients, blob references' }],
  })
  assert.deepEqual(await migratePostgresStore(url, { migrations: v2 }), {
    current: 2,
    latest: 2,
    pending: [],
  })
  // Later versions' code reads later columns: the rest of the way, then the checks.
  const latest = POSTGRES_MIGRATIONS.length
  assert.deepEqual(await migratePostgresStore(url), { current: latest, latest, pending: [] })
  const store = await openPostgresStore({ url })
  t.after(() => store.close())
  assert.deepEqual(await readContents(store), before)
  await checkQueueAfterUpgrade(store)
})

test('version 2 to 3 on PostgreSQL keeps queued recipients and lets them be claimed', async (t) => {
  const url = await testDatabase(t)
  const old = await openPostgresStore({ url, migrations: POSTGRES_MIGRATIONS.slice(0, 2) })
  await fillStore(old)
  const before = await readContents(old)
  await old.close()
  // Version 2's code is gone; its rows are written as it wrote them.
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const q = OLD_QUEUE_ROWS
  await client.query(
    `WITH e AS (
       INSERT INTO queue_entries (blob, size, sender, body, smtputf8, created_at)
       SELECT id, size, $1, '7bit', false, 1000 FROM blobs ORDER BY id LIMIT 1 RETURNING id)
     INSERT INTO queue_recipients (entry_id, position, address, status, attempts,
       next_attempt_at, last_attempt_at, last_reply)
     SELECT e.id, 0, $2, 'deferred', $3, $4, $5, $6 FROM e`,
    [q.sender, q.address, q.attempts, q.nextAttemptAt, q.lastAttemptAt, q.lastReply],
  )
  await client.end()

  assert.deepEqual((await postgresSchemaStatus(url, POSTGRES_MIGRATIONS.slice(0, 3))).pending, [
    { version: 3, description: 'outbound queue: delay notices, lease index' },
  ])
  await migratePostgresStore(url)
  const store = await openPostgresStore({ url })
  t.after(() => store.close())
  assert.deepEqual(await readContents(store), before)
  await checkClaimsAfterUpgrade(store)
})

test('version 3 to 4 on PostgreSQL reads old messages without a POP3 size and lets POP3 lock and delete them', async (t) => {
  const url = await testDatabase(t)
  const old = await openPostgresStore({ url, migrations: POSTGRES_MIGRATIONS.slice(0, 3) })
  await fillStore(old)
  const before = await readContents(old)
  await old.close()

  assert.deepEqual((await postgresSchemaStatus(url)).pending, [
    { version: 4, description: 'POP3: message sizes as sent, mailbox locks, APOP secrets' },
  ])
  await migratePostgresStore(url)
  const store = await openPostgresStore({ url })
  t.after(() => store.close())
  assert.deepEqual(await readContents(store), before)
  await checkPop3AfterUpgrade(store)
  // Lock rows go with their mailboxes.
  await store.removeAccount('alice@example.test')
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const { rows } = await client.query('SELECT count(*)::int AS n FROM mailbox_locks')
  await client.end()
  assert.deepEqual(rows, [{ n: 0 }])
})
