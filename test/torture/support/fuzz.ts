// The kit the bad-input torture tests (test/torture/fuzz-*.test.ts) share: a seeded generator
// and byte mutators, a real `postern serve` to fuzz with its health checks (the process alive,
// no error logged, its resident memory sampled), raw clients that connect from any loopback
// address (so the login throttle, which counts per IP, never slows the fuzzing), and a journal
// of what went over the wire, printed with the seed when something fails.

import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import { loadConfig } from '../../../src/config/index.ts'
import { createDirectory } from '../../../src/directory/index.ts'
import { openStore } from '../../../src/server/index.ts'
import { silentLogger } from '../../../src/util/index.ts'
import { type PosternProcess, startPostern } from '../../support/postern-process.ts'
import { TextClient } from '../../support/text-client.ts'
import { TORTURE_FORM, TORTURE_SEED, tortureSeconds } from './settings.ts'

/** A small, fast, seeded generator (mulberry32): the same seed gives the same choices. */
export class Rng {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [0, max). */
  int(max: number): number {
    return Math.floor(this.next() * max)
  }

  /** An integer in [min, max], skewed towards small values when `small` is set. */
  range(min: number, max: number, small = false): number {
    const r = small ? this.next() ** 3 : this.next()
    return min + Math.floor(r * (max - min + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[this.int(items.length)] as T
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length)
    for (let i = 0; i < length; i += 1) out[i] = this.int(256)
    return out
  }

  /** `length` characters drawn from `alphabet`. */
  text(length: number, alphabet = PRINTABLE): string {
    let out = ''
    for (let i = 0; i < length; i += 1) out += alphabet[this.int(alphabet.length)]
    return out
  }

  /** A child generator, so one part's choices do not shift another's. */
  fork(): Rng {
    return new Rng(this.int(2 ** 31))
  }
}

export const PRINTABLE =
  ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~'
export const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

/** Octet sequences that parsers of these protocols care about, spliced in by `mutate`. */
const TOKENS = [
  '\r',
  '\n',
  '\r\n',
  '\0',
  ' ',
  '  ',
  '\t',
  '.',
  '\r\n.\r\n',
  '\n.\n',
  '\r.\r',
  '<',
  '>',
  '<>',
  '@',
  ':',
  '"',
  '\\',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '{0}',
  '{5}',
  '{3+}',
  '~{2}',
  '*',
  '%',
  '$',
  '=',
  '==',
  '+',
  ',',
  ';',
  '-',
  '0',
  '4294967295',
  '4294967296',
  '18446744073709551616',
  '-1',
  'NIL',
  'LAST',
  '&',
  '&-',
  '&AC8-',
  '=?utf-8?b?',
  '?=',
  '\x7f',
  '\x80',
  '\xff',
  '\u00e9',
  // Letters that String#toUpperCase folds into ASCII ones: "ſ" to "S", "ı" to "I".
  '\u017f',
  '\u0131',
  '\u212a',
  '\u200b',
  '\ufeff',
  '\ud83d\ude00',
]

/** One random change to `input`: an octet flipped, a range cut, doubled or moved, a token in. */
export function mutate(rng: Rng, input: Buffer): Buffer {
  const length = input.length
  const at = rng.int(length + 1)
  const span = () => rng.range(1, Math.max(1, Math.min(64, length - at)), true)
  switch (rng.int(9)) {
    case 0: {
      if (length === 0) return rng.bytes(1)
      const out = Buffer.from(input)
      const i = rng.int(length)
      out[i] = (out[i] as number) ^ (1 << rng.int(8))
      return out
    }
    case 1:
      return Buffer.concat([input.subarray(0, at), input.subarray(at + span())])
    case 2: {
      const piece = input.subarray(at, at + span())
      return Buffer.concat([input.subarray(0, at), piece, piece, input.subarray(at)])
    }
    case 3:
      return Buffer.concat([
        input.subarray(0, at),
        Buffer.from(rng.pick(TOKENS), 'utf8'),
        input.subarray(at),
      ])
    case 4:
      return Buffer.concat([input.subarray(0, at), rng.bytes(rng.range(1, 8)), input.subarray(at)])
    case 5:
      return input.subarray(0, at)
    case 6: {
      const text = input.toString('latin1')
      return Buffer.from(rng.chance(0.5) ? text.toLowerCase() : text.toUpperCase(), 'latin1')
    }
    case 7: {
      const piece = input.subarray(at, at + span())
      const repeat = Buffer.alloc(piece.length * rng.range(2, 200, true), piece)
      return Buffer.concat([input.subarray(0, at), repeat, input.subarray(at + piece.length)])
    }
    default: {
      const other = rng.int(length + 1)
      const [a, b] = at < other ? [at, other] : [other, at]
      return Buffer.concat([
        input.subarray(0, a),
        input.subarray(b, b + (b - a)),
        input.subarray(a, b),
        input.subarray(b + (b - a)),
      ])
    }
  }
}

/** `count` mutations in a row. */
export function mutateMany(rng: Rng, input: Buffer, count: number): Buffer {
  let out = input
  for (let i = 0; i < count; i += 1) out = mutate(rng, out)
  return out
}

/** A loopback address other than 127.0.0.1: each fuzz connection comes from its own. */
export function randomLoopback(rng: Rng): string {
  return `127.${rng.range(1, 254)}.${rng.range(0, 255)}.${rng.range(1, 254)}`
}

/** What went over the wire lately, kept short, for the failure message. */
export class Journal {
  readonly #entries: string[] = []
  readonly #limit: number

