// Tests for the durable file helpers: whole-or-absent writes, private directories.
import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { ensurePrivateDirectory, fsyncDirectory, writeFileDurably } from './atomic-file.ts'

test('writeFileDurably creates a 0600 file and replaces it whole, leaving no temporaries', async (t) => {
  const dir = makeTempDir(t, 'postern-atomic-')
  const file = path.join(dir, 'state.json')
  await writeFileDurably(file, '{"a":1}\n')
  assert.equal(readFileSync(file, 'utf8'), '{"a":1}\n')
  assert.equal(statSync(file).mode & 0o777, 0o600)
  const bytes = Buffer.from([0, 13, 10, 255, 128])
  await writeFileDurably(file, bytes)
  assert.deepEqual(readFileSync(file), bytes)
  await writeFileDurably(path.join(dir, 'other'), 'x', 0o640)
  assert.equal(statSync(path.join(dir, 'other')).mode & 0o777, 0o640 & ~process.umask())
  assert.deepEqual(readdirSync(dir).sort(), ['other', 'state.json'])
})

test('writeFileDurably removes its temporary file when the rename fails', async (t) => {
  const dir = makeTempDir(t, 'postern-atomic-')
  const target = path.join(dir, 'taken')
  mkdirSync(path.join(target, 'child'), { recursive: true }) // a non-empty directory: no rename
  await assert.rejects(writeFileDurably(target, 'data'))
  assert.deepEqual(readdirSync(dir), ['taken'])
})

test('writeFileDurably writes concurrently to one file without a mix or a leftover', async (t) => {
  const dir = makeTempDir(t, 'postern-atomic-')
  const file = path.join(dir, 'file')
  const contents = Array.from({ length: 20 }, (_, index) => `${index}`.repeat(10_000))
  await Promise.all(contents.map((content) => writeFileDurably(file, content)))
  assert.ok(contents.includes(readFileSync(file, 'utf8')))
  assert.deepEqual(readdirSync(dir), ['file'])
})

test('writeFileDurably rejects when the directory is missing', async (t) => {
  const dir = makeTempDir(t, 'postern-atomic-')
  await assert.rejects(writeFileDurably(path.join(dir, 'no', 'file'), 'x'), { code: 'ENOENT' })
})

test('ensurePrivateDirectory makes 0700 folders and leaves an existing one as it is', async (t) => {
  const dir = makeTempDir(t, 'postern-atomic-')
  const nested = path.join(dir, 'a', 'b', 'c')
  await ensurePrivateDirectory(nested)
  assert.equal(statSync(nested).mode & 0o777, 0o700)
  assert.equal(statSync(path.join(dir, 'a')).mode & 0o777, 0o700)
  const open = path.join(dir, 'open')
  mkdirSync(open, { mode: 0o755 })
  await ensurePrivateDirectory(open)
  assert.equal(statSync(open).mode & 0o777, 0o755 & ~process.umask())
  await ensurePrivateDirectory(nested) // again: no error
})

test('fsyncDirectory syncs a directory and rejects for a missing one', async (t) => {
  const dir = makeTempDir(t, 'postern-atomic-')
  await fsyncDirectory(dir)
  await assert.rejects(fsyncDirectory(path.join(dir, 'missing')), { code: 'ENOENT' })
})
