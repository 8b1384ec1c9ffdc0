import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import path from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { test } from 'node:test'
import { setTimeout } from 'node:timers/promises'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { CREDENTIALS, deliverOne, message } from '../contract/fixtures.ts'
import { describeStoreContract } from '../contract/index.ts'
import {
  checkClaimsAfterUpgrade,
  checkPop3AfterUpgrade,
  checkQueueAfterUpgrade,
  fillStore,
  OLD_QUEUE_ROWS,
  readContents,
} from '../contract/upgrade.ts'
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

  const v2 = SQLITE_MIGRATIONS.slice(0, 2)
  await assert.rejects(
    openSqliteStore({ dataDir, migrations: v2 }),
    /version 1 and this Postern needs version 2/,
  )
  assert.deepEqual(sqliteSchemaStatus(dataDir, v2), {
    current: 1,
    latest: 2,
    pending: [{ version: 2, description: 'outbound queue: entries, recipients, blob references' }],
  })
  assert.deepEqual(migrateSqliteStore(dataDir, { migrations: v2 }), {
    current: 2,
    latest: 2,
    pending: [],
  })
  assert.deepEqual(sqliteSchemaStatus(dataDir, v2), { current: 2, latest: 2, pending: [] })
  // Later versions' code reads later columns: the rest of the way, then the checks.
  migrateSqliteStore(dataDir)
  const store = await openSqliteStore({ dataDir })
  t.after(() => store.close())
  assert.deepEqual(await readContents(store), before)
  await checkQueueAfterUpgrade(store)
})

test('version 2 to 3 keeps indexed text searchable and indexes new text after delivery', async (t) => {
  const dataDir = makeTempDir(t)
  const old = await openSqliteStore({ dataDir, migrations: SQLITE_MIGRATIONS.slice(0, 2) })
  await fillStore(old)
  const before = await readContents(old)
  const account = (await old.listAccounts())[0]
  const inbox = (await old.getMailbox(account?.id ?? 0, 'INBOX'))?.id ?? 0
  const oldHits = await old.searchText(inbox, [{ field: 'text', value: 'e' }])
  await old.close()

  const latest = SQLITE_MIGRATIONS.length
  await assert.rejects(
    openSqliteStore({ dataDir }),
    new RegExp(`version 2 and this Postern needs version ${latest}`),
  )
  assert.deepEqual(migrateSqliteStore(dataDir), { current: latest, latest, pending: [] })
  const store = await openSqliteStore({ dataDir })
  t.after(() => store.close())
  assert.deepEqual(await readContents(store), before)
  assert.deepEqual(await store.searchText(inbox, [{ field: 'text', value: 'e' }]), oldHits)
  const uid = await deliverOne(store, inbox, message('after the upgrade', 'a fresh quokka'))
  assert.deepEqual(await store.searchText(inbox, [{ field: 'body', value: 'QUOKKA' }]), [uid])
})

test('version 3 to 4 keeps queued recipients and lets them be claimed', async (t) => {
  const dataDir = makeTempDir(t)
  const old = await openSqliteStore({ dataDir, migrations: SQLITE_MIGRATIONS.slice(0, 3) })
  await fillStore(old)
  const before = await readContents(old)
  await old.close()
  // Version 3's code is gone; its rows are written as it wrote them.
  const db = new DatabaseSync(path.join(dataDir, 'store.sqlite'))
  const q = OLD_QUEUE_ROWS
  const blob = db.prepare('SELECT id, size FROM blobs LIMIT 1').get() as {
    id: number
    size: number
  }
  const entry = db
    .prepare(
      `INSERT INTO queue_entries (blob, size, sender, body, smtputf8, created_at)
       VALUES (?, ?, ?, '7bit', 0, 1000)`,
    )
    .run(blob.id, blob.size, q.sender)
  db.prepare(
    `INSERT INTO queue_recipients (entry_id, position, address, status, attempts,
       next_attempt_at, last_attempt_at, last_reply) VALUES (?, 0, ?, 'deferred', ?, ?, ?, ?)`,
  ).run(entry.lastInsertRowid, q.address, q.attempts, q.nextAttemptAt, q.lastAttemptAt, q.lastReply)
  db.close()

  assert.deepEqual(sqliteSchemaStatus(dataDir, SQLITE_MIGRATIONS.slice(0, 4)).pending, [
    { version: 4, description: 'outbound queue: delay notices, lease index' },
  ])
  migrateSqliteStore(dataDir)
  const store = await openSqliteStore({ dataDir })
  t.after(() => store.close())
  assert.deepEqual(await readContents(store), before)
  await checkClaimsAfterUpgrade(store)
})