  constructor(limit = 60) {
    this.#limit = limit
  }

  sent(data: string | Buffer): void {
    this.#add('C:', data)
  }

  received(data: string | Buffer): void {
    this.#add('S:', data)
  }

  note(text: string): void {
    this.#add('--', text)
  }

  clear(): void {
    this.#entries.length = 0
  }

  toString(): string {
    return this.#entries.join('\n')
  }

  #add(prefix: string, data: string | Buffer): void {
    const text = typeof data === 'string' ? data : data.toString('latin1')
    const shown = text.length > 600 ? `${text.slice(0, 600)}… (${text.length} chars)` : text
    this.#entries.push(`${prefix} ${JSON.stringify(shown)}`)
    if (this.#entries.length > this.#limit) this.#entries.shift()
  }
}

/** The error a fuzz test fails with: what broke, the seed to replay it, and the last exchange. */
export class FuzzFailure extends Error {
  override name = 'FuzzFailure'

  constructor(what: string, journal: Journal | null, seed = TORTURE_SEED) {
    super(
      `${what}\nseed: POSTERN_TORTURE_SEED=${seed} (form ${TORTURE_FORM})\n` +
        (journal === null ? '' : `last exchange (C: sent, S: received):\n${journal}`),
    )
  }
}

/** The resident memory of a process, sampled until stopped. */
export class MemoryWatch {
  readonly #pid: number
  readonly #timer: NodeJS.Timeout
  firstKb: number
  peakKb: number
  lastKb: number

  constructor(pid: number, intervalMs = 200) {
    this.#pid = pid
    this.firstKb = rssKb(pid)
    this.peakKb = this.firstKb
    this.lastKb = this.firstKb
    this.#timer = setInterval(() => this.sample(), intervalMs)
    this.#timer.unref()
  }

