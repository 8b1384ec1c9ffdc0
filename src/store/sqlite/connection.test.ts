import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { Connection } from './connection.ts'

// Batched writes: one COMMIT for many, a savepoint each, and every promise settled whatever
// SQLite does.

function connection(t: Parameters<typeof makeTempDir>[0]): Connection {
  const c = new Connection(path.join(makeTempDir(t), 'x.sqlite'))
  t.after(() => c.close())
  c.db.exec('CREATE TABLE t (v BLOB)')
  return c
}

test('batched writes commit together; one that throws is rolled back alone', async (t) => {
  const c = connection(t)
  const results = await Promise.allSettled([
    c.writeBatched(() => c.run('INSERT INTO t VALUES (1)').lastId),
    c.writeBatched(() => {
      c.run('INSERT INTO t VALUES (2)')
      throw new Error('this one fails')
    }),
    c.writeBatched(() => c.run('INSERT INTO t VALUES (3)').lastId),
  ])
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  )
  assert.deepEqual(
    c.all('SELECT v FROM t ORDER BY v').map((row) => row.v),
    [1, 3],
  )
  assert.equal(c.db.isTransaction, false)
})

test('a full database fails the whole batch, settles every promise and leaves no transaction', async (t) => {
  const c = connection(t)
  c.db.exec('PRAGMA cache_size = 10')
  const pages = Number(c.get<{ page_count: number }>('PRAGMA page_count')?.page_count ?? 0)
  c.db.exec(`PRAGMA max_page_count = ${pages + 20}`)
  const results = await Promise.allSettled([
    c.writeBatched(() => c.run('INSERT INTO t VALUES (?)', Buffer.alloc(10_000))),
    c.writeBatched(() => c.run('INSERT INTO t VALUES (?)', Buffer.alloc(1_000_000))),
    c.writeBatched(() => c.run('INSERT INTO t VALUES (?)', Buffer.alloc(100))),
  ])
  // SQLITE_FULL rolled the whole transaction back, so no write of the batch may claim success.
  const stored = Number(c.get<{ n: number }>('SELECT count(*) AS n FROM t')?.n)
  const fulfilled = results.filter((r) => r.status === 'fulfilled').length
  assert.equal(fulfilled, stored)
  assert.ok(results.some((r) => r.status === 'rejected'))
  assert.equal(c.db.isTransaction, false)
  // The connection still works afterwards.
  await c.writeBatched(() => c.run('INSERT INTO t VALUES (?)', Buffer.alloc(10)))
})
