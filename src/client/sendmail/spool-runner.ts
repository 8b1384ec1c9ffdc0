// Working the sendmail spool: one attempt of one entry (claim, submit, then complete, retry later
// with backoff, or set aside), the --daemon loop that attempts entries as they fall due and as
// new ones arrive, and the --queue listing. A flusher killed after the server's 250 but before
// the entry is removed leaves it in sending/, and the next run sends it again: delivery from the
// spool is at least once (the Message-ID stays the same, so a duplicate can be recognised).
import { watch } from 'node:fs'
import path from 'node:path'
import type { SubmissionSettings } from '../config.ts'
import type { ClientIo } from '../io.ts'
import { Spool } from '../spool.ts'
import { EX_OK } from './exit-codes.ts'
import { type RecipientProblem, submitMessage } from './submit.ts'

/** The first retry waits this long; each later one twice as long, up to retryMaxMs. */
const FIRST_RETRY_MS = 60_000
/** The daemon looks at the spool at least this often, whatever it was told. */
const DAEMON_POLL_MS = 60_000

export interface AttemptResult {
  state: 'sent' | 'queued' | 'failed'
  summary: string
}

/** The delay before attempt `attempts + 1`: doubling from a minute, ±20 %, at most retryMaxMs. */
export function retryDelayMs(attempts: number, retryMaxMs: number, random = Math.random): number {
  const base = Math.min(retryMaxMs, FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1))
  return Math.round(base * (0.8 + 0.4 * random()))
}

/**
 * Claims the entry and submits it once. Null when another process has claimed it. Recipients
 * refused for good are set aside (a copy in failed/); the others are retried later, until the
 * entry is older than lifetimeMs, when they are set aside too.
 */
export async function attemptEntry(
  spool: Spool,
  settings: SubmissionSettings,
  id: string,
  narrate: (text: string) => void,
  now: () => number = Date.now,
): Promise<AttemptResult | null> {
  const claimed = await spool.claim(id)
  if (claimed === null) return null
  const entry = claimed
  const { message } = claimed
  const outcome = await submitMessage(
    settings,
    { sender: entry.sender, recipients: entry.recipients },
    message,
    narrate,
  )
  const parts: string[] = []
  if (outcome.accepted.length > 0) parts.push(`sent to ${outcome.accepted.join(', ')}`)
  let refused = outcome.permanent
  let waiting = outcome.temporary
  const age = now() - entry.queuedAt
  if (waiting.length > 0 && age > settings.lifetimeMs) {
    const days = (settings.lifetimeMs / 86_400_000).toFixed(1)
    refused = [
      ...refused,
      ...waiting.map((problem) => ({
        recipient: problem.recipient,
        reason: `gave up after ${days} days; last: ${problem.reason}`,
      })),
    ]
    waiting = []
  }
  if (refused.length > 0 && waiting.length === 0) {
    await spool.fail(claimed, {
      reason: reasonOf(refused),
      recipients: refused.map((p) => p.recipient),
    })
    parts.push(`refused: ${reasonOf(refused)}`)
    return { state: 'failed', summary: parts.join('; ') }
  }
  if (refused.length > 0) {
    await setAside(spool, entry.sender, refused, message)
    parts.push(`refused: ${reasonOf(refused)}`)
  }
  if (waiting.length > 0) {
    const delay = retryDelayMs(entry.attempts + 1, settings.retryMaxMs)
    await spool.retryLater(claimed, {
      error: reasonOf(waiting),
      nextAttemptAt: now() + delay,
      recipients: waiting.map((problem) => problem.recipient),
    })
    parts.push(`still queued (${reasonOf(waiting)}); next attempt in ${Math.round(delay / 1000)} s`)
    return { state: 'queued', summary: parts.join('; ') }
  }
  await spool.complete(claimed)
  return { state: refused.length > 0 ? 'failed' : 'sent', summary: parts.join('; ') }
}

