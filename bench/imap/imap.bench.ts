// `npm run bench -- imap`: IMAP operations per second at 10 and at 100 concurrent clients, and the
// memory of 10,000 idle IDLE connections, Postern against Dovecot's imapd, same machine, same
// mailboxes, same run.
//
// Data: M accounts (default 100, user1@example.test…), each with its own password and an INBOX
// of the same K messages on both sides (default 50; bench/pop3/messages.ts: 2–50 KB, about 15 KB
// on average, realistic headers, text or multipart with a base64 attachment), UID n being message
// n on both. Postern gets them through its store and directory before its server starts
// (bench/imap/postern-imap.ts: argon2id password hashes, INBOX deliveries, and their search text
// indexed, as a store in service has long done); Dovecot
// (bench/imap/dovecot-imap.ts: Debian's dovecot-imapd on a private config, its settings listed
// there) gets a passwd-file with the very same argon2id hashes and Maildirs holding the same
// messages, so both send the same octets (checked before the rounds, message by message, for the
// first and the last account; the SEARCH results and header FETCH of the first account are
// compared between the two). Plain IMAP on 127.0.0.1, LOGIN, no TLS, no auth cache on either
// side: every login verifies its argon2id hash (19 MiB, 2 passes), a large part of a session's
// CPU, as in the pop3 benchmark.
//
// Load (bench/imap/load.ts, a process of its own; bench/imap/session.ts, bench/imap/imap-client.ts):
// N concurrent clients, each looping over sessions: LOGIN, SELECT INBOX, UID FETCH 1:50 of flags,
// size and five header fields, UID FETCH of 5 bodies, UID STORE ±FLAGS (\Seen) on them, UID
// SEARCH UNSEEN, UID SEARCH SUBJECT, APPEND, IDLE until the message another connection of the
// account (its deliverer) APPENDs meanwhile is reported, DONE, UID STORE +FLAGS.SILENT (\Deleted)
// on the two new messages, EXPUNGE, LOGOUT: 13 commands, the deliverer's APPEND included (11
// without IDLE). Each session takes the account at the front of a queue and puts it at the back
// when it ends. Each run lasts S seconds (default 10: no session starts after that, those under
// way finish and count); operations/s = commands answered / elapsed time. Before the rounds every
// account does one session on each server (not counted: Dovecot builds its indexes then, both
// fill the page cache).
//
// Rounds (default 3) for each number of clients: both servers stay up and take turns (Postern
// first in odd rounds, Dovecot first in even ones); the median round counts. Printed per run:
// operations/s, sessions/s, the median session time and IDLE notification time (the deliverer's
// APPEND sent to EXISTS received: Dovecot 2.3 waits 500 ms after a change before it looks, see
// its mailbox-watch.c NOTIFY_DELAY_MSECS), CPU per session of the server's process tree (for
// Postern also by thread) and, in the medians, of the load process and the median time of each
// step of a session on both servers.
//
// Variants (POSTERN_BENCH_IMAP_VARIANTS, default "idle,no-idle"): "idle" is the session above;
// "no-idle" is the same without IDLE and the delivery (11 commands), which shows what the two
// servers do with their CPU when no session waits on a notification.
//
// IDLE memory (bench/imap/idle-hold.ts, a process of its own): after the rounds, I sessions
// (default 10,000: every account's share, 100 each at the defaults) log in, SELECT INBOX and
// IDLE, and stay. Postern is restarted for it (with its inspector on a loopback port), a warm-up
// of one such session per account is held and closed, then its resident memory (VmRSS) is read
// before and after, each time after a full garbage collection asked for through the inspector
// (the logins' garbage would otherwise count or not depending on when V8 collects it); the
// reading 5 s after the last session is up, before that collection, is printed too. Then one
// message is APPENDed to each of the first 3 accounts while everything idles, timed until every
// one of that account's IDLE sessions has reported it. The same against a Dovecot started for it
// (processMode 'idle': IDLE sessions hibernate into imap-hibernate after 1 s, Dovecot's way of
// holding many idle connections): the sum over its processes of VmRSS (which counts shared
// pages once per process) and of Pss. The client process needs a file descriptor per session
// (ulimit -n; 20,000 here).
//
// Dovecot's processes (POSTERN_BENCH_IMAP_DOVECOT_PROCESSES, see dovecot-imap.ts): 'login' by
// default (login processes serve many connections, an imap process per session), 'performance'
// (imap processes reused too, as in the pop3 benchmark: it runs out of inotify instances at 100
// clients on a stock kernel, and its IDLE then waits for a 30 s poll) or 'stock'.
//
// Knobs: POSTERN_BENCH_IMAP_CLIENTS ("10,100"), POSTERN_BENCH_IMAP_ROUNDS (3),
// POSTERN_BENCH_IMAP_SECONDS (10), POSTERN_BENCH_IMAP_USERS (100, at least the clients),
// POSTERN_BENCH_IMAP_MESSAGES (per INBOX, 50), POSTERN_BENCH_IMAP_VARIANTS ("idle,no-idle"),
// POSTERN_BENCH_IMAP_IDLE_SESSIONS (10000; 0 skips the memory test),
// POSTERN_BENCH_IMAP_DOVECOT_IDLE_SESSIONS (as many as root, at most 100 otherwise: rootless, all
// accounts share a uid and its 128 inotify instances; 0 holds none on Dovecot),
// POSTERN_BENCH_IMAP_DOVECOT_PROCESSES ('login'); `--quick` (or POSTERN_BENCH_QUICK=1) for one
// round of 3 s with 4 clients, 8 accounts, the idle variant and 200 IDLE sessions (too few for
// the memory per session to mean much: fixed costs dominate it).
// POSTERN_BENCH_IMAP_CPU_PROF=DIR: after the rounds, Postern is restarted under node --cpu-prof
// for one more run at the largest number of clients (not counted); the profile (main thread
// only: argon2id and file reads run in the thread pool) is left in DIR and its top self-time
// functions printed. The defaults take about 15 minutes on two cores, half of it logging the
// 2 × 10,000 IDLE sessions in.
import { mkdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { ThreadCpuMs } from '../pop3/cpu.ts'
import { pop3Message } from '../pop3/messages.ts'
import { latestProfile, topSelfTime } from '../relay/profile.ts'
import { type BenchResult, median } from '../result.ts'
import {
  type DovecotImap,
  type DovecotProcessMode,
  dovecotImapUnavailable,
  startDovecotImap,
} from './dovecot-imap.ts'
import { holdIdleSessions } from './idle-hold.ts'
import { ImapClient, quoted } from './imap-client.ts'
import { type LoadReport, type LoadSpec, runLoad } from './load.ts'
import { type MemoryKb, processMemory, treeMemory } from './memory.ts'
import {
  type BenchAccount,
  type PosternImapServer,
  preparePosternImap,
  startPosternImap,
} from './postern-imap.ts'
import { HEADER_FETCH, SEARCH_WORDS, STEPS } from './session.ts'

const DOMAIN = 'example.test'
const SETTLE_MS = 500
/** After the IDLE sessions are up, before their memory is first read (Dovecot hibernates them). */
const IDLE_SETTLE_MS = 5000
/**
 * After a full garbage collection in Postern (through its inspector), before its memory is read:
 * the logins leave garbage that a Node process left idle collects only later, once its memory
 * reducer runs (after 25 s in one trial, not within 45 s in another: 15 against 25 KB per
 * session), so both readings come after a forced one. Dovecot's are taken as they are.
 */
const GC_SETTLE_MS = 1000
const IDLE_CONCURRENCY = 16
/** Memory readings with the sessions up, a second apart; the median counts. */
const MEMORY_SAMPLES = 3
const IDLE_DELIVERIES = 3
const PROFILE_TOP = 25
const TARGET_KB_PER_IDLE = 50
/** Dovecot's IDLE sessions when not run as root. */
const ROOTLESS_IDLE = 100

type Target = 'postern' | 'dovecot'
type Variant = 'idle' | 'no-idle'

interface Figures {
  opsPerSecond: number
  sessionsPerSecond: number
  megabytesPerSecond: number
  sessionMs: number
  notifyMs: number
  cpuMsPerSession: number
  clientCpuMsPerSession: number
  threadMsPerSession: ThreadCpuMs | null
  /** Median time of each step of a session. */
  stepMs: Record<string, number>
}

interface IdleFigures {
  held: number
  perUser: number
  setupMs: number
  before: MemoryKb
  after: MemoryKb
  /** After a full garbage collection (Postern; see GC_SETTLE_MS). */
  rssKbPer: number
  pssKbPer: number
  /** IDLE_SETTLE_MS after the last session is up. */
  earlyRssKbPer: number
  firstMs: number
  lastMs: number
}

export async function run(): Promise<BenchResult[]> {
  const started = performance.now()
  const isQuick = process.argv.includes('--quick') || process.env.POSTERN_BENCH_QUICK === '1'
  const setting = (name: string, normal: string, quick: string) =>
    process.env[`POSTERN_BENCH_IMAP_${name}`] ?? (isQuick ? quick : normal)
  const knob = (name: string, normal: number, quick: number) =>
    Number(setting(name, String(normal), String(quick)))
  const clientLevels = setting('CLIENTS', '10,100', '4').split(',').map(Number)
  const rounds = knob('ROUNDS', 3, 1)
  const seconds = knob('SECONDS', 10, 3)
  const userCount = knob('USERS', 100, 8)
  const messageCount = knob('MESSAGES', 50, 50)
  const variants = setting('VARIANTS', 'idle,no-idle', 'idle').split(',') as Variant[]
  const idleSessions = knob('IDLE_SESSIONS', 10_000, 200)
  // Rootless, every account's mail is one uid's, whose 128 inotify instances (one per IDLE
  // session, see dovecot-imap.ts) cap what Dovecot can hold.
  const dovecotIdleDefault = isRoot() ? idleSessions : Math.min(idleSessions, ROOTLESS_IDLE)
  const dovecotIdleSessions = knob('DOVECOT_IDLE_SESSIONS', dovecotIdleDefault, dovecotIdleDefault)
  const processMode = (process.env.POSTERN_BENCH_IMAP_DOVECOT_PROCESSES ??
    'login') as DovecotProcessMode
  const profileDir = process.env.POSTERN_BENCH_IMAP_CPU_PROF ?? null
  if (!['performance', 'login', 'stock'].includes(processMode)) {
    throw new Error(
      'POSTERN_BENCH_IMAP_DOVECOT_PROCESSES must be "login", "performance" or "stock"',
    )
  }
  if (variants.some((variant) => variant !== 'idle' && variant !== 'no-idle')) {
    throw new Error('POSTERN_BENCH_IMAP_VARIANTS lists "idle" and/or "no-idle"')
  }
  if (clientLevels.some((clients) => !(clients >= 1))) {
    throw new Error('POSTERN_BENCH_IMAP_CLIENTS is a list of numbers, such as "10,100"')
  }
  const maxClients = Math.max(...clientLevels)
  if (userCount < maxClients) {
    throw new Error(`POSTERN_BENCH_IMAP_USERS (${userCount}) must be at least ${maxClients}`)
  }
  if (messageCount < 5) throw new Error('POSTERN_BENCH_IMAP_MESSAGES must be at least 5')
  const missing = dovecotImapUnavailable()
  if (missing !== null) throw new Error(`Cannot run the imap benchmark: ${missing}`)

  const accounts: BenchAccount[] = Array.from({ length: userCount }, (_, user) => {
    const login = `user${user + 1}@${DOMAIN}`
    return {
      login,
      password: `imap-bench-${user + 1}-secret`,
      messages: Array.from({ length: messageCount }, (_, n) => pop3Message(user, n, login)),
    }
  })
  const users = accounts.map(({ login, password }) => ({ login, password }))
  const inboxOctets = accounts[0]?.messages.reduce((sum, bytes) => sum + bytes.length, 0) ?? 0
  const perUser = Math.ceil(idleSessions / userCount)
  const dovecotPerUser = Math.ceil(dovecotIdleSessions / userCount)
  process.stdout.write(
    `imap: ${clientLevels.join(' and ')} clients, ${userCount} accounts of ${messageCount} messages (${(inboxOctets / 1024).toFixed(0)} KB in the first), ${seconds} s per run, ${rounds} round(s), variants ${variants.join(', ')}; ${perUser * userCount} IDLE sessions (${dovecotPerUser * userCount} on Dovecot); dovecot processes: ${processMode}\n`,
  )

  const connections = Math.max(perUser * userCount, maxClients) + userCount * 2 + 200
  const setup = await preparePosternImap(accounts, connections)
  let postern: PosternImapServer | null = null
  let dovecot: DovecotImap | null = null
  // Ctrl-C still stops both servers and removes their directories.
  const interrupt = () => {
    void Promise.all([postern?.stop(), dovecot?.stop()]).finally(() => {
      rmSync(setup.dir, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.once('SIGINT', interrupt)
  const figures = new Map<string, Figures[]>()
  const key = (target: Target, variant: Variant, clients: number) =>
    `${target} ${variant} ${clients}`
  const idle: Partial<Record<Target, IdleFigures>> = {}
  const problems: string[] = []
  try {
    postern = await startPosternImap(setup)
    dovecot = await startDovecotImap({
      accounts,
      passwordHashes: setup.passwordHashes,
      connections: maxClients + userCount + 10,
      connectionsPerUser: 2,
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
    for (const warning of await compareAnswers(servers.postern.port, servers.dovecot.port, users)) {
      process.stdout.write(`  warning: ${warning}\n`)
    }
    const spec = (target: Target, variant: Variant, clients: number, seed: number): LoadSpec => ({
      port: servers[target].port,
      pid: servers[target].pid,
      threads: target === 'postern',
      users,
      clients,
      base: messageCount,
      idle: variant === 'idle',
      seconds,
      sessions: null,
      seed,
    })
    for (const target of ['postern', 'dovecot'] as const) {
      await runLoad({
        ...spec(target, 'idle', Math.min(maxClients, 20), 0),
        seconds: null,
        sessions: userCount,
      })
    }
    await sleep(SETTLE_MS)

    for (const variant of variants) {
      for (const clients of clientLevels) {
        for (let round = 1; round <= rounds; round += 1) {
          const order: Target[] = round % 2 === 1 ? ['postern', 'dovecot'] : ['dovecot', 'postern']
          const line: string[] = []
          for (const target of order) {
            const report = await runLoad(spec(target, variant, clients, round))
            const result = toFigures(report)
            const list = figures.get(key(target, variant, clients)) ?? []
            list.push(result)
            figures.set(key(target, variant, clients), list)
            line.push(`${target} ${describe(result)}`)
            await sleep(SETTLE_MS)
          }
          process.stdout.write(
            `  ${variant}, ${clients} clients, round ${round}: ${line.join('; ')}\n`,
          )
        }
      }
    }

    if (profileDir !== null) {
      await postern.stop()
      mkdirSync(profileDir, { recursive: true })
      postern = await startPosternImap(setup, { profileDir: path.resolve(profileDir) })
      servers.postern.pid = postern.pid
      const profiled = toFigures(
        await runLoad(spec('postern', variants[0] ?? 'idle', maxClients, 99)),
      )
      await postern.stop()
      const file = latestProfile(profileDir)
      process.stdout.write(
        `  profiled postern run (not counted, ${maxClients} clients): ${describe(profiled)}; ${file ?? 'no profile written'}\n`,
      )
      if (file !== null) {
        for (const line of topSelfTime(file, PROFILE_TOP)) process.stdout.write(`    ${line}\n`)
      }
      postern = await startPosternImap(setup)
      servers.postern.pid = postern.pid
    }

    problems.push(...labelled('postern', postern.problems()))
    problems.push(...labelled('dovecot', dovecot.problems()))
    if (idleSessions > 0) {
      // A fresh process: what the rounds left in its heap and allocator would otherwise be
      // given back while the sessions are set up, and hide what they take.
      await postern.stop()
      postern = await startPosternImap(setup, { inspect: true })
      servers.postern.pid = postern.pid
      const server = postern
      idle.postern = await measureIdle(
        setup.port,
        users,
        perUser,
        () => processMemory(server.pid),
        () => server.collectGarbage(),
      )
      process.stdout.write(`  postern IDLE: ${describeIdle(idle.postern)}\n`)
      problems.push(...labelled('postern', postern.problems()))
    }
    if (dovecotIdleSessions > 0) {
      await dovecot.stop()
      dovecot = null
      dovecot = await startDovecotImap({
        accounts,
        passwordHashes: setup.passwordHashes,
        connections: dovecotPerUser * userCount + userCount + 100,
        connectionsPerUser: dovecotPerUser + 2,
        processMode: 'idle',
      })
      const dovecotPid = dovecot.pid
      idle.dovecot = await measureIdle(
        dovecot.port,
        users,
        dovecotPerUser,
        () => treeMemory(dovecotPid),
        null,
      )
      process.stdout.write(`  dovecot IDLE: ${describeIdle(idle.dovecot)}\n`)
      problems.push(...labelled('dovecot (IDLE test)', dovecot.problems()))
    }
  } finally {
    process.off('SIGINT', interrupt)
    await postern?.stop()
    await dovecot?.stop()
    rmSync(setup.dir, { recursive: true, force: true })
  }

  const unique = [...new Set(problems)]
  if (unique.length > 0) {
    process.stdout.write(`  the servers logged ${unique.length} warning(s) or error(s), e.g.:\n`)
    for (const problem of unique.slice(0, 8)) process.stdout.write(`    ${problem}\n`)
  }
  const results: BenchResult[] = []
  for (const variant of variants) {
    for (const clients of clientLevels) {
      const medianOf = (target: Target, name: NumericFigure) =>
        median((figures.get(key(target, variant, clients)) ?? []).map((figure) => figure[name]))
      const medianThreads = (target: Target): ThreadCpuMs | null => {
        const split = (figures.get(key(target, variant, clients)) ?? []).flatMap(
          (figure) => figure.threadMsPerSession ?? [],
        )
        if (split.length === 0) return null
        const of = (kind: keyof ThreadCpuMs) => median(split.map((threads) => threads[kind]))
        return { main: of('main'), pool: of('pool'), v8: of('v8'), other: of('other') }
      }
      for (const target of ['postern', 'dovecot'] as const) {
        process.stdout.write(
          `  ${target} medians, ${variant}, ${clients} clients: ${medianOf(target, 'opsPerSecond').toFixed(0)} ops/s, ${medianOf(target, 'sessionsPerSecond').toFixed(1)} sessions/s, ${medianOf(target, 'megabytesPerSecond').toFixed(1)} MB/s, session ${medianOf(target, 'sessionMs').toFixed(0)} ms${variant === 'idle' ? `, IDLE notification ${medianOf(target, 'notifyMs').toFixed(0)} ms` : ''}, CPU ${medianOf(target, 'cpuMsPerSession').toFixed(1)} ms/session${describeThreads(medianThreads(target))}, client CPU ${medianOf(target, 'clientCpuMsPerSession').toFixed(1)} ms/session\n`,
        )
      }
      process.stdout.write('  median time of each step (ms), postern / dovecot:')
      for (const step of STEPS) {
        const of = (target: Target) => {
          const times = (figures.get(key(target, variant, clients)) ?? []).flatMap(
            (figure) => figure.stepMs[step] ?? [],
          )
          return times.length === 0 ? null : median(times)
        }
        const p = of('postern')
        const d = of('dovecot')
        if (p !== null && d !== null) process.stdout.write(` ${step} ${fixed(p)}/${fixed(d)};`)
      }
      process.stdout.write('\n')
      const posternValue = medianOf('postern', 'opsPerSecond')
      const dovecotValue = medianOf('dovecot', 'opsPerSecond')
      results.push({
        name: `imap-ops-${variant === 'idle' ? '' : 'no-idle-'}${clients}`,
        unit: 'ops/s',
        postern: { value: Math.round(posternValue) },
        peer: { name: 'dovecot', value: Math.round(dovecotValue) },
        ratio: posternValue / dovecotValue,
      })
    }
  }
  if (idle.postern !== undefined) {
    const posternKb = idle.postern.rssKbPer
    const peer =
      idle.dovecot === undefined
        ? { name: 'target', value: TARGET_KB_PER_IDLE }
        : { name: 'dovecot', value: Number(idle.dovecot.rssKbPer.toFixed(1)) }
    results.push({
      name: 'imap-idle-memory',
      unit: 'KB/connection',
      postern: { value: Number(posternKb.toFixed(1)) },
      peer,
      ratio: peer.value / Math.max(posternKb, 0.1),
    })
  }
  process.stdout.write(`  took ${((performance.now() - started) / 1000).toFixed(0)} s\n`)
  return results
}

/**
 * Every message of the first and the last account, fetched in UID order, must be exactly the one
 * stored, with RFC822.SIZE its length.
 */
async function checkBytes(
  target: Target,
  port: number,
  accounts: readonly BenchAccount[],
): Promise<void> {
  for (const account of [accounts[0], accounts.at(-1)]) {
    if (account === undefined) continue
    const client = await ImapClient.connect(port)
    try {
      await client.ok(`LOGIN ${quoted(account.login)} ${quoted(account.password)}`)
      await client.ok('EXAMINE INBOX')
      const fetched = await client.ok('UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK[])')
      let count = 0
      for (const response of fetched.untagged) {
        const uid = Number(/[( ]UID (\d+)/.exec(response.text)?.[1] ?? Number.NaN)
        if (Number.isNaN(uid)) continue
        count += 1
        const expected = account.messages[uid - 1]
        const size = Number(/RFC822\.SIZE (\d+)/.exec(response.text)?.[1])
        const body = response.literals[0]
        if (expected === undefined || body === undefined || !body.equals(expected)) {
          throw new Error(
            `${target} did not send ${account.login}'s message ${uid} as stored (${body?.length} octets, ${expected?.length} stored)`,
          )
        }
        if (size !== expected.length) {
          throw new Error(`${target} gave RFC822.SIZE ${size} for ${expected.length} octets`)
        }
      }
      if (count !== account.messages.length) {
        throw new Error(
          `${target} has ${count} messages for ${account.login}, not ${account.messages.length}`,
        )
      }
      await client.logout()
    } finally {
      client.close()
    }
  }
}

/** The first account's header FETCH and SEARCH answers on both servers; their differences. */
async function compareAnswers(
  posternPort: number,
  dovecotPort: number,
  users: ReadonlyArray<{ login: string; password: string }>,
): Promise<string[]> {
  const user = users[0]
  if (user === undefined) return []
  const commands = [
    `UID FETCH 1:* ${HEADER_FETCH}`,
    'UID SEARCH UNSEEN',
    ...SEARCH_WORDS.map((word) => `UID SEARCH SUBJECT ${quoted(word)}`),
  ]
  const answers = async (port: number) => {
    const client = await ImapClient.connect(port)
    try {
      await client.ok(`LOGIN ${quoted(user.login)} ${quoted(user.password)}`)
      await client.ok('EXAMINE INBOX')
      const texts: string[][] = []
      for (const command of commands) {
        const result = await client.ok(command)
        texts.push(
          result.untagged
            .filter((r) => /^\* (SEARCH|\d+ FETCH)/.test(r.text))
            // Flags aside (\Recent differs), and the section's field names in either case.
            .map((r) =>
              [r.text.replace(/FLAGS \([^)]*\) ?/, '').toUpperCase(), ...r.literals].join('\n'),
            ),
        )
      }
      await client.logout()
      return texts
    } finally {
      client.close()
    }
  }
  const postern = await answers(posternPort)
  const dovecot = await answers(dovecotPort)
  const warnings: string[] = []
  commands.forEach((command, i) => {
    const a = postern[i] ?? []
    const b = dovecot[i] ?? []
    const differs = a.findIndex((text, j) => text !== b[j])
    if (differs >= 0 || a.length !== b.length) {
      warnings.push(
        `"${command}" differs (${a.length} vs ${b.length} responses): postern ${JSON.stringify(a[Math.max(differs, 0)]?.slice(0, 300))}, dovecot ${JSON.stringify(b[Math.max(differs, 0)]?.slice(0, 300))}`,
      )
    }
  })
  return warnings
}

/** Holds the IDLE sessions against one server, reads its memory, times deliveries. */
async function measureIdle(
  port: number,
  users: ReadonlyArray<{ login: string; password: string }>,
  perUser: number,
  memory: () => MemoryKb,
  collectGarbage: (() => Promise<void>) | null,
): Promise<IdleFigures> {
  // A warm-up: one IDLE session per account, closed again (argon2id's memory, the mailboxes'
  // rows in the caches).
  const warm = await holdIdleSessions({
    port,
    users: [...users],
    perUser: 1,
    concurrency: IDLE_CONCURRENCY,
    deliveries: 0,
  })
  await warm.close()
  await sleep(IDLE_SETTLE_MS)
  await collectGarbage?.()
  await sleep(GC_SETTLE_MS)
  const before = memory()
  const held = await holdIdleSessions({
    port,
    users: [...users],
    perUser,
    concurrency: IDLE_CONCURRENCY,
    deliveries: IDLE_DELIVERIES,
  })
  try {
    await sleep(IDLE_SETTLE_MS)
    const early = memory()
    if (collectGarbage !== null) {
      await collectGarbage()
      await sleep(GC_SETTLE_MS)
    }
    const samples: MemoryKb[] = []
    for (let i = 0; i < MEMORY_SAMPLES; i += 1) {
      if (i > 0) await sleep(1000)
      samples.push(memory())
    }
    samples.sort((a, b) => a.rssKb - b.rssKb)
    const after = samples[Math.floor(samples.length / 2)] ?? memory()
    const timings = await held.deliver()
    return {
      held: held.held,
      perUser,
      setupMs: held.setupMs,
      before,
      after,
      rssKbPer: (after.rssKb - before.rssKb) / held.held,
      earlyRssKbPer: (early.rssKb - before.rssKb) / held.held,
      pssKbPer: (after.pssKb - before.pssKb) / held.held,
      firstMs: median(timings.map((timing) => timing.firstMs)),
      lastMs: median(timings.map((timing) => timing.lastMs)),
    }
  } finally {
    await held.close()
  }
}

type NumericFigure = Exclude<keyof Figures, 'threadMsPerSession' | 'stepMs'>

function toFigures(report: LoadReport): Figures {
  const elapsed = report.elapsedMs / 1000
  const sessions = Math.max(1, report.sessions)
  const threads = report.serverThreads
  return {
    opsPerSecond: report.commands / elapsed,
    sessionsPerSecond: report.sessions / elapsed,
    megabytesPerSecond: report.octets / 1024 / 1024 / elapsed,
    sessionMs: report.sessionMs,
    notifyMs: report.notifyMs ?? 0,
    cpuMsPerSession: report.serverCpuMs / sessions,
    clientCpuMsPerSession: report.cpuMs / sessions,
    threadMsPerSession:
      threads === null
        ? null
        : {
            main: threads.main / sessions,
            pool: threads.pool / sessions,
            v8: threads.v8 / sessions,
            other: threads.other / sessions,
          },
    stepMs: report.stepMs,
  }
}

function describe(figures: Figures): string {
  const notify = figures.notifyMs > 0 ? `, IDLE ${figures.notifyMs.toFixed(0)} ms` : ''
  return `${figures.opsPerSecond.toFixed(0)} ops/s, ${figures.sessionsPerSecond.toFixed(1)} sessions/s, session ${figures.sessionMs.toFixed(0)} ms${notify}, CPU ${figures.cpuMsPerSession.toFixed(1)} ms/session${describeThreads(figures.threadMsPerSession)}`
}

function describeThreads(threads: ThreadCpuMs | null): string {
  if (threads === null) return ''
  return ` (main thread ${threads.main.toFixed(1)}, thread pool ${threads.pool.toFixed(1)}, V8 helpers ${threads.v8.toFixed(1)})`
}

function describeIdle(figures: IdleFigures): string {
  const mb = (kb: number) => (kb / 1024).toFixed(1)
  return `${figures.held} sessions (set up in ${(figures.setupMs / 1000).toFixed(0)} s); RSS ${mb(figures.before.rssKb)} → ${mb(figures.after.rssKb)} MB, ${figures.rssKbPer.toFixed(1)} KB per session (${figures.earlyRssKbPer.toFixed(1)} KB ${IDLE_SETTLE_MS / 1000} s after the last was up, before any forced garbage collection); Pss ${mb(figures.before.pssKb)} → ${mb(figures.after.pssKb)} MB, ${figures.pssKbPer.toFixed(1)} KB per session; ${figures.after.processes} process(es); a delivery reached the first of an account's ${figures.perUser} sessions in ${figures.firstMs.toFixed(0)} ms, the last in ${figures.lastMs.toFixed(0)} ms (median of ${IDLE_DELIVERIES})`
}

/** Milliseconds with a sensible number of digits. */
function fixed(ms: number): string {
  return ms < 10 ? ms.toFixed(1) : ms.toFixed(0)
}

function labelled(name: string, lines: readonly string[]): string[] {
  return lines.map((line) => `${name}: ${line}`)
}

function isRoot(): boolean {
  return process.getuid?.() === 0
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
