// The imap benchmark's IDLE memory test, client side, in a process of its own: `perUser` sessions
// for each account (connect, LOGIN, SELECT INBOX, IDLE), `concurrency` being set up at once, all
// then left idling. Driven over standard input and output, one JSON line each way:
//   in: the HoldSpec; out: {"held": n, "setupMs": …} once every session is idling;
//   in: "deliver"; out: {"deliveries": [...]}: for each of the first `deliveries` accounts, one
//     message APPENDed by another connection of that account, timed until every one of its
//     IDLE sessions has reported it (EXISTS); the message is expunged again afterwards;
//   in: "close"; out: {"closed": n}, and the process ends.
// holdIdleSessions() spawns it. The process needs a file descriptor per session: the spawn
// checks its limit first (/proc/self/limits; `ulimit -n` raises it for the benchmark).
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { ImapClient, type ImapResponse, quoted } from './imap-client.ts'
import { messageMaker } from './load.ts'
import { appendUid, type ImapLogin } from './session.ts'

const DELIVERY_TIMEOUT_MS = 120_000
/** File descriptors the process needs besides its sessions'. */
const SPARE_FDS = 200

export interface HoldSpec {
  port: number
  users: ImapLogin[]
  perUser: number
  /** Sessions being set up at once. */
  concurrency: number
  /** Accounts whose sessions are sent a message while they idle. */
  deliveries: number
}

export interface DeliveryTiming {
  login: string
  /** Sessions of the account that reported the message. */
  sessions: number
  /** From sending the APPEND to the first and to the last session's EXISTS. */
  firstMs: number
  lastMs: number
}

export interface HeldIdleSessions {
  held: number
  setupMs: number
  deliver(): Promise<DeliveryTiming[]>
  close(): Promise<void>
}

const SELF = fileURLToPath(import.meta.url)

/** Starts the client process and resolves once every session idles. */
export async function holdIdleSessions(spec: HoldSpec): Promise<HeldIdleSessions> {
  const needed = spec.users.length * spec.perUser + SPARE_FDS
  const limit = openFilesLimit()
  if (limit < needed) {
    throw new Error(
      `holding ${spec.users.length * spec.perUser} IDLE sessions needs ${needed} file descriptors, the limit is ${limit}: raise it (ulimit -n ${needed}) or lower POSTERN_BENCH_IMAP_IDLE_SESSIONS`,
    )
  }
  const child = spawn(process.execPath, [SELF], { stdio: ['pipe', 'pipe', 'pipe'] })
  let errors = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    errors += chunk
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next()
    if (line.done === true) {
      await exited
      throw new Error(`the IDLE client process ended (${child.exitCode}): ${errors.trim()}`)
    }
    return JSON.parse(line.value) as Record<string, unknown>
  }
  child.stdin?.write(`${JSON.stringify(spec)}\n`)
  let ready: Record<string, unknown>
  try {
    ready = await next()
  } catch (error) {
    stop(child)
    throw error
  }
  return {
    held: Number(ready.held),
    setupMs: Number(ready.setupMs),
    async deliver() {
      child.stdin?.write('deliver\n')
      return (await next()).deliveries as DeliveryTiming[]
    },
    async close() {
      child.stdin?.write('close\n')
      await next().catch(() => undefined)
      await exited
    },
  }
}

function stop(child: ChildProcess): void {
  if (child.exitCode === null) child.kill('SIGKILL')
}

/** The soft limit on open files of this process (its children inherit it). */
export function openFilesLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8')
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits)
  return match === null || match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1])
}

interface Held {
  client: ImapClient
  user: ImapLogin
  /** Called with each EXISTS count the session reports. */
  onExists: ((count: number) => void) | null
}

async function hold(spec: HoldSpec): Promise<Held[]> {
  const total = spec.users.length * spec.perUser
  const held: Held[] = []
  let next = 0
  const opener = async () => {
    for (let index = next; index < total; index = next) {
      next += 1
      const user = spec.users[index % spec.users.length]
      if (user === undefined) return
      const client = await ImapClient.connect(spec.port)
      const session: Held = { client, user, onExists: null }
      held.push(session)
      await client.ok(`LOGIN ${quoted(user.login)} ${quoted(user.password)}`)
      await client.ok('SELECT INBOX')
      await client.startIdle((response: ImapResponse) => {
        const match = /^\* (\d+) EXISTS$/.exec(response.text)
        if (match !== null) session.onExists?.(Number(match[1]))
      })
    }
  }
  try {
    await Promise.all(Array.from({ length: spec.concurrency }, opener))
  } catch (error) {
    for (const session of held) session.client.close()
    throw new Error(`after ${held.length} IDLE sessions: ${(error as Error).message}`)
  }
  return held
}

async function deliver(spec: HoldSpec, held: readonly Held[]): Promise<DeliveryTiming[]> {
  const message = messageMaker(`idle-${process.pid}`)
  const timings: DeliveryTiming[] = []
  for (const user of spec.users.slice(0, spec.deliveries)) {
    const sessions = held.filter((session) => session.user.login === user.login)
    const deliverer = await ImapClient.connect(spec.port)
    await deliverer.ok(`LOGIN ${quoted(user.login)} ${quoted(user.password)}`)
    const selected = await deliverer.ok('SELECT INBOX')
    const before = Number(
      selected.untagged.map((r) => /^\* (\d+) EXISTS$/.exec(r.text)?.[1]).find(Boolean),
    )
    const bytes = message()
    const seenAt: number[] = []
    const allSeen = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${seenAt.length} of ${sessions.length} IDLE sessions of ${user.login} saw the delivery in ${DELIVERY_TIMEOUT_MS} ms`,
            ),
          ),
        DELIVERY_TIMEOUT_MS,
      )
      for (const session of sessions) {
        session.onExists = (count) => {
          if (count <= before) return
          session.onExists = null
          seenAt.push(performance.now())
          if (seenAt.length === sessions.length) {
            clearTimeout(timer)
            resolve()
          }
        }
      }
    })
    const sentAt = performance.now()
    const appended = await deliverer.ok(`APPEND INBOX {${bytes.length}}`, bytes)
    await allSeen
    timings.push({
      login: user.login,
      sessions: sessions.length,
      firstMs: Math.min(...seenAt) - sentAt,
      lastMs: Math.max(...seenAt) - sentAt,
    })
    await deliverer.ok(`UID STORE ${appendUid(appended.tagged)} +FLAGS.SILENT (\\Deleted)`)
    await deliverer.ok('EXPUNGE')
    await deliverer.logout()
  }
  return timings
}

async function main(): Promise<void> {
  const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
  const first = await input.next()
  if (first.done === true) return
  const spec = JSON.parse(first.value) as HoldSpec
  const started = performance.now()
  const held = await hold(spec)
  const write = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)
  write({ held: held.length, setupMs: performance.now() - started })
  for (let line = await input.next(); line.done !== true; line = await input.next()) {
    if (line.value === 'deliver') write({ deliveries: await deliver(spec, held) })
    if (line.value === 'close') break
  }
  for (const session of held) session.client.close()
  write({ closed: held.length })
}

if (process.argv[1] === SELF) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`)
      process.exit(1)
    },
  )
}
