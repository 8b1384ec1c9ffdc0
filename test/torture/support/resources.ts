// What the resource-attack torture tests (test/torture/resources-*.test.ts) share: a real
// `postern serve` with a probe account and an attacker account, the server's resident memory
// sampled from /proc while an attack runs, the well-behaved probe client that must keep getting
// answers in time throughout, and one report line per attack (issue 11 asks for the peak).

import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type PosternProcess, runPostern, startPostern } from '../../support/postern-process.ts'
import { readImapResponse, readSmtpReply, WireClient } from './resources-wire.ts'
import { TORTURE_FORM, TORTURE_SEED } from './settings.ts'

export const PROBE = { address: 'probe@example.test', password: 'probe-password-1' }
export const ATTACKER = { address: 'mallory@example.test', password: 'mallory-password-1' }

/** How long the probe may wait for any one answer (a greeting, a reply, a tagged response). */
export const PROBE_BOUND_MS = 2000
/** The pause between two probe rounds. */
const PROBE_INTERVAL_MS = 300

/**
 * How far above its resting size the server may grow during an attack. By design one session
 * holds at most 256 KiB of unread input (src/net READ_HIGH_WATER_OCTETS) and 64 KiB of output,
 * and one message (25 MiB by default) while it is accepted and parsed; so an attack on one or a
 * few connections costs a few tens of MiB, and thousands of idle sessions a few KiB each
 * (bench/RESULTS.md: 4.2 KB per idle SMTP session). 256 MiB leaves room for V8's heap slack and
 * lagging collections, and each attack that could be buffered sends more than this, so a server
 * that buffered it would cross the bound.
 */
export const RSS_HEADROOM_MIB = 256

export interface ResourceServer {
  postern: PosternProcess
  pid: number
  /** The server's resident memory when it was ready and warmed up by one probe round. */
  baselineKiB: number
}

/**
 * A `postern serve` with the domain example.test and the accounts probe and mallory, warmed up
 * by one probe round (which also leaves a message in the probe's INBOX for its FETCH).
 */
export async function startResourceServer(t: TestContext, extraToml = ''): Promise<ResourceServer> {
  t.diagnostic(`TORTURE_SEED=${TORTURE_SEED} TORTURE_FORM=${TORTURE_FORM}`)
  const postern = await startPostern(t, { extraToml })
  for (const args of [
    ['domain', 'add', 'example.test'],
    ['user', 'add', PROBE.address, '--password', PROBE.password],
    ['user', 'add', ATTACKER.address, '--password', ATTACKER.password],
  ]) {
    const result = await runPostern([...args, '--config', postern.configPath])
    assert.equal(result.code, 0, result.stderr)
  }
  const pid = postern.child.pid
  assert.ok(pid !== undefined, 'the server has a pid')
  const warmUp = startProbe(postern)
  await sleep(1000)
  assertProbeHealthy(await warmUp.stop(), 'warm-up')
  return { postern, pid, baselineKiB: readRssKiB(pid) }
}

/** VmRSS of a process, in KiB, from /proc/<pid>/status. */
export function readRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1')
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  if (match === null) throw new Error(`no VmRSS for process ${pid}`)
  return Number(match[1])
}

/** The soft limit on open files of a process, from /proc/<pid>/limits. */
export function openFilesLimit(pid: number | 'self'): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'latin1')
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits)
  if (match === null) throw new Error(`no open files limit for process ${pid}`)
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1])
}

/** Samples a process's resident memory until stopped; the peak is what issue 11 reports. */
export function sampleRss(pid: number, intervalMs = 50): { stop(): number } {
  let peakKiB = readRssKiB(pid)
  const timer = setInterval(() => {
    try {
      peakKiB = Math.max(peakKiB, readRssKiB(pid))
    } catch {
      // The process is gone; the test sees that on its own.
    }
  }, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      return peakKiB
    },
  }
}

export interface ProbeReport {
  /** Rounds run to their end. */
  rounds: number
  /** The slowest single answer, and which step it was. */
  worstMs: number
  worstStep: string
  failures: string[]
}

