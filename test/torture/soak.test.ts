// The soak (issue 11, long form only: `npm run torture 30m`): the crash test's mixed load
// (submissions with local and remote recipients, MX inbound, IMAP APPEND/STORE/EXPUNGE, POP3
// DELE, big messages) against one `postern serve` for the whole duration, without kills. After
// a warm-up (until memory settles, see WARM_UP_MIN_SECONDS) the server's resident memory must
// grow by less than 10 % from the first quarter of the run to the last, and with the load
// stopped it holds no more file descriptors than it did at rest after the warm-up. Every
// operation must succeed (no anomalies in the ledger).
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { median } from '../../bench/result.ts'
import { loadConfig } from '../../src/config/index.ts'
import { startDnsServer } from '../support/dns-server.ts'
import { startFakeSmtp } from '../support/fake-smtp.ts'
import { getFreePorts } from '../support/free-port.ts'
import { startPostern } from '../support/postern-process.ts'
import { TORTURE_FORM, TORTURE_SEED, tortureSeconds } from './support/settings.ts'
import { Ledger, MessageFactory, makeRandom } from './support/traffic.ts'
import {
  addTortureAccounts,
  bigSender,
  imapWorker,
  type Load,
  mxSender,
  pop3Worker,
  REMOTE_ZONE,
  submitter,
  tortureToml,
} from './support/traffic-clients.ts'

const SECONDS = tortureSeconds(0)
const SAMPLE_MS = 2000
/**
 * Warm-up: the load runs until the server's memory has settled before anything is measured. What
 * fills up under load and then stops (V8's heap reservations, SQLite's page cache of at most 64
 * MiB, which fills as the trigram index churns) is not a leak; a leak goes on. The warm-up lasts
 * at least WARM_UP_MIN_SECONDS and ends once the median RSS of the last minute is within
 * SETTLED_GROWTH of the minute before, or at WARM_UP_MAX_SECONDS whatever the memory does. A leak
 * that keeps growing past that is what the measurement after it catches.
 */
const WARM_UP_MIN_SECONDS = Math.min(120, Math.max(10, Math.round(SECONDS / 10)))
const WARM_UP_MAX_SECONDS = Math.max(WARM_UP_MIN_SECONDS, Math.round(SECONDS / 2))
const SETTLED_GROWTH = 0.01
const MINUTE_SAMPLES = 60_000 / SAMPLE_MS

function residentKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0)
}

/**
 * Descriptors, not counting the blob store's shard folders: it keeps one open per folder it
 * has written to (src/store/sqlite/file-blob-store.ts, to fsync after a rename), at most 256,
 * so their number grows with the shards used and then stops.
 */
function openFiles(pid: number): { files: number; shards: number } {
  let files = 0
  let shards = 0
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = ''
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch {
      continue
    }
    if (/\/blobs\/[0-9a-f]{2}$/.test(target)) shards += 1
    else files += 1
  }
  return { files, shards }
}

/** What the descriptors are, by kind (socket, pipe, a file's folder), for a failure message. */
function describeFiles(pid: number): string {
  const kinds = new Map<string, number>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = ''
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch {
      continue
    }
    const kind = target.startsWith('/') ? path.dirname(target) : target.replace(/:\[\d+\]$/, '')
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
  }
  return [...kinds].map(([kind, count]) => `${count} ${kind}`).join(', ')
}

