// `npm run bench -- store`: deliveries per second into one mailbox and the time to open it as
// SELECT does (counts, UIDNEXT, HIGHESTMODSEQ, the flags and MODSEQ of every message).
//
// Two phases:
// 1. Same work, same run: Postern's embedded store and Dovecot's Maildir delivery (Debian's
//    dovecot-lda, one process per message as an MTA runs it) each deliver the same
//    POSTERN_BENCH_MESSAGES messages (default 20,000) and open the mailbox; the ratio line
//    comes from this phase.
// 2. Scale: Postern goes on delivering into the same mailbox up to POSTERN_BENCH_SCALE_MESSAGES
//    (default 100,000), then the open is timed again: the target is under 100 ms.
//    dovecot-lda is not taken to 100,000 here: it slows as the Maildir grows (each delivery
//    rewrites its uidlist and index), measured at 23-28 deliveries/s by 8,000 messages, which
//    makes 100,000 take more than an hour.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Store } from '../../src/store/index.ts'
import { openSqliteStore } from '../../src/store/sqlite/index.ts'
import { type BenchResult, median } from '../result.ts'
import { startDovecotPeer } from './dovecot-peer.ts'
import { benchMessage } from './messages.ts'

/** Deliveries in flight at once on each side, like an MTA running two delivery agents. */
const CONCURRENCY = 2
const OPEN_ROUNDS = 7

interface Figures {
  deliveriesPerSecond: number
  /** Opens, each on a freshly opened store or process; the first is the coldest. */
  openMs: number[]
}

/** Delivers messages from..to-1 into the mailbox, CONCURRENCY at a time; returns deliveries/s. */
async function deliverRange(
  store: Store,
  inbox: number,
  from: number,
  to: number,
): Promise<number> {
  let next = from
  const started = performance.now()
  const worker = async () => {
    while (next < to) {
      const n = next
      next += 1
      // Every tenth message arrives already seen, as a client would leave some.
      await store.deliver({ bytes: benchMessage(n) }, [
        { mailboxId: inbox, flags: n % 10 === 0 ? ['\\Seen'] : [] },
      ])
      if ((n + 1) % 10_000 === 0) process.stdout.write(`  postern: ${n + 1} delivered\n`)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return (to - from) / ((performance.now() - started) / 1000)
}

/** Times opening the mailbox, each time on a freshly opened store, as after a restart. */
async function timeOpens(dataDir: string, inbox: number, expected: number): Promise<number[]> {
  const openMs: number[] = []
  for (let round = 0; round < OPEN_ROUNDS; round += 1) {
    const store = await openSqliteStore({ dataDir })
    const start = performance.now()
    const snapshot = await store.openMailbox(inbox)
    openMs.push(performance.now() - start)
    await store.close()
    if (snapshot.messages.length !== expected) {
      throw new Error(`postern holds ${snapshot.messages.length}, not ${expected}`)
    }
  }
  return openMs
}

async function posternRun(
  count: number,
  scaleCount: number,
): Promise<{ same: Figures; scale: Figures }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'postern-bench-store-'))
  try {
    let store = await openSqliteStore({ dataDir })
    await store.addDomain('example.test')
    const account = await store.addAccount({
      address: 'bench@example.test',
      domain: 'example.test',
      credentials: { passwordHash: 'unused', scramSha256: 'unused' },
    })
    const inbox = (await store.getMailbox(account.id, 'INBOX'))?.id ?? 0
    const sameRate = await deliverRange(store, inbox, 0, count)
    await store.close()
    const same = { deliveriesPerSecond: sameRate, openMs: await timeOpens(dataDir, inbox, count) }
    store = await openSqliteStore({ dataDir })
    const scaleRate = await deliverRange(store, inbox, count, scaleCount)
    await store.close()
    const overall = scaleCount / (count / sameRate + (scaleCount - count) / scaleRate)
    return {
      same,
      scale: {
        deliveriesPerSecond: overall,
        openMs: await timeOpens(dataDir, inbox, scaleCount),
      },
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function dovecotRun(count: number): Promise<Figures> {
  const peer = await startDovecotPeer()
  try {
    const messages = Array.from({ length: count }, (_, n) => benchMessage(n))
    const ms = await peer.deliver(messages, CONCURRENCY)
    const held = await peer.count()
    if (held !== count) throw new Error(`dovecot holds ${held}`)
    const openMs: number[] = []
    for (let round = 0; round < OPEN_ROUNDS; round += 1) openMs.push(await peer.open())
    return { deliveriesPerSecond: count / (ms / 1000), openMs }
  } finally {
    await peer.close()
  }
}

function describe(name: string, figures: Figures): string {
  const opens = figures.openMs.map((ms) => ms.toFixed(0)).join(' ')
  return `  ${name}: ${figures.deliveriesPerSecond.toFixed(0)} deliveries/s; open: first ${(figures.openMs[0] ?? 0).toFixed(1)} ms, median ${median(figures.openMs).toFixed(1)} ms (${opens})\n`
}

export async function run(): Promise<BenchResult> {
  const count = Number(process.env.POSTERN_BENCH_MESSAGES ?? 20_000)
  const scaleCount = Math.max(count, Number(process.env.POSTERN_BENCH_SCALE_MESSAGES ?? 100_000))
  process.stdout.write(`store: ${count} messages into one mailbox, ${CONCURRENCY} at a time\n`)
  const postern = await posternRun(count, scaleCount)
  process.stdout.write(describe(`postern at ${count}`, postern.same))
  process.stdout.write(describe(`postern at ${scaleCount}`, postern.scale))
  const dovecot = await dovecotRun(count)
  process.stdout.write(describe(`dovecot-lda at ${count}`, dovecot))
  // Dovecot's first open after delivery differs from the rest (it moves new/ to cur/ for
  // \Recent and starts tracking MODSEQ), so the first open and the median are both reported.
  const first = (figures: Figures) => figures.openMs[0] ?? 0
  process.stdout.write(
    `store-open at ${count} (first): postern ${first(postern.same).toFixed(1)} ms, dovecot ${first(dovecot).toFixed(1)} ms, ratio ${(first(dovecot) / first(postern.same)).toFixed(2)}\n` +
      `store-open at ${count} (median): postern ${median(postern.same.openMs).toFixed(1)} ms, dovecot ${median(dovecot.openMs).toFixed(1)} ms, ratio ${(median(dovecot.openMs) / median(postern.same.openMs)).toFixed(2)}\n` +
      `store-open at ${scaleCount}: postern first ${first(postern.scale).toFixed(1)} ms, median ${median(postern.scale.openMs).toFixed(1)} ms (target < 100 ms)\n`,
  )
  return {
    name: 'store',
    unit: 'deliveries/s',
    postern: { value: Math.round(postern.same.deliveriesPerSecond) },
    peer: { name: 'dovecot-lda', value: Math.round(dovecot.deliveriesPerSecond) },
    ratio: postern.same.deliveriesPerSecond / dovecot.deliveriesPerSecond,
  }
}
