// Tests for mboxrd appends: the exact bytes, From quoting read back, the dotlock against
// concurrent writers (in one process and from two), and truncation after a failed write.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { crlfToLf } from './maildir.ts'
import { appendToMbox, asctime, quoteFromLines } from './mbox.ts'

const DATE = new Date(Date.UTC(2024, 0, 2, 3, 4, 5))
const MBOX_URL = pathToFileURL(path.join(import.meta.dirname, 'mbox.ts')).href

interface ReadMessage {
  fromLine: string
  body: Buffer
}

/** Splits an mboxrd file into messages the way a reader does, undoing the From quoting. */
function readMbox(content: Buffer): ReadMessage[] {
  const text = content.toString('latin1')
  if (text === '') return []
  assert.ok(text.endsWith('\n\n') || text.endsWith('\n'), 'the file ends with a blank line')
  const messages: { fromLine: string; lines: string[] }[] = []
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('From ')) {
      messages.push({ fromLine: line, lines: [] })
      continue
    }
    const current = messages.at(-1)
    assert.ok(current, 'the file starts with a From line')
    current.lines.push(line.replace(/^>(>*From )/, '$1'))
  }
  return messages.map(({ fromLine, lines }) => {
    assert.equal(lines.at(-1), '', 'a blank line ends each message')
    const body = lines.slice(0, -1).map((line) => `${line}\n`)
    return { fromLine, body: Buffer.from(body.join(''), 'latin1') }
  })
}

/** What a message reads back as: LF line ends, and an LF added at the end if it had none. */
function expectedBody(message: Buffer): Buffer {
  const body = crlfToLf(message)
  return body.length === 0 || body.at(-1) === 10 ? body : Buffer.concat([body, Buffer.from('\n')])
}

/** Runs an ES module script in a child node; resolves to its exit code and output. */
function runNode(
  script: string,
  env: Record<string, string>,
  shellPrefix = '',
): Promise<{ code: number | null; output: string }> {
  const args = ['--input-type=module', '-e', script]
  const child =
    shellPrefix === ''
      ? spawn(process.execPath, args, { env: { ...process.env, ...env } })
      : spawn('sh', ['-c', `${shellPrefix}; exec "$0" "$@"`, process.execPath, ...args], {
          env: { ...process.env, ...env },
        })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })))
}

test('asctime writes the From_ line date in UTC with a space-padded day', () => {
  assert.equal(asctime(DATE), 'Tue Jan  2 03:04:05 2024')
  assert.equal(asctime(new Date(Date.UTC(1999, 11, 31, 23, 59, 59))), 'Fri Dec 31 23:59:59 1999')
})

test('appendToMbox writes a From_ line, the LF body, and a blank line, byte for byte', async (t) => {
  const file = path.join(makeTempDir(t, 'postern-mbox-'), 'mbox')
  await appendToMbox(file, Buffer.from('Subject: a\r\n\r\nbody\r\n'), { sender: 'a@b', date: DATE })
  await appendToMbox(file, Buffer.from('Subject: b\r\n\r\nno end'), { sender: '', date: DATE })
  await appendToMbox(file, Buffer.from('X: c\r\n\r\n'), { sender: '<x y@z>', date: DATE })
  assert.equal(
    readFileSync(file, 'latin1'),
    'From a@b Tue Jan  2 03:04:05 2024\nSubject: a\n\nbody\n\n' +
      'From MAILER-DAEMON Tue Jan  2 03:04:05 2024\nSubject: b\n\nno end\n\n' +
      'From x_y@z Tue Jan  2 03:04:05 2024\nX: c\n\n\n',
  )
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.equal(existsSync(`${file}.lock`), false, 'the lock is released')
})

