// What the crash torture test sends and what it remembers about it: a seeded random source, the
// messages (each with a unique X-Torture-Id header), the trace fields a server may put in front
// of them, and the ledger of every message, every copy of it in a mailbox or at the remote MX,
// what the server acknowledged, what a client saw and what an acknowledged command removed.
// test/torture/crash.test.ts checks the store and the remote MX against the ledger at the end.

import { createHash } from 'node:crypto'

/** A random number in [0, 1). */
export type Random = () => number

/** mulberry32: small, fast and good enough to choose traffic; one seed replays the choices. */
export function makeRandom(seed: number): Random {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}

/** An integer in [min, max]. */
export function between(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

export function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)]
  if (item === undefined) throw new Error('pick from an empty list')
  return item
}

/** Up to `count` distinct items, in random order. */
export function sample<T>(random: Random, items: readonly T[], count: number): T[] {
  const copy = [...items]
  const chosen: T[] = []
  while (chosen.length < count && copy.length > 0) {
    const [item] = copy.splice(Math.floor(random() * copy.length), 1)
    if (item !== undefined) chosen.push(item)
  }
  return chosen
}

export function digest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * Fields a server puts in front of a message on its way (RFC 5321 §4.4 trace fields, and the
 * authentication ones RFC 8601 and RFC 8617 place above them). Our messages start with
 * X-Torture-Id, so everything above it is what the servers added.
 */
const TRACE_FIELDS = new Set([
  'return-path',
  'delivered-to',
  'received',
  'authentication-results',
  'dkim-signature',
  'arc-seal',
  'arc-message-signature',
  'arc-authentication-results',
])

/** The message without the trace fields in front of it. */
export function withoutTrace(bytes: Buffer): Buffer {
  let offset = 0
  for (;;) {
    const colon = bytes.indexOf(0x3a, offset)
    const lineEnd = bytes.indexOf('\r\n', offset)
    if (colon < 0 || lineEnd < 0 || colon > lineEnd) return bytes.subarray(offset)
    const name = bytes.subarray(offset, colon).toString('latin1').toLowerCase()
    if (!TRACE_FIELDS.has(name)) return bytes.subarray(offset)
    // The field goes on while the next line starts with white space (RFC 5322 §2.2.3).
    let end = lineEnd + 2
    while (end < bytes.length && (bytes[end] === 0x20 || bytes[end] === 0x09)) {
      const next = bytes.indexOf('\r\n', end)
      if (next < 0) return bytes.subarray(offset)
      end = next + 2
    }
    offset = end
  }
}

const ID_FIELD = 'X-Torture-Id: '

/** The id of a message as sent (trace fields removed first), or null when it has none. */
export function tortureIdOf(bytes: Buffer): string | null {
  const message = withoutTrace(bytes)
  if (!message.subarray(0, ID_FIELD.length).equals(Buffer.from(ID_FIELD))) return null
  const end = message.indexOf('\r\n')
  return end < 0 ? null : message.subarray(ID_FIELD.length, end).toString('latin1')
}

/** Body lines reused by every message: random text, lines with leading dots, a lone dot. */
function lineBank(random: Random): string[] {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_=+/'
  const lines = ['.', '..', '. leading dot', 'From the start of a line', '', '-- ']
  while (lines.length < 256) {
    const length = between(random, 0, random() < 0.05 ? 900 : 120)
    let line = random() < 0.1 ? '.' : ''
    while (line.length < length) line += alphabet[Math.floor(random() * alphabet.length)]
    lines.push(line.trimEnd())
  }
  return lines
}

export interface MessageSpec {
  id: string
  from: string
  to: readonly string[]
  /** About how many octets (the message may be a line longer). */
  size: number
}

/** Builds messages: 7-bit, CRLF, with everything submission would otherwise add (Date, Message-ID). */
export class MessageFactory {
  readonly #random: Random
  readonly #bank: string[]

  constructor(random: Random) {
    this.#random = random
    this.#bank = lineBank(random)
  }

