// Postfix's half of the relay benchmark: a private Postfix (test/support/postfix.ts, relay mode)
// relaying everything to smtp-sink. Its queue is filled without delivering: while filling,
// main.cf ends with FILLING (every message for the smtp transport is deferred on arrival, and
// the deferred files are dated an hour ahead, so that the periodic queue scans leave them
// alone); then those lines are taken out (the backoff times go back to Postfix's defaults: the
// helper's one or two seconds are replaced while filling), Postfix is reloaded, and
// `postqueue -f` sends the whole deferred queue at once, time stamps ignored.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type Postfix, startPostfix } from '../../test/support/postfix.ts'
import { runSmtpSource } from '../smtp/load-tools.ts'
import type { CountingSink } from './counting-sink.ts'

const POSTFIX_BINARY = '/usr/sbin/postfix'
const FILLING = `# bench/relay: filling the queue (removed before the flush)
defer_transports = smtp
minimal_backoff_time = 3600s
maximal_backoff_time = 3600s
`
const INJECT_SESSIONS = 20
const FILL_TIMEOUT_MS = 5 * 60_000
const DRAIN_TIMEOUT_MS = 10 * 60_000
const RELOAD_TIMEOUT_MS = 30_000
const POLL_MS = 100
/** How often the queue is looked at while it drains (as on Postern's side). */
const DRAIN_POLL_MS = 20
/** How often the log is read for deferrals while the queue drains. */
const LOG_CHECK_MS = 500
/** After a reload: time for the old daemons to finish and the new qmgr to start. */
const RELOAD_SETTLE_MS = 1500

export interface RelayMessages {
  count: number
  /** smtp-source -l: payload octets after its few header lines. */
  bytes: number
  sender: string
  recipient: string
}

export interface PostfixRound {
  seconds: number
  /** From the flush to the sink's first message. */
  firstMs: number
  /** Size of one queued message as Postfix's qmgr logs it (size=). */
  messageSize: number
  /** Lines of its log with "warning:" while the queue drained. */
  warnings: number
}

export interface PostfixRelay {
  /** Fills the queue with `messages`, then times their delivery to the sink. */
  round(messages: RelayMessages): Promise<PostfixRound>
  logTail(lines?: number): string
  stop(): Promise<void>
}

