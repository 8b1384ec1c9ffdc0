// The store-pg benchmark's IMAP part: operations per second of the imap benchmark's sessions
// (bench/imap/session.ts: LOGIN, SELECT, header FETCH, body FETCH, STORE, two SEARCHes, APPEND,
// IDLE until a delivery is reported, STORE \Deleted, EXPUNGE, LOGOUT) against three setups, all
// up at once, the same accounts and messages in each:
//   sqlite   one `postern serve` on the embedded store;
//   pg-one   one `postern serve` on a PostgreSQL database;
//   pg-two   two `postern serve` processes on that same database (pg-one's node and another).
// With two nodes, the clients and the accounts are split between them and each account's
// deliverer APPENDs through the other node, so every IDLE notification crosses nodes (NOTIFY,
// then the change read back from the database). Each node's load runs in a process of its own
// (bench/imap/load.ts); operations/s = commands answered by all of them / the longest run.
// Rounds take the setups in turn, in a rotating order; the median round counts. CPU per session
// is Postern's process tree (both nodes for pg-two) and PostgreSQL's (its postmaster's tree).
//
// Knobs: POSTERN_BENCH_PG_IMAP_CLIENTS ("10,100"), POSTERN_BENCH_PG_IMAP_ROUNDS (3),
// POSTERN_BENCH_PG_IMAP_SECONDS (10), POSTERN_BENCH_PG_IMAP_USERS (100),
// POSTERN_BENCH_PG_IMAP_MESSAGES (50); `--quick`: 4 clients, 8 accounts, one round of 3 s.
import { rmSync } from 'node:fs'
import { openPostgresStore } from '../../src/store/postgres/index.ts'
import { createDatabase, type PostgresServer } from '../../test/support/postgres.ts'
import { type LoadReport, runLoad } from '../imap/load.ts'
import {
  type BenchAccount,
  fillStore,
  type PosternImapServer,
  type PosternNode,
  preparePosternImap,
  preparePosternNode,
  startPosternImap,
} from '../imap/postern-imap.ts'
import type { ImapLogin } from '../imap/session.ts'
import { treeCpuMs } from '../pop3/cpu.ts'
import { pop3Message } from '../pop3/messages.ts'
import { median } from '../result.ts'

const DOMAIN = 'example.test'
const SETTLE_MS = 500
export const SETUPS = ['sqlite', 'pg-one', 'pg-two'] as const
export type Setup = (typeof SETUPS)[number]

export interface ImapNodesFigures {
  clients: number
  /** Median over the rounds, per setup. */
  opsPerSecond: Record<Setup, number>
  notifyMs: Record<Setup, number>
  /** Postern's CPU per session (all its nodes). */
  posternCpuMs: Record<Setup, number>
  /** PostgreSQL's CPU per session (0 for sqlite). */
  databaseCpuMs: Record<Setup, number>
}

interface Round {
  opsPerSecond: number
  notifyMs: number
  posternCpuMs: number
  databaseCpuMs: number
}