test('version 4 to 5 reads old messages without a POP3 size and lets POP3 lock and delete them', async (t) => {
  const dataDir = makeTempDir(t)
  const old = await openSqliteStore({ dataDir, migrations: SQLITE_MIGRATIONS.slice(0, 4) })
  await fillStore(old)
  const before = await readContents(old)
  await old.close()

  assert.deepEqual(sqliteSchemaStatus(dataDir, SQLITE_MIGRATIONS.slice(0, 5)).pending, [
    { version: 5, description: 'POP3: message sizes as sent, mailbox locks, APOP secrets' },
  ])
  migrateSqliteStore(dataDir)
  const store = await openSqliteStore({ dataDir })
  t.after(() => store.close())
  assert.deepEqual(await readContents(store), before)
  await checkPop3AfterUpgrade(store)
  // Lock rows go with their mailboxes.
  await store.removeAccount('alice@example.test')
  const db = new DatabaseSync(path.join(dataDir, 'store.sqlite'))
  const locks = db.prepare('SELECT count(*) AS n FROM mailbox_locks').get()
  db.close()
  assert.equal(locks?.n, 0)
})

test('version 5 to 6 keeps the store and replaces the queue due index by the claim indexes', async (t) => {
  const dataDir = makeTempDir(t)
  const old = await openSqliteStore({ dataDir, migrations: SQLITE_MIGRATIONS.slice(0, 5) })
  await fillStore(old)
  const before = await readContents(old)
  await old.close()

  assert.deepEqual(sqliteSchemaStatus(dataDir).pending, [
    {
      version: 6,
      description: 'outbound queue: claims read due and expired-lease recipients by index',
    },
  ])
  migrateSqliteStore(dataDir)
  const store = await openSqliteStore({ dataDir })
  t.after(() => store.close())
  assert.deepEqual(await readContents(store), before)
  await checkQueueAfterUpgrade(store)
  const db = new DatabaseSync(path.join(dataDir, 'store.sqlite'))
  const indexes = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'queue_recipients'",
    )
    .all()
    .map((row) => String(row.name))
    .sort()
  db.close()
  assert.deepEqual(
    indexes.filter((name) => !name.startsWith('sqlite_autoindex')),
    ['queue_recipients_lease', 'queue_recipients_leased', 'queue_recipients_waiting'],
  )
})

test('search text is indexed after delivery, in the background, and searched before and after', async (t) => {
  const dataDir = makeTempDir(t)
  const pendingCount = () => {
    const db = new DatabaseSync(path.join(dataDir, 'store.sqlite'))
    try {
      return Number(
        (db.prepare('SELECT count(*) AS n FROM blob_text_pending').get() as { n: number }).n,
      )
    } finally {
      db.close()
    }
  }
  // A short-lived opener (as the admin commands are) leaves the indexing to the server.
  const first = await openSqliteStore({ dataDir, orphanAgeMs: null })
  await first.addDomain('example.test')
  const account = await first.addAccount({
    address: 'a@example.test',
    domain: 'example.test',
    credentials: CREDENTIALS,
  })
  const inbox = (await first.getMailbox(account.id, 'INBOX'))?.id ?? 0
  const uids: number[] = []
  for (let i = 0; i < 40; i += 1) {
    uids.push(
      await deliverOne(first, inbox, message(`note ${i}`, i % 2 === 0 ? 'even zebra' : 'odd yak')),
    )
  }
  assert.equal(pendingCount(), 40)
  const zebras = uids.filter((_, i) => i % 2 === 0)
  assert.deepEqual(await first.searchText(inbox, [{ field: 'body', value: 'ZEBRA' }]), zebras)
  assert.deepEqual(await first.searchText(inbox, [{ field: 'subject', value: 'note 7' }]), [
    uids[7],
  ])
  await first.close()

  const server = await openSqliteStore({ dataDir })
  t.after(() => server.close())
  for (let i = 0; i < 200 && pendingCount() > 0; i += 1) await setTimeout(25)
  assert.equal(pendingCount(), 0, 'the long-lived opener indexed everything')
  assert.deepEqual(await server.searchText(inbox, [{ field: 'body', value: 'ZEBRA' }]), zebras)
  assert.deepEqual(
    await server.searchText(inbox, [{ field: 'text', value: 'yak' }]),
    uids.filter((_, i) => i % 2 === 1),
  )
  assert.deepEqual(await server.searchText(inbox, [{ field: 'subject', value: 'note 7' }]), [
    uids[7],
  ])
})