export async function startPostfixRelay(sink: CountingSink): Promise<PostfixRelay> {
  const postfix: Postfix = await startPostfix({
    mode: 'relay',
    relayHost: `[127.0.0.1]:${sink.port}`,
    tlsLevel: 'none',
    hostname: 'postfix.bench.test',
    extraMainCf: FILLING,
  })
  const etc = path.join(postfix.dir, 'etc')
  const mainCf = path.join(etc, 'main.cf')
  const logPath = path.join(postfix.dir, 'maillog')
  const queueDir = path.join(postfix.dir, 'queue')
  const filling = readFileSync(mainCf, 'utf8')
  if (!filling.endsWith(FILLING)) throw new Error(`${mainCf} does not end with the filling lines`)
  const delivering = filling.slice(0, -FILLING.length)
  let isFilling = true
  const inQueue = (name: string) => countFiles(path.join(queueDir, name))
  const readLogFrom = (offset: number) => readFileSync(logPath, 'latin1').slice(offset)
  const logSize = () => statSync(logPath).size

  const reload = async (content: string) => {
    const reloads = countMatches(readLogFrom(0), /postfix\/master\[\d+\]: reload /g)
    writeFileSync(mainCf, content)
    // Postfix waits for a file modified within the last second to settle down; date it back.
    const past = new Date(Date.now() - 60_000)
    utimesSync(mainCf, past, past)
    await runCommand(POSTFIX_BINARY, ['-c', etc, 'reload'])
    const deadline = Date.now() + RELOAD_TIMEOUT_MS
    while (countMatches(readLogFrom(0), /postfix\/master\[\d+\]: reload /g) <= reloads) {
      if (Date.now() > deadline) throw new Error(`Postfix did not reload:\n${postfix.logTail()}`)
      await sleep(POLL_MS)
    }
    await sleep(RELOAD_SETTLE_MS)
  }

  return {
    async round(messages) {
      if (!isFilling) {
        await reload(filling)
        isFilling = true
      }
      if (!postfix.queueIsEmpty()) throw new Error(`Postfix's queue is not empty before filling`)
      const fillOffset = logSize()
      await runSmtpSource({
        port: postfix.port,
        messages: messages.count,
        bytes: messages.bytes,
        sessions: INJECT_SESSIONS,
        sender: messages.sender,
        recipient: messages.recipient,
      })
      const deadline = Date.now() + FILL_TIMEOUT_MS
      for (;;) {
        const deferred = inQueue('deferred')
        const elsewhere = ['maildrop', 'incoming', 'active', 'hold'].reduce(
          (sum, name) => sum + inQueue(name),
          0,
        )
        if (deferred === messages.count && elsewhere === 0) break
        if (Date.now() > deadline || deferred > messages.count) {
          throw new Error(
            `Postfix's queue: ${deferred} deferred and ${elsewhere} elsewhere, not ${messages.count} deferred:\n${postfix.logTail()}`,
          )
        }
        await sleep(POLL_MS)
      }
      const size = Number(/ size=(\d+), nrcpt=1 /.exec(readLogFrom(fillOffset))?.[1] ?? 0)
      await reload(delivering)
      isFilling = false
      if (inQueue('deferred') !== messages.count) {
        throw new Error(`Postfix moved its deferred queue on reload:\n${postfix.logTail()}`)
      }
      await settle()

      const logOffset = logSize()
      const received = sink.messages()
      const started = Date.now()
      await postfix.flush()
      const seconds =
        ((await waitForEmptyQueue(postfix, () => readLogFrom(logOffset))) - started) / 1000

      await sink.waitFor(received + messages.count, 5000)
      if (sink.messages() !== received + messages.count) {
        throw new Error(
          `smtp-sink took ${sink.messages() - received} messages from Postfix, not ${messages.count}`,
        )
      }
      // postlogd writes asynchronously: give the last lines a moment.
      let log = readLogFrom(logOffset)
      for (let wait = 0; countMatches(log, /status=sent/g) < messages.count && wait < 50; wait++) {
        await sleep(POLL_MS)
        log = readLogFrom(logOffset)
      }
      const sent = countMatches(log, /status=sent/g)
      if (sent !== messages.count) {
        throw new Error(`Postfix logged ${sent} "status=sent", not ${messages.count}`)
      }
      return {
        seconds,
        firstMs: (sink.reachedAt(received + 1) ?? started) - started,
        messageSize: size,
        warnings: countMatches(log, / warning: /g),
      }
    },
    logTail: (lines) => postfix.logTail(lines),
    stop: () => postfix.stop(),
  }
}

/**
 * Polls the queue directories until they are empty and returns Date.now() then. Fails early on
 * a deferral or a bounce: with Postfix's default backoff, a retry would come minutes later.
 */
async function waitForEmptyQueue(postfix: Postfix, readLog: () => string): Promise<number> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS
  let nextLogCheck = Date.now() + LOG_CHECK_MS
  for (;;) {
    const now = Date.now()
    if (postfix.queueIsEmpty()) return now
    if (now > deadline) throw new Error(`Postfix's queue is not empty after ${DRAIN_TIMEOUT_MS} ms`)
    if (now > nextLogCheck) {
      nextLogCheck = now + LOG_CHECK_MS
      const failed = /^.*postfix\/smtp\[\d+\]: .* status=(deferred|bounced).*$/m.exec(readLog())
      if (failed !== null) throw new Error(`Postfix ${failed[1]}: ${failed[0]}`)
    }
    await sleep(DRAIN_POLL_MS)
  }
}

/**
 * Between runs: write back what the last one left in the page cache, so that the next one does
 * not pay for it, and let the machine go quiet.
 */
export async function settle(): Promise<void> {
  await runCommand('sync', [])
  await sleep(500)
}

function runCommand(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    child.once('error', reject)
    child.once('close', (code) => {
      if (code === 0) resolve()
      else reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${output}`))
    })
  })
}

function countMatches(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0
}

/** Regular files under a directory (deferred/ and friends are hashed into subdirectories). */
function countFiles(directory: string): number {
  let count = 0
  try {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      count += entry.isDirectory() ? countFiles(path.join(directory, entry.name)) : 1
    }
  } catch {
    return count
  }
  return count
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
