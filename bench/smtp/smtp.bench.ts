// `npm run bench -- smtp`: inbound SMTP throughput, same machine, same run, and the memory of
// 1,000 idle SMTP sessions.
//
// Load: Postfix's smtp-source, 20 sessions in parallel, one message per connection, every
// message to one local account; first 4 KB messages, then 100 KB ones (smtp-source -l: payload
// octets after a few header lines). Against:
// - Postern: `postern serve` with the MX listener only (SQLite store). Postern answers 250 only
//   once the message is committed to disk, so its time ends when smtp-source exits; the count is
//   read from the store once the server is stopped.
// - Postfix in maildir mode (test/support/postfix.ts: a private instance, stock settings, its
//   virtual(8) agent into a Maildir). Postfix answers 250 once the message is in its queue and
//   delivers after, so its time ends when its queue is empty and every message is in the Maildir.
// - smtp-sink: answers 250 to everything and keeps nothing: the ceiling of this load generator
//   on this machine.
// The three take turns within each round, sizes in turn, and the median round per size counts.
//
// Then: a fresh `postern serve`, its RSS idle, then with 1,000 sessions open (each said EHLO and
// waits), from /proc/PID/status VmRSS.
//
// Knobs: POSTERN_BENCH_SMTP_4K and POSTERN_BENCH_SMTP_100K (messages per round, default 4000
// and 1000), POSTERN_BENCH_SMTP_ROUNDS (default 3), POSTERN_BENCH_SMTP_SESSIONS (default 1000);
// `--quick` (or POSTERN_BENCH_QUICK=1) for one small round. The defaults take about two minutes
// on two cores.
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { type Postfix, postfixUnavailable, startPostfix } from '../../test/support/postfix.ts'
import { type BenchResult, median } from '../result.ts'
import { holdSessions } from './idle-sessions.ts'
import { missingLoadTool, runSmtpSource, type Sink, startSmtpSink } from './load-tools.ts'
import {
  countStored,
  type PosternServer,
  type PosternSetup,
  preparePostern,
  startPosternServer,
} from './postern-server.ts'

const SESSIONS = 20
const SENDER = 'load@source.bench.test'
const DOMAIN = 'example.test'
const RECIPIENT = `bench@${DOMAIN}`
const WARM_UP_MESSAGES = 200
const QUEUE_TIMEOUT_MS = 10 * 60_000

type Target = 'postern' | 'postfix' | 'smtp-sink'

interface Size {
  name: string
  bytes: number
  messages: number
}