test('quoteFromLines adds one > to every /^>*From / line and to nothing else', () => {
  const input = [
    'From start',
    '>From one',
    '>>From two',
    'From',
    ' From indented',
    'Fromage',
    'a From b',
    '>From',
    '>>>>From deep',
    '\rFrom after a lone CR',
    'From ',
  ].join('\n')
  const expected = [
    '>From start',
    '>>From one',
    '>>>From two',
    'From',
    ' From indented',
    'Fromage',
    'a From b',
    '>From',
    '>>>>>From deep',
    '\rFrom after a lone CR',
    '>From ',
  ].join('\n')
  assert.equal(quoteFromLines(Buffer.from(input)).toString(), expected)
})

test('messages full of From lines read back exactly after splitting the mbox', async (t) => {
  const file = path.join(makeTempDir(t, 'postern-mbox-'), 'mbox')
  const messages = [
    Buffer.from('Subject: x\r\n\r\nFrom here\r\n>From there\r\n>>From everywhere\r\n'),
    Buffer.from('From: a@b\r\n\r\n\r\nFrom \r\n\r\nFrom the end'),
    Buffer.from(''),
    Buffer.concat([Buffer.from('A: b\r\n\r\n'), Buffer.from([0, 13, 255, 10, 13, 10])]),
    Buffer.from('Subject: y\r\n\r\n>From\r\n\r\n'),
  ]
  for (const message of messages) await appendToMbox(file, message, { sender: 's@t', date: DATE })
  const read = readMbox(readFileSync(file))
  assert.equal(read.length, messages.length)
  read.forEach((message, index) => {
    const original = messages[index] ?? Buffer.alloc(0)
    assert.deepEqual(message.body, expectedBody(original), `message ${index}`)
    assert.equal(message.fromLine, 'From s@t Tue Jan  2 03:04:05 2024')
  })
})

test('concurrent appends from several writers never interleave', async (t) => {
  const file = path.join(makeTempDir(t, 'postern-mbox-'), 'mbox')
  // Big messages too: one append of more than 512 KiB is several write() calls, which O_APPEND
  // alone does not keep together.
  const messages: Buffer[] = []
  for (let index = 0; index < 20; index += 1) {
    const filler = `From line ${index}\r\n`.repeat(
      index % 2 === 0 ? 50 + index : 40_000 + index * 2000,
    )
    messages.push(Buffer.from(`Message-ID: <${index}@test>\r\n\r\n${filler}end ${index}\r\n`))
  }
  const writers = [0, 1, 2, 3, 4].map(async (writer) => {
    for (let index = writer; index < messages.length; index += 5) {
      const message = messages[index] ?? Buffer.alloc(0)
      await appendToMbox(file, message, { sender: `w${writer}@test`, date: DATE })
    }
  })
  await Promise.all(writers)
  const read = readMbox(readFileSync(file))
  assert.equal(read.length, messages.length)
  const expected = new Set(messages.map((message) => expectedBody(message).toString('latin1')))
  for (const message of read) assert.ok(expected.delete(message.body.toString('latin1')))
  assert.equal(expected.size, 0)
})

/** Lines in the two-process test's message `index`: most of them over 512 KiB. */
function linesOf(index: number): number {
  return index % 3 === 0 ? 1 : 30_000 + index * 3000
}

