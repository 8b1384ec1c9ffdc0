// Postern's half of the relay benchmark: a fresh data dir per round whose outbound queue is
// filled through the store directly (as if SMTP had accepted the messages, then the server had
// stopped), then a real `postern serve` with the smart host pointed at smtp-sink. The clock runs
// from the "Postern is ready" line (its own time stamp: the queue starts right after it) until
// a second store handle sees the queue empty.
import { type ChildProcess, spawn } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Store } from '../../src/store/index.ts'
import { openSqliteStore } from '../../src/store/sqlite/index.ts'
import { getFreePorts } from '../../test/support/free-port.ts'
import { REPO_ROOT } from '../../test/support/postern-process.ts'
import type { CountingSink } from './counting-sink.ts'
import type { RelayMessages } from './postfix-relay.ts'

const MAIN = path.join(REPO_ROOT, 'src/main.ts')
const HOSTNAME = 'bench.postern.test'
const READY_TIMEOUT_MS = 60_000
const DRAIN_TIMEOUT_MS = 10 * 60_000
const STOP_TIMEOUT_MS = 15_000
/** How often the queue is looked at (Postfix's side polls its queue directories as often). */
const POLL_MS = 20
/** How often the log is read for deferrals and errors while the queue drains. */
const LOG_CHECK_MS = 500
/** Messages written to the store at once while filling. */
const FILL_BATCH = 16

export interface PosternRound {
  seconds: number
  /** From "Postern is ready" to the sink's first message. */
  firstMs: number
  /** Seconds the fill took (not timed: outside the measurement). */
  fillSeconds: number
  messageSize: number
  /** Log lines at warn or above, and "deferred"/"bounced" outcomes (their msg and count). */
  problems: Map<string, number>
}

interface LogLine {
  level?: string
  msg?: string
  time?: string
  [key: string]: unknown
}

/**
 * One round: a fresh data dir and queue, `postern serve` until the queue is empty, then SIGTERM.
 * With `profileDir`, the server runs with --cpu-prof and leaves its profile there.
 */
