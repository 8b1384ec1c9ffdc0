// `npm run bench -- relay`: outbound relay throughput, same machine, same run: how fast a full
// queue drains to one destination on loopback.
//
// Work: N messages (default 2,000) of about 4.4 KB: smtp-source's (-l 4096: a few header lines,
// then 4,096 octets of 'X' lines) plus the receiving server's Received line, each from
// load@source.bench.test to bench@sink.bench.test (one recipient). Destination: smtp-sink on
// 127.0.0.1 (bench/relay/counting-sink.ts: answers 250 to everything, keeps nothing, counts),
// the same process for both sides, which must take exactly N messages per run. Both sides relay
// everything there as to a smart host, plain SMTP (the sink offers no STARTTLS), with their
// stock queue settings: Postern's max_connections 100 and max_per_domain 20, Postfix's
// default_destination_concurrency_limit 20 and its connection cache.
// - Postern: a fresh data dir per round, its queue filled through the store (acceptMessage, as
//   SMTP would have) while no server runs; then `postern serve` with
//   `[relay] smart_host = { address = "127.0.0.1:SINK", tls = "opportunistic" }`. The clock
//   runs from the time stamp of its "Postern is ready" line (the queue starts right after it;
//   Node's start, the store's opening and the TLS setup are not counted) until a second store
//   handle sees the queue empty, polling every 20 ms. Each round is a new process: V8 starts
//   cold, as after a restart with a backlog.
// - Postfix (test/support/postfix.ts, relay mode, relayhost [127.0.0.1]:SINK, TLS off): one
//   instance for all rounds. To fill its queue, main.cf gets `defer_transports = smtp` and an
//   hour of backoff (so that the deferred queue stays put); smtp-source injects the N messages
//   into its smtpd (20 sessions), and the fill is done once all N sit in the deferred queue.
//   Those lines are then removed (the backoff is Postfix's default again) and Postfix reloaded;
//   the clock runs from `postqueue -f` until its queue directories are empty, polled every
//   20 ms, and its log must show N "status=sent".
// Postern, then Postfix, in each round; the median round counts. A run fails at the first
// deferral or bounce on either side (a retry would come minutes later). Printed as well: when
// the sink saw the first message (from each side's start), and what either side logged as a
// warning or worse while its queue drained (the certificate Postern makes in each fresh data
// dir aside).
//
// Knobs: POSTERN_BENCH_RELAY_MESSAGES (messages per round, default 2000),
// POSTERN_BENCH_RELAY_ROUNDS (default 3); `--quick` (or POSTERN_BENCH_QUICK=1) for one round of
// 300. POSTERN_BENCH_RELAY_CPU_PROF=DIR: after the rounds, one more Postern run (not counted)
// under node --cpu-prof, its profile (the whole process, start-up included) left in DIR and its
// top self-time functions printed. The defaults take about a minute on two cores.
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { postfixUnavailable } from '../../test/support/postfix.ts'
import { type BenchResult, median } from '../result.ts'
import { missingLoadTool } from '../smtp/load-tools.ts'
import { type CountingSink, startCountingSink } from './counting-sink.ts'
import { type PosternRound, runPosternRound } from './postern-relay.ts'
import {
  type PostfixRelay,
  type RelayMessages,
  settle,
  startPostfixRelay,
} from './postfix-relay.ts'
import { latestProfile, topSelfTime } from './profile.ts'

const SENDER = 'load@source.bench.test'
const RECIPIENT = 'bench@sink.bench.test'
const PAYLOAD_BYTES = 4096
const PROFILE_TOP = 25

export async function run(): Promise<BenchResult> {
  const started = performance.now()
  const isQuick = process.argv.includes('--quick') || process.env.POSTERN_BENCH_QUICK === '1'
  const knob = (name: string, normal: number, quick: number) =>
    Number(process.env[name] ?? (isQuick ? quick : normal))
  const messages: RelayMessages = {
    count: knob('POSTERN_BENCH_RELAY_MESSAGES', 2000, 300),
    bytes: PAYLOAD_BYTES,
    sender: SENDER,
    recipient: RECIPIENT,
  }
  const rounds = knob('POSTERN_BENCH_RELAY_ROUNDS', 3, 1)
  const profileDir = process.env.POSTERN_BENCH_RELAY_CPU_PROF ?? null
  const missing = missingLoadTool() ?? postfixUnavailable()
  if (missing !== null) throw new Error(`Cannot run the relay benchmark: ${missing}`)
  // Ctrl-C still stops the private Postfix and removes the temporary directories (exit hooks).
  process.once('SIGINT', () => process.exit(130))

  let sink: CountingSink | null = null
  let postfix: PostfixRelay | null = null
  const rates = { postern: [] as number[], postfix: [] as number[] }
  const sizes = { postern: 0, postfix: 0 }
  try {
    sink = await startCountingSink()
    process.stdout.write(
      `relay: ${messages.count} messages per round (smtp-source -l ${PAYLOAD_BYTES}), ${SENDER} to ${RECIPIENT}, from a full queue to smtp-sink on 127.0.0.1:${sink.port}; ${rounds} round(s)\n`,
    )
    postfix = await startPostfixRelay(sink)
    for (let round = 1; round <= rounds; round += 1) {
      const postern = await runPosternRound(sink, messages, null)
      await settle()
      const peer = await postfix.round(messages)
      await settle()
      sizes.postern = postern.messageSize
      sizes.postfix = peer.messageSize
      const posternRate = messages.count / postern.seconds
      const postfixRate = messages.count / peer.seconds
      rates.postern.push(posternRate)
      rates.postfix.push(postfixRate)
      process.stdout.write(
        `  round ${round}: postern ${posternRate.toFixed(0)} msg/s (${postern.seconds.toFixed(2)} s, first at the sink after ${postern.firstMs} ms; fill ${postern.fillSeconds.toFixed(1)} s), postfix ${postfixRate.toFixed(0)} msg/s (${peer.seconds.toFixed(2)} s, first after ${peer.firstMs} ms)\n`,
      )
      for (const line of describeProblems(postern)) process.stdout.write(`    postern: ${line}\n`)
      if (peer.warnings > 0) process.stdout.write(`    postfix: ${peer.warnings} warning(s)\n`)
    }
    if (profileDir !== null) {
      mkdirSync(profileDir, { recursive: true })
      const profiled = await runPosternRound(sink, messages, path.resolve(profileDir))
      const file = latestProfile(profileDir)
      process.stdout.write(
        `  profiled postern run (not counted): ${(messages.count / profiled.seconds).toFixed(0)} msg/s; ${file ?? 'no profile written'}\n`,
      )
      if (file !== null) {
        for (const line of topSelfTime(file, PROFILE_TOP)) process.stdout.write(`    ${line}\n`)
      }
    }
  } finally {
    await postfix?.stop()
    await sink?.stop()
  }

  const posternRate = median(rates.postern)
  const postfixRate = median(rates.postfix)
  process.stdout.write(
    `  medians: postern ${posternRate.toFixed(0)}, postfix ${postfixRate.toFixed(0)} msg/s; message size: postern ${sizes.postern} octets, postfix ${sizes.postfix} (its qmgr's size=); took ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
  )
  return {
    name: 'relay',
    unit: 'msg/s',
    postern: { value: Math.round(posternRate) },
    peer: { name: 'postfix', value: Math.round(postfixRate) },
    ratio: posternRate / postfixRate,
  }
}

function describeProblems(round: PosternRound): string[] {
  return [...round.problems].map(([what, count]) => `${count} × ${what}`)
}
