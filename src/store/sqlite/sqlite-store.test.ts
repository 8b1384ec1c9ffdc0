import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { test } from 'node:test'
import { setTimeout } from 'node:timers/promises'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { describeStoreContract } from '../contract/index.ts'
import { checkQueueAfterUpgrade, fillStore, readContents } from '../contract/upgrade.ts'
import { type Migration, SchemaVersionError, type Store } from '../index.ts'
import {
  migrateSqliteStore,
  openFileBlobStore,
  openSqliteStore,
  SQLITE_MIGRATIONS,
  sqliteSchemaStatus,
} from './index.ts'

describeStoreContract('sqlite', (t) => {
  const dataDir = makeTempDir(t)
  const opened: Store[] = []
  t.after(async () => {
    for (const store of opened) await store.close()
  })
  return {
    async open() {
      const store = await openSqliteStore({ dataDir, pollIntervalMs: 20 })
      opened.push(store)
      return store
    },
  }
})

test('blob files no row refers to (a crash before the commit) are swept; others, queued ones too, kept', async (t) => {
  const dataDir = makeTempDir(t)
  const first = await openSqliteStore({ dataDir })
  await first.addDomain('example.test')
  const account = await first.addAccount({
    address: 'a@example.test',
    domain: 'example.test',
    credentials: { passwordHash: 'h', scramSha256: 's' },
  })
  const inbox = (await first.getMailbox(account.id, 'INBOX'))?.id ?? 0
  const kept = Buffer.from('Subject: kept\r\n\r\nkept\r\n')
  await first.deliver({ bytes: kept }, [{ mailboxId: inbox }])
  // Bytes only the outbound queue refers to are referred to all the same.
  const { queued } = await first.acceptMessage({
    deliveries: [],
    queue: {
      message: { bytes: Buffer.from('Subject: queued\r\n\r\nonly queued\r\n') },
      entry: {
        sender: '',
        recipients: [{ address: 'x@remote.test', originalRecipient: null, notify: null }],
        envelopeId: null,
        ret: null,
        body: '7bit',
        smtputf8: false,
        submittedBy: null,
      },
    },
  })
  assert.ok(queued)
  await first.close()
  // What a delivery killed between its blob write and its commit leaves behind.
  const blobs = await openFileBlobStore(path.join(dataDir, 'blobs'))
  const orphan = await blobs.put(Buffer.from('Subject: orphan\r\n\r\nnever committed\r\n'))
  const keptId = createHash('sha256').update(kept).digest('hex')

  const removed: string[] = []
  const young = await openSqliteStore({ dataDir, onOrphanRemoved: (id) => removed.push(id) })
  await young.close()
  assert.equal(removed.length, 0, 'a file younger than orphanAgeMs may belong to a delivery')
  const store = await openSqliteStore({
    dataDir,
    orphanAgeMs: 0,
    onOrphanRemoved: (id) => removed.push(id),
  })
  t.after(() => store.close())
  for (let i = 0; i < 100 && removed.length === 0; i += 1) await setTimeout(20)
  assert.deepEqual(removed, [orphan.id])
  assert.equal(await blobs.has(orphan.id), false)
  assert.equal(await blobs.has(keptId), true)
  assert.equal(await blobs.has(queued.blobId), true)
})

test('schema upgrades: refused at open until migrated, applied once, data kept', async (t) => {
  const dataDir = makeTempDir(t)
  const first = await openSqliteStore({ dataDir })
  await first.addDomain('example.test')
  await first.close()
  // A later Postern that knows one more step.
  const latest = SQLITE_MIGRATIONS.length
  const next: Migration[] = [
    ...SQLITE_MIGRATIONS,
    { version: latest + 1, description: 'a probe table', sql: 'CREATE TABLE probe (x INTEGER);' },
  ]
  await assert.rejects(openSqliteStore({ dataDir, migrations: next }), (error: unknown) => {
    assert.ok(error instanceof SchemaVersionError)
    assert.equal(
      error.message,
      `The database schema is version ${latest} and this Postern needs version ${latest + 1}: run "postern migrate up" (see "postern migrate status")`,
    )
    return true
  })
  assert.deepEqual(sqliteSchemaStatus(dataDir, next), {
    current: latest,
    latest: latest + 1,
    pending: [{ version: latest + 1, description: 'a probe table' }],
  })
  assert.equal(migrateSqliteStore(dataDir, { migrations: next, dryRun: true }).current, latest)
  assert.equal(migrateSqliteStore(dataDir, { migrations: next }).current, latest + 1)
  assert.equal(
    migrateSqliteStore(dataDir, { migrations: next }).current,
    latest + 1,
    'applied once',
  )
  const upgraded = await openSqliteStore({ dataDir, migrations: next })
  assert.deepEqual(
    (await upgraded.listDomains()).map((d) => d.name),
    ['example.test'],
  )
  await upgraded.close()
  // The older Postern now refuses the newer schema instead of misreading it.
  await assert.rejects(openSqliteStore({ dataDir }), /newer than this Postern knows/)
})

test('version 1 to 2 adds the outbound queue to a populated store and changes nothing else', async (t) => {
  const dataDir = makeTempDir(t)
  const old = await openSqliteStore({ dataDir, migrations: SQLITE_MIGRATIONS.slice(0, 1) })
  await fillStore(old)
  const before = await readContents(old)
  await old.close()

  await assert.rejects(openSqliteStore({ dataDir }), /version 1 and this Postern needs version 2/)
  assert.deepEqual(sqliteSchemaStatus(dataDir), {
    current: 1,
    latest: 2,
    pending: [{ version: 2, description: 'outbound queue: entries, recipients, blob references' }],
  })
  assert.deepEqual(migrateSqliteStore(dataDir), { current: 2, latest: 2, pending: [] })
  assert.deepEqual(sqliteSchemaStatus(dataDir), { current: 2, latest: 2, pending: [] })
  const store = await openSqliteStore({ dataDir })
  t.after(() => store.close())
  assert.deepEqual(await readContents(store), before)
  await checkQueueAfterUpgrade(store)
})