export async function run(): Promise<BenchResult[]> {
  const isQuick = process.argv.includes('--quick') || process.env.POSTERN_BENCH_QUICK === '1'
  const knob = (name: string, normal: number, quick: number) =>
    Number(process.env[name] ?? (isQuick ? quick : normal))
  const rounds = knob('POSTERN_BENCH_SMTP_ROUNDS', 3, 1)
  const idleSessions = knob('POSTERN_BENCH_SMTP_SESSIONS', 1000, 1000)
  const sizes: Size[] = [
    { name: 'smtp-4k', bytes: 4096, messages: knob('POSTERN_BENCH_SMTP_4K', 4000, 300) },
    { name: 'smtp-100k', bytes: 102_400, messages: knob('POSTERN_BENCH_SMTP_100K', 1000, 100) },
  ]
  const missing = missingLoadTool() ?? postfixUnavailable()
  if (missing !== null) throw new Error(`Cannot run the smtp benchmark: ${missing}`)
  // Ctrl-C still stops the private Postfix and removes the temporary directories (exit hooks).
  process.once('SIGINT', () => process.exit(130))

  process.stdout.write(
    `smtp: smtp-source -s ${SESSIONS}, one message per connection, to ${RECIPIENT}; ${sizes
      .map((size) => `${size.messages} × ${size.bytes} octets`)
      .join(', then ')}; ${rounds} round(s)\n`,
  )

  const setup = await preparePostern({ maxConnections: idleSessions + 100 })
  let postern: PosternServer | null = null
  let posternFailure: Error | null = null
  try {
    postern = await startPosternServer(setup)
  } catch (error) {
    posternFailure = error as Error
    process.stdout.write(
      `  postern: ${posternFailure.message.split('\n')[0]}; measuring the rest\n`,
    )
  }
  let postfix: Postfix | null = null
  let sink: Sink | null = null
  let posternSent = 0
  const rates: Record<string, Record<Target, number[]>> = {}
  try {
    postfix = await startPostfix({ mode: 'maildir', domain: DOMAIN, users: [RECIPIENT] })
    sink = await startSmtpSink()
    const ports: Record<Target, number | null> = {
      postern: postern === null ? null : setup.port,
      postfix: postfix.port,
      'smtp-sink': sink.port,
    }
    const targets = (Object.keys(ports) as Target[]).filter((target) => ports[target] !== null)

    const send = async (target: Target, size: Size, messages: number): Promise<number> => {
      const port = ports[target] ?? 0
      const source = { port, messages, bytes: size.bytes, sessions: SESSIONS }
      const before = target === 'postfix' ? (postfix?.countDelivered() ?? 0) : 0
      const started = performance.now()
      await runSmtpSource({ ...source, sender: SENDER, recipient: RECIPIENT })
      if (target === 'postern') posternSent += messages
      if (target === 'postfix' && postfix !== null) {
        await postfix.waitForEmptyQueue(QUEUE_TIMEOUT_MS)
        const delivered = postfix.countDelivered() - before
        if (delivered !== messages) {
          throw new Error(`postfix delivered ${delivered} of ${messages}:\n${postfix.logTail()}`)
        }
      }
      const elapsed = performance.now() - started
      await settle()
      return messages / (elapsed / 1000)
    }

    for (const target of targets) await send(target, sizes[0] as Size, WARM_UP_MESSAGES)
    for (let round = 1; round <= rounds; round += 1) {
      for (const size of sizes) {
        const line: string[] = []
        for (const target of targets) {
          const rate = await send(target, size, size.messages)
          rates[size.name] ??= { postern: [], postfix: [], 'smtp-sink': [] }
          rates[size.name]?.[target].push(rate)
          line.push(`${target} ${rate.toFixed(0)}`)
        }
        process.stdout.write(`  round ${round} ${size.name}: ${line.join(', ')} msg/s\n`)
      }
    }
  } finally {
    await postern?.stop()
    await postfix?.stop()
    await sink?.stop()
  }

  const medianOf = (size: Size, target: Target) => median(rates[size.name]?.[target] ?? [])
  for (const size of sizes) {
    process.stdout.write(
      `  ${size.name} medians: ${(['postern', 'postfix', 'smtp-sink'] as const)
        .filter((target) => (rates[size.name]?.[target].length ?? 0) > 0)
        .map((target) => `${target} ${medianOf(size, target).toFixed(0)}`)
        .join(', ')} msg/s\n`,
    )
  }
  if (posternFailure !== null) {
    rmSync(setup.dir, { recursive: true, force: true })
    throw posternFailure
  }

  try {
    const stored = await countStored(setup)
    process.stdout.write(
      `  postern: ${stored} messages in ${RECIPIENT}'s INBOX, sent ${posternSent}\n`,
    )
    if (stored !== posternSent) {
      throw new Error(`Postern acknowledged ${posternSent} messages but stored ${stored}`)
    }
    await measureIdleSessions(setup, idleSessions)
  } finally {
    rmSync(setup.dir, { recursive: true, force: true })
  }

  return sizes.map((size) => {
    const posternRate = medianOf(size, 'postern')
    const postfixRate = medianOf(size, 'postfix')
    return {
      name: size.name,
      unit: 'msg/s',
      postern: { value: Math.round(posternRate) },
      peer: { name: 'postfix', value: Math.round(postfixRate) },
      ratio: posternRate / postfixRate,
    }
  })
}

/** A fresh server: RSS idle, with `count` sessions open, and per session. */
async function measureIdleSessions(setup: PosternSetup, count: number): Promise<void> {
  const server = await startPosternServer(setup)
  try {
    await sleep(1000)
    const idleKb = server.rssKb()
    const sessions = await holdSessions(setup.port, count)
    await sleep(1000)
    const heldKb = server.rssKb()
    const open = sessions.open()
    await sessions.close()
    if (open !== count) {
      throw new Error(`only ${open} of ${count} sessions stayed open:\n${server.logTail()}`)
    }
    const perSession = (heldKb - idleKb) / 1024 / count
    process.stdout.write(
      `  postern with ${count} idle sessions (EHLO said): RSS ${mb(idleKb)} MB idle, ${mb(heldKb)} MB with them, ${(perSession * 1024).toFixed(1)} KB (${perSession.toFixed(3)} MB) per session\n`,
    )
  } finally {
    await server.stop()
  }
}

/**
 * Between runs: write back what the last one left in the page cache, so that the next one does
 * not pay for it, and let the machine go quiet.
 */
async function settle(): Promise<void> {
  spawnSync('sync')
  await sleep(500)
}

function mb(kb: number): string {
  return (kb / 1024).toFixed(1)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