export async function runPosternRound(
  sink: CountingSink,
  messages: RelayMessages,
  profileDir: string | null,
): Promise<PosternRound> {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-bench-relay-'))
  try {
    const dataDir = path.join(dir, 'data')
    const configPath = path.join(dir, 'postern.toml')
    const [port] = await getFreePorts(1)
    if (port === undefined) throw new Error('no free port for Postern')
    writeFileSync(
      configPath,
      `hostname = "${HOSTNAME}"
data_dir = "${dataDir}"

[listen]
smtp = "127.0.0.1:${port}"

# Postfix, the peer, checks no SPF, DKIM or DMARC, and the bench must not ask real DNS.
[mailauth]
verify = false

[log]
level = "info"
format = "json"

[relay]
smart_host = { address = "127.0.0.1:${sink.port}", tls = "opportunistic" }
`,
    )
    mkdirSync(dataDir, { mode: 0o700 })
    const fillStarted = performance.now()
    const messageSize = await fillQueue(dataDir, messages)
    const fillSeconds = (performance.now() - fillStarted) / 1000

    const watcher = await openSqliteStore({ dataDir, orphanAgeMs: null })
    const server = startServer(dir, configPath, profileDir)
    try {
      const received = sink.messages()
      const readyAt = await server.waitForReady()
      const drained = await waitForEmptyQueue(watcher, server)
      const seconds = (drained - readyAt) / 1000
      await sink.waitFor(received + messages.count, 5000)
      if (sink.messages() !== received + messages.count) {
        throw new Error(
          `smtp-sink took ${sink.messages() - received} messages from Postern, not ${messages.count}`,
        )
      }
      await server.stop()
      const lines = server.logLines()
      const delivered = lines.filter((line) => line.msg === 'delivered').length
      if (delivered !== messages.count) {
        throw new Error(`Postern logged ${delivered} "delivered", not ${messages.count}`)
      }
      return {
        seconds,
        firstMs: (sink.reachedAt(received + 1) ?? readyAt) - readyAt,
        fillSeconds,
        messageSize,
        problems: problemsIn(lines),
      }
    } catch (error) {
      await server.stop()
      throw new Error(`${(error as Error).message}\nPostern's log (end):\n${server.logTail()}`)
    } finally {
      await watcher.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * What smtp-source sends with -l BYTES (From, To, Date, Message-Id, then BYTES octets of 'X'
 * lines), with the Received line Postern would have added on receipt, as Postfix's queue holds
 * the same message with its own Received line.
 */
export function relayMessage(messages: RelayMessages, index: number, date: string): Buffer {
  const head = [
    `Received: from source.bench.test ([127.0.0.1])`,
    `\tby ${HOSTNAME} (Postern) with ESMTP id ${index + 1}`,
    `\tfor <${messages.recipient}>; ${date}`,
    `From: <${messages.sender}>`,
    `To: <${messages.recipient}>`,
    `Date: ${date}`,
    `Message-Id: <${index + 1}.bench@source.bench.test>`,
    '',
    '',
  ].join('\r\n')
  const lines: string[] = []
  let left = messages.bytes
  for (let n = 1; left > 0; n += 1) {
    const line = `${n % 10}${'X'.repeat(77)}\r\n`.slice(0, left)
    lines.push(line)
    left -= line.length
  }
  const body = lines.join('')
  return Buffer.from(`${head}${body.endsWith('\r\n') ? body : `${body}\r\n`}`, 'latin1')
}

/** The queue entries, one per message, through the store's own acceptMessage. */
async function fillQueue(dataDir: string, messages: RelayMessages): Promise<number> {
  const store = await openSqliteStore({ dataDir, orphanAgeMs: null })
  const date = new Date().toUTCString().replace('GMT', '+0000')
  let size = 0
  try {
    for (let start = 0; start < messages.count; start += FILL_BATCH) {
      const batch: Promise<unknown>[] = []
      for (let i = start; i < Math.min(start + FILL_BATCH, messages.count); i += 1) {
        const bytes = relayMessage(messages, i, date)
        size = bytes.length
        batch.push(
          store.acceptMessage({
            deliveries: [],
            queue: {
              message: { bytes },
              entry: {
                sender: messages.sender,
                recipients: [
                  { address: messages.recipient, originalRecipient: null, notify: null },
                ],
                envelopeId: null,
                ret: null,
                body: '7bit',
                smtputf8: false,
                submittedBy: null,
              },
            },
          }),
        )
      }
      await Promise.all(batch)
    }
    const queued = await countQueue(store)
    if (queued !== messages.count)
      throw new Error(`the queue holds ${queued}, not ${messages.count}`)
  } finally {
    await store.close()
  }
  return size
}

async function countQueue(store: Store): Promise<number> {
  let count = 0
  let afterId = 0
  for (;;) {
    const page = await store.listQueue({ afterId, limit: 1000 })
    count += page.length
    const last = page.at(-1)
    if (last === undefined) return count
    afterId = last.id
  }
}

interface Server {
  /** The time stamp of the "Postern is ready" line (ms since the epoch). */
  waitForReady(): Promise<number>
  isRunning(): boolean
  logText(): string
  logLines(): LogLine[]
  logTail(lines?: number): string
  stop(): Promise<void>
}

function startServer(dir: string, configPath: string, profileDir: string | null): Server {
  const logPath = path.join(dir, 'serve.log')
  const logFd = openSync(logPath, 'a')
  const profile = profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  const child: ChildProcess = spawn(
    process.execPath,
    [...profile, MAIN, 'serve', '--config', configPath],
    { cwd: dir, stdio: ['ignore', logFd, logFd] },
  )
  closeSync(logFd)
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const isRunning = () => child.exitCode === null && child.signalCode === null
  const readLog = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '')
  const logLines = () =>
    readLog()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine)
  return {
    async waitForReady() {
      const deadline = Date.now() + READY_TIMEOUT_MS
      for (;;) {
        const ready = logLines().find((line) => line.msg === 'Postern is ready')
        if (ready !== undefined) return Date.parse(String(ready.time))
        if (!isRunning())
          throw new Error(`postern serve exited (${child.exitCode ?? child.signalCode})`)
        if (Date.now() > deadline) throw new Error('postern serve never logged "Postern is ready"')
        await sleep(POLL_MS)
      }
    },
    isRunning,
    logText: readLog,
    logLines,
    logTail: (lines = 20) => readLog().trimEnd().split('\n').slice(-lines).join('\n'),
    async stop() {
      if (!isRunning()) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    },
  }
}

/**
 * Polls the queue until it is empty and returns Date.now() then. Fails early when the server
 * exits or its log shows an outcome other than delivered (a deferral waits minutes for its retry).
 */
async function waitForEmptyQueue(store: Store, server: Server): Promise<number> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS
  let nextLogCheck = Date.now() + LOG_CHECK_MS
  for (;;) {
    const [first] = await store.listQueue({ limit: 1 })
    const now = Date.now()
    if (first === undefined) return now
    if (!server.isRunning()) throw new Error('postern serve exited with messages still queued')
    if (now > deadline) throw new Error(`the queue is not empty after ${DRAIN_TIMEOUT_MS} ms`)
    if (now > nextLogCheck) {
      nextLogCheck = now + LOG_CHECK_MS
      const failed = /^.*"msg":"(deferred|bounced)".*$/m.exec(server.logText())
      if (failed !== null) throw new Error(`Postern ${failed[1]}: ${failed[0]}`)
    }
    await sleep(POLL_MS)
  }
}

/** Lines at warn or above (but the certificate's), and non-delivered outcomes, by message. */
function problemsIn(lines: readonly LogLine[]): Map<string, number> {
  const problems = new Map<string, number>()
  for (const line of lines) {
    const isProblem =
      ['warn', 'error', 'fatal'].includes(line.level ?? '') ||
      line.msg === 'deferred' ||
      line.msg === 'bounced'
    // Each round's fresh data dir makes a certificate: expected, and outside the clock.
    if (!isProblem || /self-signed certificate/.test(line.msg ?? '')) continue
    const key = `${line.level} "${line.msg}"`
    problems.set(key, (problems.get(key) ?? 0) + 1)
  }
  return problems
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