  build(spec: MessageSpec): Buffer {
    const date = new Date().toUTCString().replace(/GMT$/, '+0000')
    const head = [
      `${ID_FIELD}${spec.id}`,
      `From: <${spec.from}>`,
      `To: ${spec.to.map((address) => `<${address}>`).join(', ')}`,
      `Subject: torture ${spec.id}`,
      `Date: ${date}`,
      `Message-ID: <${spec.id}@torture.test>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      `message ${spec.id}`,
    ].join('\r\n')
    const parts = [`${head}\r\n`]
    let size = parts[0]?.length ?? 0
    let lines = 0
    while (size < spec.size) {
      // The id now and then in the body too, so that no two messages share long stretches.
      const line = lines % 64 === 63 ? `${spec.id} ${lines}` : pick(this.#random, this.#bank)
      parts.push(`${line}\r\n`)
      size += line.length + 2
      lines += 1
    }
    return Buffer.from(parts.join(''), 'latin1')
  }
}

export type Via = 'submission' | 'mx' | 'append'

/** One message the load sent (or tried to). */
export interface SentMessage {
  id: string
  via: Via
  /** Octets and digest of the message as sent, without trace fields. */
  size: number
  digest: string
  /** Sent while a big one was counted as in flight. */
  isBig: boolean
}

/** One copy of a message in one destination: a local mailbox or a remote recipient. */
export interface CopyState {
  id: string
  /** mailboxKey() or remoteKey(). */
  destination: string
  /** When the server acknowledged it: a 250 at the end of its data, or OK [APPENDUID …]. */
  acknowledgedAt: number | null
  /** The server refused this recipient (and took the message for others): no copy may exist. */
  isRefused: boolean
  /** A client saw it in the mailbox (so it was committed). */
  isSeen: boolean
  /** Its UID, once known (APPENDUID or FETCH). */
  uid: number | null
  /** When an acknowledged STORE (or APPEND) gave it \Flagged / \Deleted. */
  flaggedAt: number | null
  deletedAt: number | null
  /** An EXPUNGE naming it, or a QUIT after its DELE, was sent... */
  isRemovalSent: boolean
  /** ...and acknowledged, at this time. */
  removedAt: number | null
}

/** What the clients learnt about one mailbox. */
export interface MailboxView {
  uidValidity: number | null
  /** The highest UID any client has seen in it. */
  highest: number
  /** UID → id of each message seen, so that a UID given to two messages shows. */
  ids: Map<number, string>
}

/** A local mailbox destination: "address/mailbox". */
export function mailboxKey(address: string, mailbox: string): string {
  return `${address}/${mailbox}`
}

export function remoteKey(address: string): string {
  return `remote:${address.toLowerCase()}`
}

export class Ledger {
  readonly seed: number
  readonly messages = new Map<string, SentMessage>()
  /** Keyed "id destination". */
  readonly copies = new Map<string, CopyState>()
  /** Destination → the copies meant for it. */
  readonly byDestination = new Map<string, Set<CopyState>>()
  readonly mailboxes = new Map<string, MailboxView>()
  /** Broken promises seen while the load ran; the test asserts there are none. */
  readonly violations: string[] = []
  /** Refusals and failures while the server was up (not caused by a kill). */
  readonly anomalies: string[] = []
  readonly counts = new Map<string, number>()
  #next = 0

  constructor(seed: number) {
    this.seed = seed
  }

  nextId(): string {
    this.#next += 1
    return `${this.seed}-${this.#next}`
  }

  /** Registers a message and the copies it is meant to make, before any of it is sent. */
  record(id: string, via: Via, bytes: Buffer, destinations: Iterable<string>, isBig: boolean) {
    const message: SentMessage = { id, via, size: bytes.length, digest: digest(bytes), isBig }
    this.messages.set(id, message)
    return [...new Set(destinations)].map((destination) => this.copy(id, destination))
  }

  count(what: string, by = 1): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + by)
  }

  /** The copy of a message meant for one destination (made when first asked for). */
  copy(id: string, destination: string): CopyState {
    const key = `${id} ${destination}`
    let copy = this.copies.get(key)
    if (copy === undefined) {
      copy = {
        id,
        destination,
        acknowledgedAt: null,
        isRefused: false,
        isSeen: false,
        uid: null,
        flaggedAt: null,
        deletedAt: null,
        isRemovalSent: false,
        removedAt: null,
      }
      this.copies.set(key, copy)
      let copies = this.byDestination.get(destination)
      if (copies === undefined) {
        copies = new Set()
        this.byDestination.set(destination, copies)
      }
      copies.add(copy)
    }
    return copy
  }

  /** A copy a client may come across: known only when it was recorded. */
  knownCopy(id: string, destination: string): CopyState | undefined {
    return this.copies.get(`${id} ${destination}`)
  }

  violation(text: string): void {
    this.count('violations')
    if (this.violations.length < 200) this.violations.push(text)
  }

  anomaly(text: string): void {
    this.count('anomalies')
    if (this.anomalies.length < 200) this.anomalies.push(text)
  }

  mailbox(key: string): MailboxView {
    let view = this.mailboxes.get(key)
    if (view === undefined) {
      view = { uidValidity: null, highest: 0, ids: new Map() }
      this.mailboxes.set(key, view)
    }
    return view
  }

  /** A UIDVALIDITY a server reported for the mailbox: it must never change. */
  uidValidity(key: string, value: number, where: string): void {
    const view = this.mailbox(key)
    if (view.uidValidity === null) view.uidValidity = value
    else if (view.uidValidity !== value) {
      this.violation(`${key}: UIDVALIDITY ${value} in ${where}, was ${view.uidValidity}`)
    }
  }

  /** A message seen with a UID: the UID must be its own for good, and no other message's. */
  observe(copy: CopyState, uid: number, where: string): void {
    const view = this.mailbox(copy.destination)
    copy.isSeen = true
    if (copy.uid !== null && copy.uid !== uid) {
      this.violation(`${copy.destination}: ${copy.id} had UID ${copy.uid}, ${where} says ${uid}`)
    }
    copy.uid ??= uid
    const other = view.ids.get(uid)
    if (other !== undefined && other !== copy.id) {
      this.violation(
        `${copy.destination}: UID ${uid} was ${other}, ${where} gives it to ${copy.id}`,
      )
    }
    view.ids.set(uid, copy.id)
    view.highest = Math.max(view.highest, uid)
  }
}
