import assert from 'node:assert/strict'
import { test } from 'node:test'
import { testDatabase } from '../../../test/support/postgres.ts'
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
  const next: Migration[] = [
    ...POSTGRES_MIGRATIONS,
    { version: 2, description: 'a probe table', sql: 'CREATE TABLE probe (x bigint);' },
  ]
  await assert.rejects(openPostgresStore({ url, migrations: next }), SchemaVersionError)
  assert.deepEqual((await postgresSchemaStatus(url, next)).pending, [
    { version: 2, description: 'a probe table' },
  ])
  assert.equal((await migratePostgresStore(url, { migrations: next, dryRun: true })).current, 1)
  // Two nodes migrating at once apply the step once (the advisory lock).
  const results = await Promise.all([
    migratePostgresStore(url, { migrations: next }),
    migratePostgresStore(url, { migrations: next }),
  ])
  assert.deepEqual(
    results.map((r) => r.current),
    [2, 2],
  )
  const upgraded = await openPostgresStore({ url, migrations: next })
  assert.deepEqual(
    (await upgraded.listDomains()).map((d) => d.name),
    ['example.test'],
  )
  await upgraded.close()
  await assert.rejects(openPostgresStore({ url }), /newer than this Postern knows/)
})
