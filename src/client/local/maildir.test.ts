// Tests for Maildir delivery: the folders, unique names, exact CRLF to LF conversion.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { crlfToLf, escapeHostname, Maildir, maildirName } from './maildir.ts'

test('Maildir.open creates tmp, new and cur with mode 0700, and opens an existing one', async (t) => {
  const dir = path.join(makeTempDir(t, 'postern-maildir-'), 'Mail', 'inbox')
  const maildir = await Maildir.open(dir)
  assert.equal(maildir.dir, dir)
  for (const sub of ['tmp', 'new', 'cur']) {
    assert.equal(statSync(path.join(dir, sub)).mode & 0o777, 0o700)
  }
  await Maildir.open(dir)
})

test('crlfToLf turns only CR LF pairs into LF, octet for octet', () => {
  const cases: [number[], number[]][] = [
    [[], []],
    [[13, 10], [10]],
    [[13], [13]],
    [[10], [10]],
    [
      [13, 13, 10],
      [13, 10],
    ],
    [
      [13, 10, 10, 13],
      [10, 10, 13],
    ],
    [
      [65, 13, 10, 13, 10, 66, 13],
      [65, 10, 10, 66, 13],
    ],
    [
      [0, 255, 13, 0, 10, 128],
      [0, 255, 13, 0, 10, 128],
    ],
  ]
  for (const [input, expected] of cases) {
    assert.deepEqual(crlfToLf(Buffer.from(input)), Buffer.from(expected), `${input}`)
  }
})

test('deliver stores the message with LF line ends and nothing else changed', async (t) => {
  const maildir = await Maildir.open(path.join(makeTempDir(t, 'postern-maildir-'), 'md'))
  const message = Buffer.concat([
    Buffer.from('Subject: caf\xc3\xa9\r\nX-Bare: a\rb\nc\r\n\r\n', 'latin1'),
    Buffer.from([0, 1, 2, 13, 13, 10, 255, 254]),
    Buffer.from('\r\nlast line without end\r'),
  ])
  const file = await maildir.deliver(message)
  const expected = Buffer.concat([
    Buffer.from('Subject: caf\xc3\xa9\nX-Bare: a\rb\nc\n\n', 'latin1'),
    Buffer.from([0, 1, 2, 13, 10, 255, 254]),
    Buffer.from('\nlast line without end\r'),
  ])
  assert.deepEqual(readFileSync(file), expected)
  assert.equal(path.dirname(file), path.join(maildir.dir, 'new'))
  assert.ok(file.endsWith(`,S=${expected.length}`))
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.deepEqual(readdirSync(path.join(maildir.dir, 'tmp')), [], 'tmp/ is left empty')
})

test('deliver gives every message its own name, delivered at once or one by one', async (t) => {
  const maildir = await Maildir.open(path.join(makeTempDir(t, 'postern-maildir-'), 'md'))
  const count = 300
  const messages = Array.from({ length: count }, (_, index) => Buffer.from(`N: ${index}\r\n`))
  const files = await Promise.all(messages.map((message) => maildir.deliver(message)))
  for (const message of messages.slice(0, 50)) files.push(await maildir.deliver(message))
  assert.equal(new Set(files).size, files.length)
  const names = readdirSync(path.join(maildir.dir, 'new'))
  assert.equal(names.length, count + 50)
  const seen = new Set(
    names.map((name) => readFileSync(path.join(maildir.dir, 'new', name), 'utf8')),
  )
  assert.equal(seen.size, count, 'every message is there, each whole')
  assert.deepEqual(readdirSync(path.join(maildir.dir, 'tmp')), [])
})

test('maildirName follows the convention and escapes / and : in the host name', () => {
  const name = maildirName(1234, Date.UTC(2024, 0, 2, 3, 4, 5) + 0.678)
  const host = escapeHostname(hostname())
  const match = /^(\d+)\.M(\d+)P(\d+)R([0-9a-f]{16})\.(.+),S=1234$/.exec(name)
  assert.ok(match, name)
  assert.equal(match[1], String(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000))
  assert.equal(match[2], '678')
  assert.equal(match[3], String(process.pid))
  assert.equal(match[5], host)
  assert.ok(!name.includes('/') && !name.includes(':'))
  assert.equal(escapeHostname('a/b:c.example'), 'a\\057b\\072c.example')
})
