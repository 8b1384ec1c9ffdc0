// `npm run bench -- pop3`: POP3 sessions per second and messages retrieved per second, Postern
// against Dovecot's pop3d, same machine, same messages, same run.
//
// Data: M accounts (default 50, user1@example.test…), each with its own password and a maildrop
// of the same K messages on both sides (default 20; bench/pop3/messages.ts: 2–50 KB, about
// 15 KB on average, realistic headers, some lines dot-stuffed on the wire). Postern gets them
// through its store and directory before its server starts (bench/pop3/postern-pop3.ts: argon2id
// password hashes, INBOX deliveries); Dovecot (bench/pop3/dovecot-pop3.ts: Debian's dovecot-pop3d
// on a private config, its settings listed there) gets a passwd-file with the very same argon2id
// hashes and Maildirs holding the same messages, so both send the same octets for every RETR
// (checked once before the rounds, message by message, for the first and the last account).
// Plain POP3 on 127.0.0.1, USER/PASS, no TLS, no auth cache on either side: every login verifies
// its argon2id hash (19 MiB, 2 passes; Dovecot through libsodium in its one auth process,
// Postern through OpenSSL in libuv's thread pool), which is most of a session's CPU.
//
// Load (bench/pop3/load.ts, a process of its own; bench/pop3/pop3-client.ts): N concurrent
// clients (default 20), each looping over sessions: connect, greeting, USER, PASS, STAT, LIST,
// UIDL, RETR of every message (each checked: once unstuffed, the octets LIST gave), QUIT. Each
// session takes the account at the front of a queue and puts it at the back when it ends, so no
// two sessions share a maildrop (POP3's exclusive lock is not what is measured). Each run lasts
// S seconds (default 10: no session starts after that, those under way finish and count);
// rate = sessions (or messages) / elapsed time. Before the rounds every account does one session
// on each server (not counted: Dovecot builds its index then, both fill the page cache).
//
// Rounds (default 3): both servers stay up throughout and take turns (Postern first in odd
// rounds, Dovecot first in even ones); the median round counts. Printed per run, besides the
// rates: MB/s retrieved, the median session time, and CPU time per session: the server's (its
// process tree's user + system time, from /proc: Postern's thread pool, where argon2id runs,
// and every Dovecot process, auth included), which other load on the machine inflates less than
// it does the rates; for Postern also split by thread (main, libuv's pool, V8's helpers); and in
// the medians, the load process's own CPU, which shows that it is not the bottleneck.
//
// Knobs: POSTERN_BENCH_POP3_CLIENTS (20), POSTERN_BENCH_POP3_ROUNDS (3),
// POSTERN_BENCH_POP3_SECONDS (10), POSTERN_BENCH_POP3_USERS (50, more than the clients),
// POSTERN_BENCH_POP3_MESSAGES (per maildrop, 20); `--quick` (or POSTERN_BENCH_QUICK=1) for one
// round of 3 s with 10 clients, 25 accounts and 10 messages each.
// POSTERN_BENCH_POP3_DOVECOT_PROCESSES = performance | stock: Dovecot reuses its login and pop3
// processes (the default here), or forks them per connection as it does out of the box (see
// dovecot-pop3.ts). POSTERN_BENCH_POP3_CPU_PROF=DIR: after the rounds, Postern is restarted
// under node --cpu-prof for one more run (not counted); the profile (main thread only: argon2id
// runs in the thread pool) is left in DIR and its top self-time functions printed. The defaults
// take about a minute and a half on two cores.
import { mkdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { latestProfile, topSelfTime } from '../relay/profile.ts'
import { type BenchResult, median } from '../result.ts'
import { type ThreadCpuMs, threadCpuMs, treeCpuMs } from './cpu.ts'
import {
  type DovecotPop3,
  type DovecotProcessMode,
  dovecotPop3Unavailable,
  startDovecotPop3,
} from './dovecot-pop3.ts'
import { type LoadReport, type LoadSpec, runLoad } from './load.ts'
import { pop3Message } from './messages.ts'
import { runSession } from './pop3-client.ts'
import {
  type BenchAccount,
  type PosternPop3Server,
  preparePosternPop3,
  startPosternPop3,
} from './postern-pop3.ts'

const DOMAIN = 'example.test'
const SETTLE_MS = 500
const PROFILE_TOP = 25

type Target = 'postern' | 'dovecot'

interface Figures {
  sessionsPerSecond: number
  messagesPerSecond: number
  megabytesPerSecond: number
  sessionMs: number
  cpuMsPerSession: number
  /** The load process's CPU per session. */
  clientCpuMsPerSession: number
  /** Postern's CPU per session by kind of thread (null for Dovecot). */
  threadMsPerSession: ThreadCpuMs | null
}

export async function run(): Promise<BenchResult[]> {
  const started = performance.now()
  const isQuick = process.argv.includes('--quick') || process.env.POSTERN_BENCH_QUICK === '1'
  const knob = (name: string, normal: number, quick: number) =>
    Number(process.env[`POSTERN_BENCH_POP3_${name}`] ?? (isQuick ? quick : normal))
  const clients = knob('CLIENTS', 20, 10)
  const rounds = knob('ROUNDS', 3, 1)
  const seconds = knob('SECONDS', 10, 3)
  const userCount = knob('USERS', 50, 25)
  const messageCount = knob('MESSAGES', 20, 10)
  const processMode = (process.env.POSTERN_BENCH_POP3_DOVECOT_PROCESSES ??
    'performance') as DovecotProcessMode
  const profileDir = process.env.POSTERN_BENCH_POP3_CPU_PROF ?? null
  if (processMode !== 'performance' && processMode !== 'stock') {
    throw new Error('POSTERN_BENCH_POP3_DOVECOT_PROCESSES must be "performance" or "stock"')
  }
  if (userCount < clients + 1) {
    throw new Error(`POSTERN_BENCH_POP3_USERS (${userCount}) must exceed the clients (${clients})`)
  }
  const missing = dovecotPop3Unavailable()
  if (missing !== null) throw new Error(`Cannot run the pop3 benchmark: ${missing}`)

  const accounts: BenchAccount[] = Array.from({ length: userCount }, (_, user) => {
    const login = `user${user + 1}@${DOMAIN}`
    return {
      login,
      password: `pop3-bench-${user + 1}-secret`,
      messages: Array.from({ length: messageCount }, (_, n) => pop3Message(user, n, login)),
    }
  })
  const maildropOctets = accounts[0]?.messages.reduce((sum, bytes) => sum + bytes.length, 0) ?? 0
  process.stdout.write(
    `pop3: ${clients} clients, ${userCount} accounts of ${messageCount} messages (${(maildropOctets / 1024).toFixed(0)} KB in the first), ${seconds} s per run, ${rounds} round(s); dovecot processes: ${processMode}\n`,
  )

  const setup = await preparePosternPop3(accounts, Math.max(100, clients * 4))
  let postern: PosternPop3Server | null = null
  let dovecot: DovecotPop3 | null = null
  // Ctrl-C still stops both servers and removes their directories.
  const interrupt = () => {
    void Promise.all([postern?.stop(), dovecot?.stop()]).finally(() => {
      rmSync(setup.dir, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.once('SIGINT', interrupt)
  const figures: Record<Target, Figures[]> = { postern: [], dovecot: [] }
  try {
    postern = await startPosternPop3(setup)
    dovecot = await startDovecotPop3({
      accounts,
      passwordHashes: setup.passwordHashes,
      clients,
      processMode,
    })
    process.stdout.write(
      `  set up in ${((performance.now() - started) / 1000).toFixed(0)} s; postern on 127.0.0.1:${setup.port}, dovecot on 127.0.0.1:${dovecot.port}\n`,
    )
    const servers: Record<Target, { port: number; pid: number }> = {
      postern: { port: setup.port, pid: postern.pid },
      dovecot: { port: dovecot.port, pid: dovecot.pid },
    }
    for (const target of ['postern', 'dovecot'] as const) {
      await checkBytes(target, servers[target].port, accounts)
    }
    const spec = (port: number): LoadSpec => ({
      port,
      users: accounts.map(({ login, password }) => ({ login, password })),
      clients,
      messages: messageCount,
      seconds,
      sessions: null,
    })
    for (const target of ['postern', 'dovecot'] as const) {
      await runLoad({ ...spec(servers[target].port), seconds: null, sessions: userCount })
    }
    await sleep(SETTLE_MS)

    for (let round = 1; round <= rounds; round += 1) {
      const order: Target[] = round % 2 === 1 ? ['postern', 'dovecot'] : ['dovecot', 'postern']
      const line: string[] = []
      for (const target of order) {
        const { port, pid } = servers[target]
        const cpuBefore = treeCpuMs(pid)
        const threadsBefore = target === 'postern' ? threadCpuMs(pid) : null
        const report = await runLoad(spec(port))
        const result = toFigures(report, treeCpuMs(pid) - cpuBefore, threadsBefore, pid)
        figures[target].push(result)
        line.push(`${target} ${describe(result)}`)
        await sleep(SETTLE_MS)
      }
      process.stdout.write(`  round ${round}: ${line.join('; ')}\n`)
    }

    for (const [name, problems] of [
      ['postern', postern.problems()],
      ['dovecot', dovecot.problems()],
    ] as const) {
      if (problems.length === 0) continue
      process.stdout.write(`  ${name} logged ${problems.length} warning(s) or error(s), e.g.:\n`)
      for (const problem of problems.slice(0, 5)) process.stdout.write(`    ${problem}\n`)
    }

    if (profileDir !== null) {
      await postern.stop()
      mkdirSync(profileDir, { recursive: true })
      postern = await startPosternPop3(setup, path.resolve(profileDir))
      await runLoad({ ...spec(setup.port), seconds: null, sessions: userCount })
      const cpuBefore = treeCpuMs(postern.pid)
      const threadsBefore = threadCpuMs(postern.pid)
      const report = await runLoad(spec(setup.port))
      const profiled = toFigures(
        report,
        treeCpuMs(postern.pid) - cpuBefore,
        threadsBefore,
        postern.pid,
      )
      await postern.stop()
      const file = latestProfile(profileDir)
      process.stdout.write(
        `  profiled postern run (not counted): ${describe(profiled)}; ${file ?? 'no profile written'}\n`,
      )
      if (file !== null) {
        for (const line of topSelfTime(file, PROFILE_TOP)) process.stdout.write(`    ${line}\n`)
      }
    }
  } finally {
    process.off('SIGINT', interrupt)
    await postern?.stop()
    await dovecot?.stop()
    rmSync(setup.dir, { recursive: true, force: true })
  }

  const medianOf = (target: Target, key: NumericFigure) =>
    median(figures[target].map((figure) => figure[key]))
  const medianThreads = (target: Target): ThreadCpuMs | null => {
    const split = figures[target].flatMap((figure) => figure.threadMsPerSession ?? [])
    if (split.length === 0) return null
    const of = (kind: keyof ThreadCpuMs) => median(split.map((threads) => threads[kind]))
    return { main: of('main'), pool: of('pool'), v8: of('v8'), other: of('other') }
  }
  for (const target of ['postern', 'dovecot'] as const) {
    process.stdout.write(
      `  ${target} medians: ${medianOf(target, 'sessionsPerSecond').toFixed(1)} sessions/s, ${medianOf(target, 'messagesPerSecond').toFixed(0)} messages/s, ${medianOf(target, 'megabytesPerSecond').toFixed(1)} MB/s, session ${medianOf(target, 'sessionMs').toFixed(0)} ms, CPU ${medianOf(target, 'cpuMsPerSession').toFixed(1)} ms/session${describeThreads(medianThreads(target))}, client CPU ${medianOf(target, 'clientCpuMsPerSession').toFixed(1)} ms/session\n`,
    )
  }
  process.stdout.write(`  took ${((performance.now() - started) / 1000).toFixed(0)} s\n`)
  const result = (name: string, unit: string, key: NumericFigure, digits: number) => {
    const posternValue = medianOf('postern', key)
    const dovecotValue = medianOf('dovecot', key)
    const round = (value: number) => Number(value.toFixed(digits))
    return {
      name,
      unit,
      postern: { value: round(posternValue) },
      peer: { name: 'dovecot', value: round(dovecotValue) },
      ratio: posternValue / dovecotValue,
    }
  }
  return [
    result('pop3-sessions', 'sessions/s', 'sessionsPerSecond', 1),
    result('pop3-messages', 'messages/s', 'messagesPerSecond', 0),
  ]
}

/**
 * One session on the first and on the last account, keeping what RETR sent: the messages (dot-
 * stuffing undone) must be exactly those stored, in some order.
 */
async function checkBytes(
  target: Target,
  port: number,
  accounts: readonly BenchAccount[],
): Promise<void> {
  for (const account of [accounts[0], accounts.at(-1)]) {
    if (account === undefined) continue
    const received: Buffer[] = []
    await runSession(port, account, account.messages.length, (message) => received.push(message))
    const expected = [...account.messages].sort(Buffer.compare)
    received.sort(Buffer.compare)
    const differs = expected.findIndex((bytes, i) => !bytes.equals(received[i] ?? Buffer.alloc(0)))
    if (differs >= 0 || received.length !== expected.length) {
      throw new Error(
        `${target} did not send ${account.login}'s messages as stored (${received.length} received, first difference at ${differs} in sorted order)`,
      )
    }
  }
}

type NumericFigure = Exclude<keyof Figures, 'threadMsPerSession'>

/** The run's rates; `threadsBefore` (with the pid) for Postern's CPU split by thread. */
function toFigures(
  report: LoadReport,
  cpuMs: number,
  threadsBefore: ThreadCpuMs | null,
  pid: number,
): Figures {
  const elapsed = report.elapsedMs / 1000
  const sessions = Math.max(1, report.sessions)
  let threadMsPerSession: ThreadCpuMs | null = null
  if (threadsBefore !== null) {
    const after = threadCpuMs(pid)
    const per = (kind: keyof ThreadCpuMs) => (after[kind] - threadsBefore[kind]) / sessions
    threadMsPerSession = {
      main: per('main'),
      pool: per('pool'),
      v8: per('v8'),
      other: per('other'),
    }
  }
  return {
    sessionsPerSecond: report.sessions / elapsed,
    messagesPerSecond: report.messages / elapsed,
    megabytesPerSecond: report.octets / 1024 / 1024 / elapsed,
    sessionMs: report.sessionMs,
    cpuMsPerSession: cpuMs / sessions,
    clientCpuMsPerSession: report.cpuMs / sessions,
    threadMsPerSession,
  }
}

function describe(figures: Figures): string {
  return `${figures.sessionsPerSecond.toFixed(1)} sessions/s, ${figures.messagesPerSecond.toFixed(0)} msg/s, ${figures.megabytesPerSecond.toFixed(1)} MB/s, session ${figures.sessionMs.toFixed(0)} ms, CPU ${figures.cpuMsPerSession.toFixed(1)} ms/session${describeThreads(figures.threadMsPerSession)}`
}

function describeThreads(threads: ThreadCpuMs | null): string {
  if (threads === null) return ''
  return ` (main thread ${threads.main.toFixed(1)}, thread pool ${threads.pool.toFixed(1)}, V8 helpers ${threads.v8.toFixed(1)})`
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
