// The imap benchmark's load generator, run in a process of its own (its CPU is not the
// server's): `clients` sessions at a time (bench/imap/session.ts), each account used by one
// session at a time, taken in turn from a queue (an account goes to the back when its session
// ends). Every account also has a deliverer: a connection logged in before the clock starts that
// APPENDs the message an IDLE session of that account waits for. A run lasts `seconds` (no
// session starts after that; those under way finish and count) or exactly `sessions` sessions.
// The server's CPU (its process tree, from /proc) is read here, from just before the first
// session to the end of the last, so the deliverers' logins are not in it. Spawned by runLoad();
// prints one JSON LoadReport line; the first failed session fails the whole run.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type ThreadCpuMs, threadCpuMs, treeCpuMs } from '../pop3/cpu.ts'
import { pop3Message } from '../pop3/messages.ts'
import { ImapClient, quoted } from './imap-client.ts'
import { appendUid, type ImapLogin, runImapSession, STEPS } from './session.ts'

/** Connections logging in at once while the deliverers are set up. */
const LOGIN_CONCURRENCY = 8
/** Different messages APPENDed (each made unique by a header line of its own). */
const TEMPLATES = 8

export interface LoadSpec {
  port: number
  /**
   * Where the deliverers APPEND (default `port`): another node on the same database makes every
   * IDLE notification cross nodes.
   */
  deliverPort?: number
  /** The server's process (its tree's CPU is measured). */
  pid: number
  /** Split the server's CPU by thread (a Node process). */
  threads: boolean
  users: ImapLogin[]
  clients: number
  /** Messages in each INBOX between sessions. */
  base: number
  idle: boolean
  seconds: number | null
  sessions: number | null
  /** Seeds which bodies each client fetches. */
  seed: number
}

export interface LoadReport {
  sessions: number
  /** Commands answered OK (the deliverers' APPENDs included). */
  commands: number
  /** Literal octets received. */
  octets: number
  /** From the first session's connect to the end of the last session. */
  elapsedMs: number
  /** Median time of one session, connect to LOGOUT's answer. */
  sessionMs: number
  /** Median and 95th percentile of the IDLE notifications (APPEND sent to EXISTS seen). */
  notifyMs: number | null
  notifyP95Ms: number | null
  /** The load process's CPU time meanwhile (user + system). */
  cpuMs: number
  /** The server's CPU time meanwhile. */
  serverCpuMs: number
  /** The server's CPU by kind of thread, when asked for. */
  serverThreads: ThreadCpuMs | null
  /** Median milliseconds of each step of a session (session.ts STEPS). */
  stepMs: Record<string, number>
}

const SELF = fileURLToPath(import.meta.url)

/** Runs the load in a child process and returns its report. */
export function runLoad(spec: LoadSpec): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SELF], { stdio: ['pipe', 'pipe', 'pipe'] })
    // The account list may be long for a command line: it goes through standard input.
    child.stdin.end(JSON.stringify(spec))
    let out = ''
    let errors = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      errors += chunk
    })
    child.once('error', reject)
    child.once('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as LoadReport)
      else reject(new Error(`the IMAP load failed (${code}): ${errors.trim() || out.trim()}`))
    })
  })
}

/** A small deterministic generator (the same sequence for the same seed). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

/** Messages to APPEND: TEMPLATES generated ones, each call's copy unique by its first line. */
export function messageMaker(label: string): () => Buffer {
  const templates = Array.from({ length: TEMPLATES }, (_, n) =>
    pop3Message(7, 1000 + n, 'deliveries@example.test'),
  )
  let made = 0
  return () => {
    made += 1
    const template = templates[made % TEMPLATES] ?? templates[0] ?? Buffer.alloc(0)
    return Buffer.concat([Buffer.from(`X-Bench-Id: ${label}-${made}\r\n`, 'latin1'), template])
  }
}

/** A logged-in connection per account that APPENDs to its INBOX, one message at a time. */
export async function openDeliverers(
  port: number,
  users: readonly ImapLogin[],
): Promise<Map<string, ImapClient>> {
  const deliverers = new Map<string, ImapClient>()
  let next = 0
  const opener = async () => {
    for (let user = users[next]; user !== undefined; user = users[next]) {
      next += 1
      const client = await ImapClient.connect(port)
      deliverers.set(user.login, client)
      await client.ok(`LOGIN ${quoted(user.login)} ${quoted(user.password)}`)
    }
  }
  try {
    await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, opener))
  } catch (error) {
    for (const client of deliverers.values()) client.close()
    throw error
  }
  return deliverers
}