export async function measureImapNodes(server: PostgresServer): Promise<ImapNodesFigures[]> {
  const isQuick = process.argv.includes('--quick') || process.env.POSTERN_BENCH_QUICK === '1'
  const knob = (name: string, normal: string, quick: string) =>
    process.env[`POSTERN_BENCH_PG_IMAP_${name}`] ?? (isQuick ? quick : normal)
  const clientLevels = knob('CLIENTS', '10,100', '4').split(',').map(Number)
  const rounds = Number(knob('ROUNDS', '3', '1'))
  const seconds = Number(knob('SECONDS', '10', '3'))
  const userCount = Number(knob('USERS', '100', '8'))
  const messageCount = Number(knob('MESSAGES', '50', '50'))
  const maxClients = Math.max(...clientLevels)
  if (clientLevels.some((clients) => !(clients >= 2))) {
    throw new Error('POSTERN_BENCH_PG_IMAP_CLIENTS lists numbers of at least 2, such as "10,100"')
  }
  if (userCount < maxClients) {
    throw new Error(`POSTERN_BENCH_PG_IMAP_USERS (${userCount}) must be at least ${maxClients}`)
  }
  if (messageCount < 5) throw new Error('POSTERN_BENCH_PG_IMAP_MESSAGES must be at least 5')
  process.stdout.write(
    `store-pg imap: ${clientLevels.join(' and ')} clients, ${userCount} accounts of ${messageCount} messages, ${seconds} s per run, ${rounds} round(s)\n`,
  )
  const accounts: BenchAccount[] = Array.from({ length: userCount }, (_, user) => {
    const login = `user${user + 1}@${DOMAIN}`
    return {
      login,
      password: `pg-imap-bench-${user + 1}-secret`,
      messages: Array.from({ length: messageCount }, (_, n) => pop3Message(user, n, login)),
    }
  })
  const users: ImapLogin[] = accounts.map(({ login, password }) => ({ login, password }))
  // Clients, deliverers and the warm-up, with room to spare.
  const maxConnections = maxClients + userCount * 2 + 100

  const dirs: string[] = []
  const servers: PosternImapServer[] = []
  try {
    const sqlite = await preparePosternImap(accounts, maxConnections)
    dirs.push(sqlite.dir)
    const url = await createDatabase(server, 'bench_imap')
    const store = await openPostgresStore({ url })
    try {
      await fillStore(store, accounts)
    } finally {
      await store.close()
    }
    const nodeA = await preparePosternNode({ maxConnections, postgresUrl: url })
    const nodeB = await preparePosternNode({ maxConnections, postgresUrl: url })
    dirs.push(nodeA.dir, nodeB.dir)
    const started = new Map<PosternNode, PosternImapServer>()
    for (const node of [sqlite, nodeA, nodeB]) {
      const running = await startPosternImap(node)
      servers.push(running)
      started.set(node, running)
    }
    const nodesOf: Record<Setup, PosternNode[]> = {
      sqlite: [sqlite],
      'pg-one': [nodeA],
      'pg-two': [nodeA, nodeB],
    }
    const databasePid = server.pid()
    const run = async (setup: Setup, clients: number, seed: number, warmUp = false) => {
      const nodes = nodesOf[setup]
      const postgres = setup === 'sqlite' ? null : databasePid
      const cpuBefore = postgres === null ? 0 : treeCpuMs(postgres)
      const reports = await Promise.all(
        nodes.map((node, index) => {
          const share = users.filter((_, user) => user % nodes.length === index)
          const other = nodes[(index + 1) % nodes.length] ?? node
          return runLoad({
            port: node.port,
            deliverPort: other.port,
            pid: started.get(node)?.pid ?? 0,
            threads: false,
            users: share,
            clients: Math.floor(clients / nodes.length),
            base: messageCount,
            idle: true,
            seconds: warmUp ? null : seconds,
            sessions: warmUp ? share.length : null,
            seed,
          })
        }),
      )
      const databaseCpuMs = postgres === null ? 0 : treeCpuMs(postgres) - cpuBefore
      return combine(reports, databaseCpuMs)
    }
    // One session per account on every setup first: the page cache, PostgreSQL's buffers and
    // plans, and V8's compiled code are warm before anything counts.
    for (const setup of SETUPS) await run(setup, Math.min(maxClients, 20), 0, true)
    await sleep(SETTLE_MS)

    const results: ImapNodesFigures[] = []
    for (const clients of clientLevels) {
      const measured: Record<Setup, Round[]> = { sqlite: [], 'pg-one': [], 'pg-two': [] }
      for (let round = 1; round <= rounds; round += 1) {
        const order = SETUPS.map((_, i) => SETUPS[(i + round - 1) % SETUPS.length] ?? 'sqlite')
        const line: string[] = []
        for (const setup of order) {
          const figures = await run(setup, clients, round)
          measured[setup].push(figures)
          line.push(`${setup} ${describe(figures)}`)
          await sleep(SETTLE_MS)
        }
        process.stdout.write(`  ${clients} clients, round ${round}: ${line.join('; ')}\n`)
      }
      const of = (name: keyof Round) =>
        Object.fromEntries(
          SETUPS.map((setup) => [setup, median(measured[setup].map((r) => r[name]))]),
        ) as Record<Setup, number>
      results.push({
        clients,
        opsPerSecond: of('opsPerSecond'),
        notifyMs: of('notifyMs'),
        posternCpuMs: of('posternCpuMs'),
        databaseCpuMs: of('databaseCpuMs'),
      })
    }
    const problems = [...new Set(servers.flatMap((running) => running.problems()))]
    if (problems.length > 0) {
      process.stdout.write(`  the nodes logged ${problems.length} warning(s) or error(s), e.g.:\n`)
      for (const problem of problems.slice(0, 8)) process.stdout.write(`    ${problem}\n`)
    }
    return results
  } finally {
    await Promise.all(servers.map((running) => running.stop()))
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
}

/** The loads of one run (one per node, run at once) as one round's figures. */
function combine(reports: readonly LoadReport[], databaseCpuMs: number): Round {
  const commands = reports.reduce((sum, report) => sum + report.commands, 0)
  const sessions = Math.max(
    1,
    reports.reduce((sum, report) => sum + report.sessions, 0),
  )
  const elapsedMs = Math.max(...reports.map((report) => report.elapsedMs))
  const notify = reports.flatMap((report) => report.notifyMs ?? [])
  return {
    opsPerSecond: commands / (elapsedMs / 1000),
    notifyMs: notify.length === 0 ? 0 : median(notify),
    posternCpuMs: reports.reduce((sum, report) => sum + report.serverCpuMs, 0) / sessions,
    databaseCpuMs: databaseCpuMs / sessions,
  }
}

function describe(round: Round): string {
  const database = round.databaseCpuMs > 0 ? ` + PostgreSQL ${round.databaseCpuMs.toFixed(1)}` : ''
  return `${round.opsPerSecond.toFixed(0)} ops/s, IDLE ${round.notifyMs.toFixed(0)} ms, CPU ${round.posternCpuMs.toFixed(1)}${database} ms/session`
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
