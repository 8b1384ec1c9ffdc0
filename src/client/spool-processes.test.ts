// Tests for the sendmail spool across processes: two processes claiming the same entries, a
// flusher killed after claiming (at-least-once), and entries that stay whole when the process
// adding them is SIGKILLed at random points.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { type ClaimedEntry, Spool } from './spool.ts'

const SPOOL_URL = pathToFileURL(path.join(import.meta.dirname, 'spool.ts')).href
const MESSAGE = Buffer.from('From: a@example.org\r\nSubject: hi\r\n\r\nline\r\n')

async function openSpool(t: TestContext): Promise<Spool> {
  return Spool.open(path.join(makeTempDir(t, 'postern-spool-'), 'spool'))
}

function names(spool: Spool, sub: string): string[] {
  return readdirSync(path.join(spool.dir, sub)).sort()
}

async function claimOrFail(spool: Spool, id: string): Promise<ClaimedEntry> {
  const claimed = await spool.claim(id)
  assert.ok(claimed, `${id} can be claimed`)
  return claimed
}

/** Starts an ES module script in a child node with the given environment. */
function startNode(script: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Resolves to the child's exit code (or signal) and everything it wrote. */
function finished(child: ChildProcess): Promise<{ code: number | null; output: string }> {
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })))
}

async function waitForFile(file: string, timeoutMs = 30_000): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs
  while (!existsSync(file)) {
    assert.ok(Date.now() < deadlineMs, `${file} appears`)
    await sleep(5)
  }
}

test('two processes claiming the same entries never both get one', async (t) => {
  const spool = await openSpool(t)
  const ids: string[] = []
  for (let index = 0; index < 40; index += 1) {
    ids.push((await spool.add({ sender: '', recipients: ['r@x'] }, MESSAGE)).id)
  }
  const script = `
    const { existsSync, writeFileSync } = await import('node:fs')
    const { Spool } = await import(process.env.SPOOL_URL)
    const spool = await Spool.open(process.env.SPOOL_DIR)
    writeFileSync(process.env.READY_FILE, '')
    while (!existsSync(process.env.GO_FILE)) await new Promise((go) => setTimeout(go, 2))
    const won = []
    for (const id of JSON.parse(process.env.IDS)) {
      const claimed = await spool.claim(id)
      if (claimed === null) continue
      won.push(id)
      await spool.complete(claimed)
    }
    console.log(JSON.stringify(won))
  `
  const dir = makeTempDir(t, 'postern-spool-sync-')
  const goFile = path.join(dir, 'go')
  const children = ['a', 'b'].map((name) =>
    finished(
      startNode(script, {
        SPOOL_URL,
        SPOOL_DIR: spool.dir,
        READY_FILE: path.join(dir, `ready-${name}`),
        GO_FILE: goFile,
        IDS: JSON.stringify(ids),
      }),
    ),
  )
  await waitForFile(path.join(dir, 'ready-a'))
  await waitForFile(path.join(dir, 'ready-b'))
  writeFileSync(goFile, '')
  const won = []
  for (const result of await Promise.all(children)) {
    assert.equal(result.code, 0, result.output)
    won.push(...(JSON.parse(result.output) as string[]))
  }
  assert.deepEqual(won.sort(), [...ids].sort(), 'every entry claimed once, none twice')
  assert.deepEqual(await spool.list(), [])
})

test('a flusher killed after claiming: the next open sends the entry again', async (t) => {
  const spool = await openSpool(t)
  const entry = await spool.add({ sender: '', recipients: ['r@x'] }, MESSAGE)
  const script = `
    const { Spool } = await import(process.env.SPOOL_URL)
    const spool = await Spool.open(process.env.SPOOL_DIR)
    const claimed = await spool.claim(process.env.ID)
    console.log(claimed === null ? 'missed' : 'claimed')
    setInterval(() => {}, 1000) // the server accepted; killed before complete()
  `
  const child = startNode(script, { SPOOL_URL, SPOOL_DIR: spool.dir, ID: entry.id })
  const result = finished(child)
  const deadlineMs = Date.now() + 30_000
  while (names(spool, 'sending').length === 0) {
    assert.ok(Date.now() < deadlineMs, 'the child claims the entry')
    await sleep(5)
  }
  assert.equal((await Spool.open(spool.dir)).dir, spool.dir)
  assert.deepEqual(names(spool, 'sending'), [`${entry.id}.${child.pid}.msg`], 'alive: left alone')
  child.kill('SIGKILL')
  await result
  await Spool.open(spool.dir)
  assert.deepEqual(names(spool, 'sending'), [])
  const claimed = await claimOrFail(spool, entry.id)
  assert.deepEqual(claimed.message, MESSAGE)
})

test('entries stay whole when the adding process is killed at random points', async (t) => {
  const spool = await openSpool(t)
  // The child adds entries without end; each message says its own length and filler octet.
  const script = `
    const { writeFileSync } = await import('node:fs')
    const { Spool } = await import(process.env.SPOOL_URL)
    const spool = await Spool.open(process.env.SPOOL_DIR)
    writeFileSync(process.env.READY_FILE, '')
    for (let index = 0; ; index += 1) {
      const length = Math.floor(Math.random() * 100_000)
      const filler = String.fromCharCode(97 + (index % 26))
      const head = 'X-Length: ' + length + '\\r\\nX-Filler: ' + filler + '\\r\\n\\r\\n'
      const message = Buffer.from(head + filler.repeat(length))
      await spool.add({ sender: 's@x', recipients: ['r' + index + '@x'] }, message)
    }
  `
  const dir = makeTempDir(t, 'postern-spool-crash-')
  for (let round = 0; round < 6; round += 1) {
    const readyFile = path.join(dir, `ready-${round}`)
    const child = startNode(script, { SPOOL_URL, SPOOL_DIR: spool.dir, READY_FILE: readyFile })
    const result = finished(child)
    await waitForFile(readyFile)
    await sleep(20 + Math.random() * 200)
    child.kill('SIGKILL')
    const { code, output } = await result
    assert.equal(code, null, output)
  }
  const files = names(spool, 'queue')
  assert.ok(files.length > 0, 'the child added entries')
  const entries = await spool.list()
  assert.equal(entries.length, files.length, 'every file in queue/ is an entry')
  assert.deepEqual(await spool.listFailed(), [], 'none unreadable')
  for (const entry of entries) {
    const claimed = await claimOrFail(spool, entry.id)
    const text = claimed.message.toString('latin1')
    const match = /^X-Length: (\d+)\r\nX-Filler: ([a-z])\r\n\r\n/.exec(text)
    assert.ok(match, `${entry.id} starts whole`)
    const body = text.slice(match[0].length)
    assert.equal(body, (match[2] ?? '').repeat(Number(match[1])), `${entry.id} is whole`)
    assert.equal(entry.size, claimed.message.length)
  }
  // Whatever the kills left in tmp/ is removed by open once it is old.
  const tmp = path.join(spool.dir, 'tmp')
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
  for (const name of readdirSync(tmp)) utimesSync(path.join(tmp, name), twoHoursAgo, twoHoursAgo)
  writeFileSync(path.join(tmp, 'left.by.a.crash.tmp'), 'half an entry')
  utimesSync(path.join(tmp, 'left.by.a.crash.tmp'), twoHoursAgo, twoHoursAgo)
  await Spool.open(spool.dir)
  assert.deepEqual(names(spool, 'tmp'), [])
})