/** A copy of the message for the refused recipients, straight into failed/; returns its id. */
export async function setAside(
  spool: Spool,
  sender: string,
  refused: readonly RecipientProblem[],
  message: Buffer,
): Promise<string> {
  const recipients = refused.map((problem) => problem.recipient)
  const entry = await spool.add({ sender, recipients }, message)
  const claimed = await spool.claim(entry.id)
  if (claimed === null) throw new Error(`spool entry ${entry.id} vanished before it was set aside`)
  await spool.fail(claimed, { reason: reasonOf(refused), recipients })
  return entry.id
}

function reasonOf(problems: readonly RecipientProblem[]): string {
  const reasons = [...new Set(problems.map((problem) => problem.reason))]
  const who =
    problems.length === 1 ? (problems[0]?.recipient ?? '') : `${problems.length} recipients`
  return `${who}: ${reasons.join(' | ')}`
}

/** --queue: what waits, and what was refused. */
export async function listSpool(spoolDir: string, io: ClientIo): Promise<number> {
  const spool = await Spool.open(spoolDir)
  const entries = await spool.list()
  const failed = await spool.listFailed()
  const time = (ms: number) => new Date(ms).toISOString()
  for (const entry of entries) {
    io.out(
      `${entry.id}  ${entry.state}  ${entry.size} octets  queued ${time(entry.queuedAt)}  attempts ${entry.attempts}${entry.state === 'queued' ? `  next ${time(entry.nextAttemptAt)}` : ''}`,
    )
    io.out(`    from <${entry.sender}> to ${entry.recipients.map((r) => `<${r}>`).join(' ')}`)
    if (entry.lastError !== null) io.out(`    last error: ${entry.lastError}`)
  }
  for (const entry of failed) {
    io.out(`${entry.id}  failed  ${entry.size} octets  queued ${time(entry.queuedAt)}`)
    io.out(`    from <${entry.sender}> to ${entry.recipients.map((r) => `<${r}>`).join(' ')}`)
    io.out(`    reason: ${entry.reason}`)
  }
  io.out(
    entries.length === 0 && failed.length === 0
      ? `the spool (${spoolDir}) is empty`
      : `${entries.length} queued, ${failed.length} failed (kept in ${path.join(spoolDir, 'failed')})`,
  )
  return EX_OK
}

/**
 * --daemon: attempts each entry when it falls due and each new entry at once, until SIGTERM or
 * SIGINT (an attempt under way finishes first). Log lines go to standard error.
 */
export async function runDaemon(settings: SubmissionSettings, io: ClientIo): Promise<number> {
  const spool = await Spool.open(settings.spoolDir)
  const log = (text: string) => io.error(`${new Date().toISOString()} postern sendmail: ${text}`)
  let isStopping = false
  // Set by an event while the loop is busy, so that the next wait does not sleep through it.
  let isPoked = false
  let wake: (() => void) | null = null
  const poke = () => {
    isPoked = true
    wake?.()
  }
  const stop = () => {
    isStopping = true
    poke()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // A new entry is renamed into queue/: that wakes the loop at once.
  const watcher = watch(path.join(settings.spoolDir, 'queue'), poke)
  log(`working the spool ${settings.spoolDir} through ${settings.host}:${settings.port}`)
  try {
    while (!isStopping) {
      isPoked = false
      await spool.recover()
      for (const entry of await spool.due(Date.now())) {
        if (isStopping) break
        const result = await attemptEntry(spool, settings, entry.id, () => {})
        if (result !== null) log(`${entry.id}: ${result.summary}`)
      }
      const queued = (await spool.list()).filter((entry) => entry.state === 'queued')
      const next = Math.min(Date.now() + DAEMON_POLL_MS, ...queued.map((e) => e.nextAttemptAt))
      if (isPoked || isStopping) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(100, next - Date.now()))
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      wake = null
    }
  } finally {
    watcher.close()
    process.off('SIGTERM', stop)
    process.off('SIGINT', stop)
  }
  log('stopped')
  return EX_OK
}