test('two processes appending at once never interleave', async (t) => {
  const dir = makeTempDir(t, 'postern-mbox-')
  const file = path.join(dir, 'mbox')
  const goFile = path.join(dir, 'go')
  // Each child says it is ready and waits for the go file, so their appends overlap in time.
  const script = `
    const { existsSync, writeFileSync } = await import('node:fs')
    const { appendToMbox } = await import(process.env.MBOX_URL)
    const name = process.env.WRITER
    writeFileSync(process.env.MBOX_FILE + '.ready-' + name, '')
    while (!existsSync(process.env.GO_FILE)) await new Promise((go) => setTimeout(go, 5))
    // Three writers in each process as well, so the lock is contended within and across them.
    await Promise.all([0, 1, 2].map(async (lane) => {
      for (let index = lane; index < 10; index += 3) {
        const lines = index % 3 === 0 ? 1 : 30_000 + index * 3000 // as linesOf
        const filler = ('From ' + name + ' line ' + index + '\\r\\n').repeat(lines)
        const message = Buffer.from('X-Writer: ' + name + '\\r\\n\\r\\n' + filler)
        await appendToMbox(process.env.MBOX_FILE, message, { sender: name, date: new Date() })
      }
    }))
  `
  const writers = ['alpha', 'beta']
  const results = Promise.all(
    writers.map((writer) =>
      runNode(script, { MBOX_URL, MBOX_FILE: file, WRITER: writer, GO_FILE: goFile }),
    ),
  )
  const deadlineMs = Date.now() + 30_000
  while (!writers.every((writer) => existsSync(`${file}.ready-${writer}`))) {
    assert.ok(Date.now() < deadlineMs, 'the writers started')
    await sleep(5)
  }
  writeFileSync(goFile, '')
  for (const result of await results) assert.equal(result.code, 0, result.output)
  const read = readMbox(readFileSync(file))
  assert.equal(read.length, 20)
  for (const writer of writers) {
    const bodies = read
      .filter((message) => message.fromLine.startsWith(`From ${writer} `))
      .map((message) => message.body.toString())
    const expected = Array.from({ length: 10 }, (_, index) => {
      const filler = `From ${writer} line ${index}\n`.repeat(linesOf(index))
      return `X-Writer: ${writer}\n\n${filler}`
    })
    assert.deepEqual(bodies.sort(), expected.sort())
  }
})

test('a lock held by another writer makes the append wait, then give up', async (t) => {
  const file = path.join(makeTempDir(t, 'postern-mbox-'), 'mbox')
  writeFileSync(`${file}.lock`, '1\n')
  const options = { sender: 'a@b', date: DATE, lockTimeoutMs: 200 }
  const startedMs = Date.now()
  await assert.rejects(appendToMbox(file, Buffer.from('X: y\r\n'), options), /held by another/)
  assert.ok(Date.now() - startedMs >= 200)
  assert.equal(existsSync(file), false, 'nothing written without the lock')
  assert.equal(readFileSync(`${file}.lock`, 'utf8'), '1\n', 'the other writer keeps its lock')
})

test('a lock older than five minutes is taken as stale and removed', async (t) => {
  const file = path.join(makeTempDir(t, 'postern-mbox-'), 'mbox')
  writeFileSync(`${file}.lock`, '1\n')
  const tenMinutesAgo = new Date(Date.now() - 10 * 60_000)
  utimesSync(`${file}.lock`, tenMinutesAgo, tenMinutesAgo)
  await appendToMbox(file, Buffer.from('X: y\r\n'), { sender: 'a@b', date: DATE, lockTimeoutMs: 0 })
  assert.equal(readMbox(readFileSync(file)).length, 1)
  assert.equal(existsSync(`${file}.lock`), false)
})

test('a write that fails halfway is cut back, leaving the earlier messages whole', async (t) => {
  const file = path.join(makeTempDir(t, 'postern-mbox-'), 'mbox')
  // The file size limit (ulimit -f, 512-octet blocks) stops the second write partway: EFBIG
  // after a short write, as a full disk would.
  const script = `
    const { appendToMbox } = await import(process.env.MBOX_URL)
    const file = process.env.MBOX_FILE
    await appendToMbox(file, Buffer.from('X: small\\r\\n\\r\\nbody\\r\\n'), { sender: 'a', date: new Date() })
    try {
      const big = Buffer.from('X: big\\r\\n\\r\\n' + 'line\\r\\n'.repeat(20000))
      await appendToMbox(file, big, { sender: 'a', date: new Date() })
      console.log('written')
    } catch (error) {
      console.log('failed ' + error.code)
    }
  `
  const result = await runNode(script, { MBOX_URL, MBOX_FILE: file }, 'ulimit -f 20')
  assert.equal(result.code, 0, result.output)
  assert.match(result.output, /failed EFBIG/)
  const read = readMbox(readFileSync(file))
  assert.equal(read.length, 1)
  assert.equal(read[0]?.body.toString(), 'X: small\n\nbody\n')
  assert.equal(existsSync(`${file}.lock`), false, 'the lock is released after the failure')
})
