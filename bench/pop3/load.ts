// The pop3 benchmark's load generator, run in a process of its own (so that its CPU is not the
// server's, and the benchmark's own process stays out of the way): `clients` sessions at a time
// (bench/pop3/pop3-client.ts), each account used by one session at a time, taken in turn from a
// queue (an account goes to the back when its session ends, so it rests while the others are
// used, and POP3's exclusive maildrop lock is never what a session waits for). It runs for
// `seconds` (no session starts after that; those under way finish and count), or for exactly
// `sessions` sessions. Spawned by runLoad(); prints one JSON LoadReport line; the first failed
// session fails the whole run.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type Pop3Login, runSession } from './pop3-client.ts'

export interface LoadSpec {
  port: number
  users: Pop3Login[]
  clients: number
  /** Messages every maildrop must hold. */
  messages: number
  seconds: number | null
  sessions: number | null
}

export interface LoadReport {
  sessions: number
  messages: number
  octets: number
  /** From the first connect to the end of the last session. */
  elapsedMs: number
  /** Median time of one session, connect to QUIT's answer. */
  sessionMs: number
  /** CPU time the load process used meanwhile (user + system). */
  cpuMs: number
}

const SELF = fileURLToPath(import.meta.url)

/** Runs the load in a child process and returns its report. */
export function runLoad(spec: LoadSpec): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SELF, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
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
      else reject(new Error(`the POP3 load failed (${code}): ${errors.trim() || out.trim()}`))
    })
  })
}

async function load(spec: LoadSpec): Promise<LoadReport> {
  const queue = [...spec.users]
  const deadline = spec.seconds === null ? Number.POSITIVE_INFINITY : spec.seconds * 1000
  const durations: number[] = []
  let started = 0
  let messages = 0
  let octets = 0
  const begin = performance.now()
  const cpuBefore = process.cpuUsage()
  const client = async () => {
    for (;;) {
      if (spec.sessions !== null ? started >= spec.sessions : performance.now() - begin >= deadline)
        return
      started += 1
      const user = queue.shift()
      if (user === undefined) throw new Error('more clients than accounts')
      const sessionStart = performance.now()
      try {
        const outcome = await runSession(spec.port, user, spec.messages)
        messages += outcome.messages
        octets += outcome.octets
      } finally {
        queue.push(user)
      }
      durations.push(performance.now() - sessionStart)
    }
  }
  await Promise.all(Array.from({ length: spec.clients }, client))
  const elapsedMs = performance.now() - begin
  const cpu = process.cpuUsage(cpuBefore)
  durations.sort((a, b) => a - b)
  return {
    sessions: durations.length,
    messages,
    octets,
    elapsedMs,
    sessionMs: durations[Math.floor(durations.length / 2)] ?? 0,
    cpuMs: (cpu.user + cpu.system) / 1000,
  }
}

if (process.argv[1] === SELF) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
  load(spec).then(
    (report) => process.stdout.write(`${JSON.stringify(report)}\n`),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).message}\n`)
      process.exit(1)
    },
  )
}