/**
 * The well-behaved client: every PROBE_INTERVAL_MS, an SMTP transaction to the probe account,
 * an IMAP LOGIN/SELECT/FETCH/LOGOUT and a POP3 USER/PASS/STAT/QUIT, each answer awaited at most
 * PROBE_BOUND_MS. Failures are collected, not thrown, so the attack runs to its end.
 */
export function startProbe(postern: PosternProcess): {
  /** Ends the probe after one more whole round, so it also shows the server after the attack. */
  stop(): Promise<ProbeReport>
} {
  const report: ProbeReport = { rounds: 0, worstMs: 0, worstStep: '', failures: [] }
  const started = Date.now()
  const step = async <T>(name: string, answer: () => Promise<T>): Promise<T> => {
    const before = Date.now()
    try {
      return await answer()
    } finally {
      const took = Date.now() - before
      if (took > report.worstMs) {
        report.worstMs = took
        report.worstStep = name
      }
    }
  }
  const round = async (n: number) => {
    for (const [protocol, run] of [
      ['smtp', probeSmtp],
      ['imap', probeImap],
      ['pop3', probePop3],
    ] as const) {
      let client: WireClient | null = null
      try {
        client = await step(`${protocol} connect`, () =>
          WireClient.connect(postern.ports[protocol], { timeoutMs: PROBE_BOUND_MS }),
        )
        await run(client, step, n)
      } catch (error) {
        const at = ((Date.now() - started) / 1000).toFixed(1)
        report.failures.push(`${protocol} round ${n} at ${at} s: ${(error as Error).message}`)
      } finally {
        client?.destroy()
      }
    }
  }
  let roundsToRun = Number.POSITIVE_INFINITY
  const loop = (async () => {
    while (report.rounds < roundsToRun) {
      await round(report.rounds + 1)
      report.rounds += 1
      if (report.rounds < roundsToRun) await sleep(PROBE_INTERVAL_MS)
    }
  })()
  return {
    async stop() {
      // The round under way may have begun before the attack ended: one more after it.
      roundsToRun = report.rounds + 2
      await loop
      return report
    },
  }
}

type Step = <T>(name: string, answer: () => Promise<T>) => Promise<T>

async function expectSmtp(client: WireClient, step: Step, command: string | null, code: number) {
  const name = `smtp ${command?.split(/[ :]/)[0] ?? 'greeting'}`
  const answer = await step(name, async () => {
    if (command !== null) await client.write(`${command}\r\n`)
    return readSmtpReply(client, PROBE_BOUND_MS)
  })
  if (!answer.startsWith(`${code} `) && !answer.startsWith(`${code}-`)) {
    throw new Error(`${name}: expected ${code}, got ${JSON.stringify(answer)}`)
  }
}

async function probeSmtp(client: WireClient, step: Step, n: number): Promise<void> {
  await expectSmtp(client, step, null, 220)
  await expectSmtp(client, step, 'EHLO probe.example.org', 250)
  await expectSmtp(client, step, 'MAIL FROM:<probe-sender@remote.test>', 250)
  await expectSmtp(client, step, `RCPT TO:<${PROBE.address}>`, 250)
  await expectSmtp(client, step, 'DATA', 354)
  await expectSmtp(
    client,
    step,
    `From: <probe-sender@remote.test>\r\nTo: <${PROBE.address}>\r\nSubject: probe ${n}\r\n\r\nStill there?\r\n.`,
    250,
  )
  await expectSmtp(client, step, 'QUIT', 221)
}

async function probeImap(client: WireClient, step: Step): Promise<void> {
  const greeting = await step('imap greeting', () => client.readLine(PROBE_BOUND_MS))
  if (!greeting.startsWith('* OK')) throw new Error(`imap greeting: ${greeting}`)
  for (const [tag, command] of [
    ['p1', `LOGIN ${PROBE.address} ${PROBE.password}`],
    ['p2', 'SELECT INBOX'],
    ['p3', 'FETCH 1 (UID FLAGS RFC822.SIZE)'],
    ['p4', 'LOGOUT'],
  ] as const) {
    const name = `imap ${command.split(' ')[0]}`
    const answer = await step(name, async () => {
      await client.write(`${tag} ${command}\r\n`)
      return readImapResponse(client, tag, PROBE_BOUND_MS)
    })
    if (!answer.tagged.startsWith(`${tag} OK`)) throw new Error(`${name}: ${answer.tagged}`)
  }
}

