import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { BlobNotFoundError } from '../index.ts'
import { openFileBlobStore } from './file-blob-store.ts'

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

test('put stores bytes under their SHA-256, once, and get/read return them', async (t) => {
  const store = await openFileBlobStore(makeTempDir(t))
  const bytes = Buffer.from('Subject: hello\r\n\r\nbody\r\n')
  const first = await store.put(bytes)
  assert.deepEqual(first, { id: sha256(bytes), size: bytes.length })
  assert.deepEqual(await store.put(bytes), first, 'the same bytes share one blob')
  assert.deepEqual(await store.get(first.id), bytes)
  const slice: Buffer[] = []
  for await (const chunk of store.read(first.id, 9, 14)) slice.push(chunk)
  assert.equal(Buffer.concat(slice).toString(), 'hello')
  assert.equal(await store.has(first.id), true)
})

test('put takes a stream, hashing as it writes', async (t) => {
  const store = await openFileBlobStore(makeTempDir(t))
  const parts = [randomBytes(100_000), randomBytes(50_000)]
  async function* chunks() {
    yield* parts
  }
  const { id, size } = await store.put(chunks())
  assert.equal(size, 150_000)
  assert.equal(id, sha256(Buffer.concat(parts)))
})

test('a missing or malformed id is BlobNotFoundError; delete is idempotent', async (t) => {
  const store = await openFileBlobStore(makeTempDir(t))
  await assert.rejects(store.get('0'.repeat(64)), BlobNotFoundError)
  await assert.rejects(store.get('../../etc/passwd'), BlobNotFoundError)
  const { id } = await store.put(Buffer.from('x'))
  await store.delete(id)
  await store.delete(id)
  assert.equal(await store.has(id), false)
})

const CHILD = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'file-blob-store.crash-child.ts',
)

test('blobs reported as stored survive SIGKILL at random moments, and none is half-written (20 kills)', async (t) => {
  const root = makeTempDir(t)
  const log = path.join(makeTempDir(t), 'stored.log')
  writeFileSync(log, '')
  for (let kill = 0; kill < 20; kill += 1) {
    const child = spawn(process.execPath, [CHILD, root, log, String(kill)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    // Kill at a random moment after the child is writing, however slow the machine is to start it.
    await new Promise((resolve) => child.stdout.once('data', resolve))
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 60)))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
  }
  // Reopening cleans the temporary files of interrupted writes.
  const store = await openFileBlobStore(root)
  // Only the new opener's own folder is left, empty.
  const temporaries = readdirSync(path.join(root, 'tmp'))
  assert.equal(temporaries.length, 1)
  assert.match(temporaries[0] ?? '', new RegExp(`^${process.pid}-`))
  assert.deepEqual(readdirSync(path.join(root, 'tmp', temporaries[0] ?? '')), [])
  const reported = readFileSync(log, 'utf8').split('\n').filter(Boolean)
  assert.ok(reported.length > 20, `only ${reported.length} blobs were reported stored`)
  for (const line of reported) {
    const [id, seed] = line.split(' ')
    assert.ok(id && seed)
    const bytes = await store.get(id)
    assert.equal(sha256(bytes), id, 'the blob is whole')
  }
  // Every file under a blob name holds exactly the bytes its name says.
  let files = 0
  for (const shard of readdirSync(root).filter((name) => name !== 'tmp')) {
    for (const id of readdirSync(path.join(root, shard))) {
      assert.equal(sha256(readFileSync(path.join(root, shard, id))), id)
      files += 1
    }
  }
  assert.ok(files >= new Set(reported.map((line) => line.split(' ')[0])).size)
})

test('opening the same store elsewhere never removes a write in progress', async (t) => {
  const root = makeTempDir(t)
  const first = await openFileBlobStore(root)
  let release = () => {}
  const paused = new Promise<void>((resolve) => {
    release = resolve
  })
  async function* slowly() {
    yield Buffer.from('Subject: half\r\n')
    await paused
    yield Buffer.from('\r\nwritten while another opener started\r\n')
  }
  const writing = first.put(slowly())
  await new Promise((resolve) => setTimeout(resolve, 20))
  await openFileBlobStore(root) // an administration command opening the store beside the server
  release()
  const { id } = await writing
  assert.match((await first.get(id)).toString(), /another opener/)
})