export function deliverWith(
  deliverers: ReadonlyMap<string, ImapClient>,
  message: () => Buffer,
): (user: ImapLogin) => Promise<number> {
  return async (user) => {
    const client = deliverers.get(user.login)
    if (client === undefined) throw new Error(`no deliverer for ${user.login}`)
    const bytes = message()
    const result = await client.ok(`APPEND INBOX {${bytes.length}}`, bytes)
    return appendUid(result.tagged)
  }
}

async function load(spec: LoadSpec): Promise<LoadReport> {
  const queue = [...spec.users]
  const deadline = spec.seconds === null ? Number.POSITIVE_INFINITY : spec.seconds * 1000
  const message = messageMaker(`${spec.seed}-${process.pid}`)
  const deliverers = spec.idle
    ? await openDeliverers(spec.deliverPort ?? spec.port, spec.users)
    : new Map()
  const deliver = deliverWith(deliverers, message)
  const durations: number[] = []
  const notifications: number[] = []
  const stepTimes = new Map<string, number[]>()
  let started = 0
  let commands = 0
  let octets = 0
  const serverCpuBefore = treeCpuMs(spec.pid)
  const threadsBefore = spec.threads ? threadCpuMs(spec.pid) : null
  const cpuBefore = process.cpuUsage()
  const begin = performance.now()
  const client = async (index: number) => {
    const random = seededRandom(spec.seed * 1000 + index + 1)
    for (;;) {
      if (spec.sessions !== null ? started >= spec.sessions : performance.now() - begin >= deadline)
        return
      started += 1
      const user = queue.shift()
      if (user === undefined) throw new Error('more clients than accounts')
      const sessionStart = performance.now()
      try {
        const outcome = await runImapSession({
          port: spec.port,
          user,
          base: spec.base,
          append: message(),
          idle: spec.idle,
          deliver,
          random,
          searchIndex: started,
        })
        commands += outcome.commands
        octets += outcome.octets
        if (outcome.notifyMs !== null) notifications.push(outcome.notifyMs)
        for (const [step, ms] of Object.entries(outcome.steps)) {
          const times = stepTimes.get(step) ?? []
          times.push(ms)
          stepTimes.set(step, times)
        }
      } finally {
        queue.push(user)
      }
      durations.push(performance.now() - sessionStart)
    }
  }
  try {
    await Promise.all(Array.from({ length: spec.clients }, (_, index) => client(index)))
  } finally {
    for (const deliverer of deliverers.values()) deliverer.close()
  }
  const elapsedMs = performance.now() - begin
  const cpu = process.cpuUsage(cpuBefore)
  const serverCpuMs = treeCpuMs(spec.pid) - serverCpuBefore
  let serverThreads: ThreadCpuMs | null = null
  if (threadsBefore !== null) {
    const after = threadCpuMs(spec.pid)
    serverThreads = {
      main: after.main - threadsBefore.main,
      pool: after.pool - threadsBefore.pool,
      v8: after.v8 - threadsBefore.v8,
      other: after.other - threadsBefore.other,
    }
  }
  return {
    sessions: durations.length,
    commands,
    octets,
    elapsedMs,
    sessionMs: percentile(durations, 0.5) ?? 0,
    notifyMs: percentile(notifications, 0.5),
    notifyP95Ms: percentile(notifications, 0.95),
    cpuMs: (cpu.user + cpu.system) / 1000,
    serverCpuMs,
    serverThreads,
    stepMs: Object.fromEntries(
      STEPS.flatMap((step) => {
        const ms = percentile(stepTimes.get(step) ?? [], 0.5)
        return ms === null ? [] : [[step, ms]]
      }),
    ),
  }
}

export function percentile(values: readonly number[], share: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * share))] ?? null
}

async function readStdin(): Promise<string> {
  let text = ''
  for await (const chunk of process.stdin) text += String(chunk)
  return text
}

if (process.argv[1] === SELF) {
  readStdin()
    .then((text) => load(JSON.parse(text) as LoadSpec))
    .then(
      (report) => process.stdout.write(`${JSON.stringify(report)}\n`),
      (error: unknown) => {
        process.stderr.write(`${(error as Error).stack ?? String(error)}\n`)
        process.exit(1)
      },
    )
}