test('soak: mixed load for the whole duration, memory and file descriptors flat', {
  skip: TORTURE_FORM === 'short' ? 'the soak runs in the long form: npm run torture 30m' : false,
  timeout: (SECONDS + WARM_UP_MAX_SECONDS + 300) * 1000,
}, async (t) => {
  t.diagnostic(
    `seed ${TORTURE_SEED}, ${SECONDS} s after a warm-up of ${WARM_UP_MIN_SECONDS} to ${WARM_UP_MAX_SECONDS} s`,
  )
  const random = makeRandom(TORTURE_SEED)
  const ledger = new Ledger(TORTURE_SEED)
  const [relayPort = 0] = await getFreePorts(1)
  await startFakeSmtp(t, { host: '127.0.0.1', port: relayPort })
  const dns = await startDnsServer(t, REMOTE_ZONE)
  const extraToml = tortureToml(dns.port, relayPort)
  const server = await startPostern(t, { extraToml })
  const config = loadConfig({ path: server.configPath })
  await addTortureAccounts(config)
  const pid = server.child.pid ?? 0

  /**
   * Runs the load for `seconds`, sampling every SAMPLE_MS, or until `onSample` returns true;
   * resolves when every client has stopped.
   */
  const runLoad = async (seconds: number, onSample: () => boolean) => {
    let isStopped = false
    const live = { generation: 1, ports: server.ports }
    const load: Load = {
      t,
      ledger,
      random,
      factory: new MessageFactory(random),
      server: async () => (isStopped ? null : live),
      isUp: () => true,
      isStopped: () => isStopped,
      big: { inFlight: 0 },
      sizes: { big: [512 * 1024, 2 * 1024 * 1024] },
      twins: [],
    }
    const clients = [
      submitter(load),
      mxSender(load),
      mxSender(load),
      imapWorker(load),
      imapWorker(load),
      pop3Worker(load),
      bigSender(load),
    ]
    const end = Date.now() + seconds * 1000
    while (Date.now() < end) {
      await sleep(SAMPLE_MS)
      if (onSample()) break
    }
    isStopped = true
    await Promise.all(clients)
  }
  /**
   * The server once the load has stopped: sessions closed, the queue drained. With `atMost`, it
   * is given up to 30 s to get down to that many descriptors (a connection still closing, the
   * relay's cached connection to the remote MX); a leaked one stays.
   */
  const atRest = async (atMost = Number.POSITIVE_INFINITY) => {
    await sleep(3000)
    for (let waited = 0; waited < 30 && openFiles(pid).files > atMost; waited += 1)
      await sleep(1000)
    return { rssKb: residentKb(pid), ...openFiles(pid), kinds: describeFiles(pid) }
  }

  const warmUp: number[] = []
  const warmUpStarted = Date.now()
  await runLoad(WARM_UP_MAX_SECONDS, () => {
    warmUp.push(residentKb(pid))
    if (Date.now() - warmUpStarted < WARM_UP_MIN_SECONDS * 1000) return false
    if (warmUp.length < 2 * MINUTE_SAMPLES) return false
    const lastMinute = median(warmUp.slice(-MINUTE_SAMPLES))
    const minuteBefore = median(warmUp.slice(-2 * MINUTE_SAMPLES, -MINUTE_SAMPLES))
    return lastMinute < minuteBefore * (1 + SETTLED_GROWTH)
  })
  const warmUpSeconds = Math.round((Date.now() - warmUpStarted) / 1000)
  t.diagnostic(
    `warm-up: ${warmUpSeconds} s, RSS ${((warmUp[0] ?? 0) / 1024).toFixed(0)} → ${((warmUp.at(-1) ?? 0) / 1024).toFixed(0)} MiB${warmUpSeconds >= WARM_UP_MAX_SECONDS ? ' (not settled: the longest warm-up)' : ''}`,
  )
  const before = await atRest()
  const samples: number[] = []
  await runLoad(SECONDS, () => {
    samples.push(residentKb(pid))
    return false
  })
  const after = await atRest(before.files)

  const quarter = Math.max(1, Math.floor(samples.length / 4))
  const first = median(samples.slice(0, quarter))
  const last = median(samples.slice(-quarter))
  const peak = Math.max(...samples)
  t.diagnostic(
    `RSS: first quarter ${(first / 1024).toFixed(0)} MiB, last quarter ${(last / 1024).toFixed(0)} MiB (${(((last - first) / first) * 100).toFixed(1)} %), peak ${(peak / 1024).toFixed(0)} MiB; at rest ${(before.rssKb / 1024).toFixed(0)} → ${(after.rssKb / 1024).toFixed(0)} MiB; file descriptors at rest ${before.files} → ${after.files}`,
  )
  t.diagnostic(`counts ${JSON.stringify(Object.fromEntries(ledger.counts))}`)
  assert.deepEqual(ledger.anomalies, [], 'every operation succeeded')
  // What the clients saw contradicts what the server acknowledged (see support/traffic.ts).
  assert.deepEqual([...ledger.violations], [], 'no broken promise')
  assert.ok(after.shards <= 256, `${after.shards} blob shard folders open`)
  assert.ok(
    after.files <= before.files,
    `file descriptors grew ${before.files} (${before.kinds}) → ${after.files} (${after.kinds})`,
  )
  assert.ok(last < first * 1.1, `resident memory grew ${first} → ${last} kB`)
  const stopped = await server.stop('SIGTERM')
  assert.equal(stopped.code, 0, server.stderr())
})
