// `npm run bench -- store-pg`: the store benchmark's delivery and mailbox opening on PostgreSQL
// beside the embedded SQLite store, and PostgreSQL with one node against two nodes on one
// database. The PostgreSQL server is a private one the benchmark starts (Debian's binaries,
// PostgreSQL's default durability: fsync and synchronous commit on), on loopback.
// POSTERN_BENCH_MESSAGES sets the count per phase (default 20,000). Each node is its own
// process with its own pool, as separate machines would be; the total concurrency is the same
// (four deliveries in flight) with one node and with two. Then IMAP operations per second with
// one node and with two on one database, beside one node on SQLite (bench/store/imap-nodes.ts).
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Store } from '../../src/store/index.ts'
import { openPostgresStore } from '../../src/store/postgres/index.ts'
import { openSqliteStore } from '../../src/store/sqlite/index.ts'
import { createDatabase, startPostgresServer } from '../../test/support/postgres.ts'
import { type BenchResult, median } from '../result.ts'
import { measureImapNodes, SETUPS } from './imap-nodes.ts'
import { benchMessage } from './messages.ts'

const NODE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pg-node.ts')
const IN_FLIGHT = 4
const OPEN_ROUNDS = 5
const execFileAsync = promisify(execFile)

async function prepare(store: Store): Promise<number> {
  await store.addDomain('example.test')
  const account = await store.addAccount({
    address: 'bench@example.test',
    domain: 'example.test',
    credentials: { passwordHash: 'unused', scramSha256: 'unused' },
  })
  return (await store.getMailbox(account.id, 'INBOX'))?.id ?? 0
}

async function timeOpens(open: () => Promise<Store>, inbox: number, count: number) {
  const ms: number[] = []
  for (let round = 0; round < OPEN_ROUNDS; round += 1) {
    const store = await open()
    const start = performance.now()
    const snapshot = await store.openMailbox(inbox)
    ms.push(performance.now() - start)
    await store.close()
    if (snapshot.messages.length !== count) throw new Error(`holds ${snapshot.messages.length}`)
  }
  return ms
}

async function sqlitePhase(count: number) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'postern-bench-store-pg-'))
  try {
    const store = await openSqliteStore({ dataDir })
    const inbox = await prepare(store)
    let next = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < count) {
          const n = next
          next += 1
          await store.deliver({ bytes: benchMessage(n) }, [{ mailboxId: inbox }])
        }
      }),
    )
    const rate = count / ((performance.now() - started) / 1000)
    await store.close()
    return { rate, openMs: await timeOpens(() => openSqliteStore({ dataDir }), inbox, count) }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function postgresPhase(url: string, count: number, nodes: number) {
  const store = await openPostgresStore({ url })
  const inbox = await prepare(store)
  await store.close()
  const started = performance.now()
  await Promise.all(
    Array.from({ length: nodes }, (_, node) =>
      execFileAsync(process.execPath, [
        NODE,
        url,
        String(inbox),
        String(node),
        String(count),
        String(nodes),
        String(IN_FLIGHT / nodes),
      ]),
    ),
  )
  const rate = count / ((performance.now() - started) / 1000)
  return { rate, openMs: await timeOpens(() => openPostgresStore({ url }), inbox, count) }
}

export async function run(): Promise<BenchResult[]> {
  const count = Number(process.env.POSTERN_BENCH_MESSAGES ?? 20_000)
  process.stdout.write(`store-pg: ${count} messages into one mailbox, ${IN_FLIGHT} in flight\n`)
  const server = await startPostgresServer({ isDurable: true })
  const sqlite = await sqlitePhase(count)
  const describe = (name: string, figures: { rate: number; openMs: number[] }) =>
    process.stdout.write(
      `  ${name}: ${figures.rate.toFixed(0)} deliveries/s; open: first ${(figures.openMs[0] ?? 0).toFixed(1)} ms, median ${median(figures.openMs).toFixed(1)} ms\n`,
    )
  describe('sqlite, one process', sqlite)
  const one = await postgresPhase(await createDatabase(server, 'bench_one'), count, 1)
  describe('postgres, one node', one)
  const two = await postgresPhase(await createDatabase(server, 'bench_two'), count, 2)
  describe('postgres, two nodes', two)
  process.stdout.write(
    `store-pg nodes: two nodes ${two.rate.toFixed(0)} deliveries/s, one node ${one.rate.toFixed(0)} deliveries/s, ratio ${(two.rate / one.rate).toFixed(2)}\n`,
  )
  const results: BenchResult[] = [
    {
      name: 'store-pg',
      unit: 'deliveries/s',
      postern: { value: Math.round(two.rate) },
      peer: { name: 'postern-sqlite', value: Math.round(sqlite.rate) },
      ratio: two.rate / sqlite.rate,
    },
  ]
  for (const figures of await measureImapNodes(server)) {
    const ops = figures.opsPerSecond
    process.stdout.write(
      `  imap medians, ${figures.clients} clients: ${SETUPS.map((setup) => `${setup} ${ops[setup].toFixed(0)} ops/s (IDLE ${figures.notifyMs[setup].toFixed(0)} ms, CPU ${figures.posternCpuMs[setup].toFixed(1)} + PostgreSQL ${figures.databaseCpuMs[setup].toFixed(1)} ms/session)`).join('; ')}\n`,
    )
    process.stdout.write(
      `store-pg imap nodes, ${figures.clients} clients: two nodes ${ops['pg-two'].toFixed(0)} ops/s, one node ${ops['pg-one'].toFixed(0)} ops/s, ratio ${(ops['pg-two'] / ops['pg-one']).toFixed(2)}\n`,
    )
    results.push({
      name: `store-pg-imap-${figures.clients}`,
      unit: 'ops/s',
      postern: { value: Math.round(ops['pg-two']) },
      peer: { name: 'postern-sqlite', value: Math.round(ops.sqlite) },
      ratio: ops['pg-two'] / ops.sqlite,
    })
  }
  return results
}