async function probePop3(client: WireClient, step: Step): Promise<void> {
  for (const command of [
    null,
    `USER ${PROBE.address}`,
    `PASS ${PROBE.password}`,
    'STAT',
    'QUIT',
  ] as const) {
    const name = `pop3 ${command?.split(' ')[0] ?? 'greeting'}`
    const answer = await step(name, async () => {
      if (command !== null) await client.write(`${command}\r\n`)
      return client.readLine(PROBE_BOUND_MS)
    })
    if (!answer.startsWith('+OK')) throw new Error(`${name}: ${answer}`)
  }
}

/** The probe got every answer within its bound, and ran often enough to mean something. */
export function assertProbeHealthy(report: ProbeReport, attack: string, minRounds = 1): void {
  assert.deepEqual(report.failures, [], `the probe failed during ${attack}`)
  assert.ok(
    report.rounds >= minRounds,
    `the probe ran ${report.rounds} rounds during ${attack}, expected at least ${minRounds}`,
  )
  assert.ok(report.worstMs <= PROBE_BOUND_MS, `${report.worstStep} took ${report.worstMs} ms`)
}

/**
 * Runs `attack` while the probe works and the server's memory is sampled; then reports the
 * attack's peak and asserts the probe's health and the memory bound.
 */
export async function underAttack<T>(
  t: TestContext,
  server: ResourceServer,
  name: string,
  attack: () => Promise<T>,
): Promise<T> {
  const rss = sampleRss(server.pid)
  const probe = startProbe(server.postern)
  const started = Date.now()
  const stop = async () => {
    const report = await probe.stop()
    const peakKiB = rss.stop()
    const seconds = (Date.now() - started) / 1000
    t.diagnostic(
      `${name}: peak RSS ${mib(peakKiB)} MiB (baseline ${mib(server.baselineKiB)} MiB, ` +
        `+${mib(peakKiB - server.baselineKiB)} MiB); ${seconds.toFixed(1)} s; probe ` +
        `${report.rounds} rounds, slowest answer ${report.worstMs} ms (${report.worstStep})`,
    )
    return { report, peakKiB, seconds }
  }
  let result: T
  try {
    result = await attack()
  } catch (error) {
    // The probe and the sampler stop and report all the same; the attack's failure is the one.
    await stop()
    throw error
  }
  const { report, peakKiB, seconds } = await stop()
  assertProbeHealthy(report, name, Math.min(3, Math.floor(seconds)))
  assert.ok(
    peakKiB - server.baselineKiB <= RSS_HEADROOM_MIB * 1024,
    `${name}: the server grew by ${mib(peakKiB - server.baselineKiB)} MiB, over the ${RSS_HEADROOM_MIB} MiB bound`,
  )
  return result
}

function mib(kib: number): string {
  return (kib / 1024).toFixed(1)
}

/** A small seeded generator (mulberry32), so that TORTURE_SEED replays a run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let value = state
    value = Math.imul(value ^ (value >>> 15), value | 1)
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61)
    return ((value ^ (value >>> 14)) >>> 0) / 2 ** 32
  }
}

/** Logs in over IMAP as `user` on a fresh connection; returns the client after the tagged OK. */
export async function imapLogin(
  port: number,
  user: { address: string; password: string },
): Promise<WireClient> {
  const client = await WireClient.connect(port)
  const greeting = await client.readLine(10_000)
  assert.match(greeting, /^\* OK/)
  await client.write(`l1 LOGIN ${user.address} ${user.password}\r\n`)
  const answer = await readImapResponse(client, 'l1', 10_000)
  assert.match(answer.tagged, /^l1 OK/)
  return client
}

/** Logs in over POP3 as `user`; returns the client after PASS's +OK. */
export async function pop3Login(
  port: number,
  user: { address: string; password: string },
): Promise<WireClient> {
  const client = await WireClient.connect(port)
  assert.match(await client.readLine(10_000), /^\+OK/)
  await client.write(`USER ${user.address}\r\n`)
  assert.match(await client.readLine(10_000), /^\+OK/)
  await client.write(`PASS ${user.password}\r\n`)
  assert.match(await client.readLine(10_000), /^\+OK/)
  return client
}