  sample(): number {
    const kb = rssKb(this.#pid)
    if (kb > 0) {
      this.lastKb = kb
      if (kb > this.peakKb) this.peakKb = kb
    }
    return kb
  }

  stop(): void {
    clearInterval(this.#timer)
    this.sample()
  }

  describe(): string {
    const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`
    return `RSS first ${mb(this.firstKb)}, peak ${mb(this.peakKb)}, last ${mb(this.lastKb)}`
  }
}

function rssKb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? 0 : Number(match[1])
  } catch {
    return 0
  }
}

/**
 * How far the server's memory may grow above where it started while it is fuzzed. Inputs are a
 * few kilobytes and each session's buffers are bounded (lines 64 KiB, literals 64 KiB, messages
 * of this suite under 1 MiB); what grows by design is the store's page cache (64 MiB, SQLite
 * cache_size) and argon2id's 19 MiB for each password hash running in the thread pool (4 at
 * once), with the allocator's slack on top. Growth past this means something is kept that
 * should not be.
 */
export const MAX_RSS_GROWTH_KB = 384 * 1024

export const FUZZ_DOMAIN = 'example.test'
/** The account the fuzzers log in as and change at will. */
export const FUZZ_USER = { address: 'carol@example.test', password: 'carol-fuzz-pw-1' }
/** The account of the well-behaved sessions, never named by a fuzzer. */
export const GOOD_USER = { address: 'bob@example.test', password: 'bob-good-pw-1' }

export interface FuzzServer {
  readonly postern: PosternProcess
  readonly memory: MemoryWatch
  /** Files messages straight into an account's INBOX through the store, as a delivery would. */
  deliver(address: string, messages: readonly Buffer[]): Promise<void>
  /**
   * Empties each of the account's mailboxes that holds more than `most` messages, through the
   * store, as another session's expunge would: fuzzed COPY and APPEND grow a mailbox round after
   * round, and in the long form every 1:* then reads tens of thousands of messages.
   */
  trim(address: string, most: number): Promise<void>
  /** Fails (with the journal) when the process died or logged an error since the last call. */
  checkHealth(journal: Journal | null, context: string): void
  /** Stops sampling and checks that memory stayed within MAX_RSS_GROWTH_KB; the summary. */
  finish(): string
}

/**
 * A real `postern serve` (its own process, so a crash is an exit, not a test failure of ours)
 * with the domain example.test and the accounts carol (fuzzed) and bob (well-behaved).
 */
export async function startFuzzServer(t: TestContext, extraToml = ''): Promise<FuzzServer> {
  const postern = await startOnFreePorts(t, extraToml)
  // The administration commands work on the store while the server runs; this is what
  // `postern domain add` and `postern user add` do, without a process each.
  const store = await openStore(loadConfig({ path: postern.configPath }), silentLogger, {
    isShortLived: true,
  })
  t.after(() => store.close())
  const directory = createDirectory(store)
  await directory.addDomain(FUZZ_DOMAIN)
  await directory.addUser(FUZZ_USER.address, FUZZ_USER.password)
  await directory.addUser(GOOD_USER.address, GOOD_USER.password)
  const pid = postern.child.pid ?? 0
  const memory = new MemoryWatch(pid)
  t.after(() => memory.stop())
  let seen = 0
  return {
    postern,
    memory,
    async deliver(address, messages) {
      const account = await store.getAccount(address)
      const inbox = account === null ? null : await store.getMailbox(account.id, 'INBOX')
      if (inbox === null) throw new Error(`no INBOX for ${address}`)
      for (const bytes of messages) {
        const [result] = await store.deliver({ bytes }, [{ mailboxId: inbox.id }])
        if (result?.status !== 'stored') throw new Error(`delivery to ${address} failed`)
      }
    },
    async trim(address, most) {
      const account = await store.getAccount(address)
      if (account === null) throw new Error(`no account ${address}`)
      for (const mailbox of await store.listMailboxes(account.id)) {
        const status = await store.getMailboxStatus(mailbox.id)
        if (status.messages > most) await store.deleteMessages(mailbox.id, [[1, status.uidNext]])
      }
    },
    checkHealth(journal, context) {
      const { child } = postern
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new FuzzFailure(
          `${context}: postern serve exited (code ${child.exitCode}, signal ${child.signalCode})\n` +
            `stderr: ${postern.stderr().slice(-4000)}`,
          journal,
        )
      }
      const logs = postern.logs
      for (; seen < logs.length; seen += 1) {
        const line = logs[seen]
        if (line !== undefined && (line.level === 'error' || line.level === 'fatal')) {
          throw new FuzzFailure(
            `${context}: the server logged an error: ${JSON.stringify(line).slice(0, 3000)}`,
            journal,
          )
        }
      }
      // The log lines are checked once; holding them all would grow this process instead.
      logs.splice(0, seen)
      seen = 0
    },
    finish() {
      memory.stop()
      const growth = memory.peakKb - memory.firstKb
      if (growth > MAX_RSS_GROWTH_KB) {
        throw new FuzzFailure(
          `memory grew by ${(growth / 1024).toFixed(0)} MB while fuzzing (${memory.describe()})`,
          null,
        )
      }
      return memory.describe()
    },
  }
}

/**
 * `postern serve` on ports that were free a moment before; another process may take one in
 * between (the ports are picked before the server binds them), and then it starts again.
 */
async function startOnFreePorts(t: TestContext, extraToml: string): Promise<PosternProcess> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startPostern(t, { extraToml })
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error
    }
  }
}

/** The seconds each protocol is fuzzed for: 10 in the short form, the long form's argument. */
export function fuzzSeconds(): number {
  return tortureSeconds(10)
}

/**
 * A fuzz test's own time limit: its fuzzing time and two minutes for the server's start and
 * the last round (the runner's default of two minutes would cut the long form short).
 */
export function fuzzTimeoutMs(): number {
  return (fuzzSeconds() + 120) * 1000
}

/** Connects to 127.0.0.1:port from `localAddress`, in TLS from the first octet when asked. */
export async function connectFrom(
  port: number,
  options: { localAddress?: string; tls?: boolean; timeoutMs?: number } = {},
): Promise<Socket | TLSSocket> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const plain = connect({
    port,
    host: '127.0.0.1',
    localAddress: options.localAddress ?? '127.0.0.1',
  })
  await settle(plain, 'connect', timeoutMs, port)
  if (!options.tls) return plain
  const secure = tlsConnect({ socket: plain, rejectUnauthorized: false })
  await settle(secure, 'secureConnect', timeoutMs, port)
  return secure
}

function settle(socket: Socket, event: string, timeoutMs: number, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no ${event} to port ${port} within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.once(event, () => {
      clearTimeout(timer)
      resolve()
    })
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

/**
 * A raw client for fuzzing: octets in (latin1, one character each), a journal of both
 * directions, reads with a deadline that name what was left unanswered.
 */
export class FuzzClient extends TextClient {
  readonly journal: Journal

  constructor(socket: Socket | TLSSocket, journal: Journal) {
    super(socket, 'latin1')
    this.journal = journal
  }

  static async open(
    port: number,
    journal: Journal,
    options: { localAddress?: string; tls?: boolean } = {},
  ): Promise<FuzzClient> {
    journal.note(`connect to ${port} from ${options.localAddress ?? '127.0.0.1'}`)
    return new FuzzClient(await connectFrom(port, options), journal)
  }

  override write(data: string | Buffer): void {
    this.journal.sent(data)
    if (this.socket.destroyed || this.socket.writableEnded) return
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Everything received and not yet taken. */
  get unread(): string {
    return this.buffer
  }

  /**
   * Waits until `take` finds a whole response at the front of what arrived: it returns the
   * response's length in characters (and its value), or null to wait for more.
   * @throws FuzzFailure when the server does not answer within `timeoutMs`; Error('closed')
   *   when the connection closes first (the caller decides whether that is allowed)
   */
  async take<T>(
    take: (buffer: string) => { value: T; length: number } | null,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    try {
      return await this.readWith(() => {
        const found = take(this.buffer)
        if (found === null) return null
        this.journal.received(this.buffer.slice(0, found.length))
        this.buffer = this.buffer.slice(found.length)
        return found.value
      }, timeoutMs)
    } catch (error) {
      const message = (error as Error).message
      if (message.startsWith('connection closed')) throw new ClosedError(what, this.buffer)
      throw new FuzzFailure(
        `no answer to ${what} within ${timeoutMs} ms (${message})`,
        this.journal,
      )
    }
  }

  /** The next line, CRLF removed. */
  readLine(timeoutMs: number, what: string): Promise<string> {
    return this.take(
      (buffer) => {
        const end = buffer.indexOf('\r\n')
        return end < 0 ? null : { value: buffer.slice(0, end), length: end + 2 }
      },
      timeoutMs,
      what,
    )
  }

  /** Upgrades to TLS in place (after the protocol's go-ahead), certificate not checked. */
  async tls(): Promise<void> {
    this.journal.note('TLS handshake')
    await this.upgradeToTls()
  }

  close(): void {
    this.socket.destroy()
  }
}

/** The server closed the connection before answering. */
export class ClosedError extends Error {
  override name = 'ClosedError'

  constructor(what: string, unread: string) {
    super(`connection closed before the answer to ${what}; unread: ${JSON.stringify(unread)}`)
  }
}

/** How long any single answer may take: the login throttle's longest delay (8 s) and slack. */
export const ANSWER_TIMEOUT_MS = 12_000

/**
 * Runs `round` repeatedly until `seconds` have passed (at least once), with the round number.
 * Between rounds the event loop gets a turn, so timers (memory sampling) run.
 */
export async function forSeconds(
  seconds: number,
  round: (index: number) => Promise<void>,
  watch?: { journal: Journal; stallMs?: number },
): Promise<number> {
  const deadline = Date.now() + seconds * 1000
  let index = 0
  do {
    const work = round(index)
    await (watch === undefined ? work : finishedWithin(work, index, watch.journal, watch.stallMs))
    index += 1
    await new Promise(setImmediate)
  } while (Date.now() < deadline)
  return index
}

/**
 * A round, or a FuzzFailure with the journal once it has run `stallMs` (every read and write in
 * a round has its own shorter limit, so this catches a wait that has none: a hang, told where).
 */
async function finishedWithin(
  work: Promise<void>,
  index: number,
  journal: Journal,
  stallMs = ROUND_STALL_MS,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new FuzzFailure(`round ${index} has not finished in ${stallMs / 1000} s`, journal)),
      stallMs,
    )
  })
  try {
    await Promise.race([work, stalled])
  } finally {
    clearTimeout(timer)
  }
}

const ROUND_STALL_MS = 90_000

/** Octets in the control range, printable as a JSON escape in failures. */
export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}

/** One IMAP response line, with any literals in it whole. */
export function takeImapLine(buffer: string): { value: string; length: number } | null {
  let from = 0
  for (;;) {
    const end = buffer.indexOf('\r\n', from)
    if (end < 0) return null
    const literal = /\{(\d+)\}$/.exec(buffer.slice(from, end))
    if (literal === null) return { value: buffer.slice(0, end), length: end + 2 }
    const after = end + 2 + Number(literal[1])
    if (buffer.length < after) return null
    from = after
  }
}

/**
 * The next IMAP response line, checked: no NUL, CR or LF outside its literals (RFC 9051 §9: a
 * quoted string holds TEXT-CHARs, which may be other controls, a tab from an unfolded header
 * say).
 */
export async function readImapLine(client: FuzzClient, what: string): Promise<string> {
  const line = await client.take(takeImapLine, ANSWER_TIMEOUT_MS, what)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them is the point
  if (/[\u0000\r\n]/.test(withoutLiterals(line))) {
    throw new FuzzFailure(
      `NUL, CR or LF outside a literal in the response to ${what}`,
      client.journal,
    )
  }
  return line
}

/** The response line with each literal (announcement, CRLF and octets) replaced by "{}". */
function withoutLiterals(line: string): string {
  const announcement = /\{(\d+)\}\r\n/g
  let out = ''
  let pos = 0
  for (;;) {
    announcement.lastIndex = pos
    const match = announcement.exec(line)
    if (match === null) return out + line.slice(pos)
    out += `${line.slice(pos, match.index)}{}`
    pos = match.index + match[0].length + Number(match[1])
  }
}
