// The clients of the crash torture test: submission (STARTTLS, AUTH, BDAT), MX (DATA), IMAP
// (APPEND, SELECT, FETCH, STORE, UID EXPUNGE) and POP3 (UIDL, RETR, DELE, QUIT) loops that run
// against whichever `postern serve` is up, reconnect after each kill, and write into the Ledger
// exactly what the server acknowledged, what they saw and what they removed. A failure caused by
// a kill is simply not an acknowledgement; one while the server was up is an anomaly.

import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config, ListenerName } from '../../../src/config/index.ts'
import { createDirectory } from '../../../src/directory/index.ts'
import { openStore } from '../../../src/server/index.ts'
import { SmtpClient } from '../../../src/smtp/client/index.ts'
import { silentLogger } from '../../../src/util/index.ts'
import type { DnsZone } from '../../support/dns-server.ts'
import { ImapTestClient } from '../../support/imap.ts'
import { Pop3TestClient } from '../../support/pop3.ts'
import { SmtpTestClient } from '../../support/smtp.ts'
import {
  between,
  type CopyState,
  digest,
  type Ledger,
  type MessageFactory,
  mailboxKey,
  pick,
  type Random,
  remoteKey,
  sample,
  tortureIdOf,
  withoutTrace,
} from './traffic.ts'

export const DOMAIN = 'example.test'
export const PASSWORD = 'torture-crash-pw'
export const ALICE = `alice@${DOMAIN}`
export const BOB = `bob@${DOMAIN}`
export const DAVE = `dave@${DOMAIN}`
export const CAROLS = [1, 2, 3, 4, 5, 6].map((n) => `carol${n}@${DOMAIN}`)
export const ACCOUNTS = [ALICE, BOB, DAVE, ...CAROLS]
/** An alias: a local account and a remote address. */
export const FORWARD = { source: `fwd@${DOMAIN}`, targets: [DAVE, 'fwd@remote.test'] }
export const REMOTE_DOMAINS = ['remote.test', 'other.test']
/** The remote MX answers 451 to every third RCPT for this one, so the queue retries. */
export const DEFERRED = 'later@remote.test'

/** The loopback DNS zone: every remote domain's MX is the fake remote MX on 127.0.0.1. */
export const REMOTE_ZONE: DnsZone = {
  ...Object.fromEntries(
    REMOTE_DOMAINS.map((domain) => [
      domain,
      { MX: [{ exchange: 'mx.remote.test', priority: 10 }] },
    ]),
  ),
  'mx.remote.test': { A: ['127.0.0.1'] },
}

/**
 * The server's TOML for the mixed load: the loopback DNS that serves REMOTE_ZONE, the remote MX
 * on `relayPort`, no message authentication (the zone publishes none), a queue polled every
 * 100 ms, and any more `[queue]` lines.
 */
export function tortureToml(dnsPort: number, relayPort: number, queue: string[] = []): string {
  return [
    '[dns]',
    `servers = ["127.0.0.1:${dnsPort}"]`,
    '[mailauth]',
    'verify = false',
    '[queue]',
    'poll_ms = 100',
    ...queue,
    '[relay]',
    `port = ${relayPort}`,
  ].join('\n')
}

/** The domain, the accounts and the forwarding alias, put in through the store. */
export async function addTortureAccounts(config: Config): Promise<void> {
  const store = await openStore(config, silentLogger, { isShortLived: true })
  try {
    const directory = createDirectory(store)
    await directory.addDomain(DOMAIN)
    for (const address of ACCOUNTS) await directory.addUser(address, PASSWORD)
    await directory.addAlias(FORWARD.source, FORWARD.targets)
  } finally {
    await store.close()
  }
}

const LOCAL_RECIPIENTS = [BOB, `bob+Archive@${DOMAIN}`, DAVE, ...CAROLS, FORWARD.source]
const REMOTE_RECIPIENTS = ['r1@remote.test', 'r2@remote.test', DEFERRED, 'x@other.test']
const IMAP_MAILBOXES = ['INBOX', 'Archive']
/** The POP3 worker's maildrops: the carols, and dave, who gets what the alias forwards. */
const POP3_ACCOUNTS = [DAVE, ...CAROLS]
/**
 * Readers delete what a mailbox holds beyond this, so the load reaches a steady state: the soak
 * measures memory on a working set that stops growing, not on mailboxes that fill without end.
 */
const MAILBOX_TARGET = 30
/** Every client waits this long for any one reply: far more than a healthy server needs. */
const REPLY_TIMEOUT = 60_000

/** Where copies of a message sent to this address end up. */
export function destinationsOf(address: string): string[] {
  if (address === `bob+Archive@${DOMAIN}`) return [mailboxKey(BOB, 'Archive')]
  if (address === FORWARD.source) return [mailboxKey(DAVE, 'INBOX'), remoteKey('fwd@remote.test')]
  if (address.endsWith(`@${DOMAIN}`)) return [mailboxKey(address, 'INBOX')]
  return [remoteKey(address)]
}

export interface LiveServer {
  /** Counts restarts: a client knows which server it talked to. */
  generation: number
  ports: Record<ListenerName, number>
}

export interface Load {
  t: TestContext
  ledger: Ledger
  random: Random
  factory: MessageFactory
  /** The running server, waiting while it restarts; null once the load is stopped. */
  server(): Promise<LiveServer | null>
  /** Whether that server is still the one running (so a failure was not a kill's doing). */
  isUp(generation: number): boolean
  isStopped(): boolean
  /** Big messages being transferred now. */
  big: { inFlight: number }
  sizes: { big: readonly [number, number] }
  /** Small APPENDed messages, kept to APPEND the same octets to the other mailbox. */
  twins: Array<{ id: string; bytes: Buffer; mailbox: string }>
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.slice(0, 300) : String(error)
}

/** Runs sessions one after another until the load stops; each session ends at a kill at worst. */
async function loop(
  load: Load,
  name: string,
  session: (server: LiveServer) => Promise<void>,
): Promise<void> {
  while (!load.isStopped()) {
    const server = await load.server()
    if (server === null) return
    try {
      await session(server)
    } catch (error) {
      if (load.isUp(server.generation)) load.ledger.anomaly(`${name}: ${errorText(error)}`)
      else load.ledger.count(`${name} sessions cut by a kill`)
    }
    await sleep(between(load.random, 5, 50))
  }
}

function smallSize(random: Random): number {
  return random() < 0.9 ? between(random, 300, 6000) : between(random, 20_000, 200_000)
}

function recipients(random: Random, pool: readonly string[], max: number): string[] {
  return sample(random, pool, between(random, 1, max))
}

/** Marks the copies of an acknowledged message; a refused recipient's copy must not exist. */
function acknowledge(copies: CopyState[], accepted: ReadonlySet<string>): void {
  const now = Date.now()
  for (const copy of copies) {
    if (accepted.has(copy.destination)) copy.acknowledgedAt = now
    else copy.isRefused = true
  }
}

// Submission -----------------------------------------------------------------------------------

async function connectSubmission(server: LiveServer): Promise<SmtpClient> {
  const client = await SmtpClient.connect({
    host: '127.0.0.1',
    port: server.ports.submission,
    tls: { rejectUnauthorized: false },
    timeouts: {
      connect: REPLY_TIMEOUT,
      greeting: REPLY_TIMEOUT,
      mail: REPLY_TIMEOUT,
      rcpt: REPLY_TIMEOUT,
      dataInit: REPLY_TIMEOUT,
      dataBlock: REPLY_TIMEOUT,
      dataEnd: REPLY_TIMEOUT,
      command: REPLY_TIMEOUT,
    },
  })
  try {
    await client.hello('load.test')
    await client.startTls()
    await client.hello('load.test')
    await client.authenticate(ALICE, PASSWORD)
    return client
  } catch (error) {
    client.close()
    throw error
  }
}

/** One message as alice, local and remote recipients mixed; BDAT when the server has CHUNKING. */
async function submitOne(
  load: Load,
  client: SmtpClient,
  to: readonly string[],
  size: number,
  isBig: boolean,
): Promise<void> {
  const { ledger } = load
  const id = ledger.nextId()
  const bytes = load.factory.build({ id, from: ALICE, to, size })
  const copies = ledger.record(id, 'submission', bytes, to.flatMap(destinationsOf), isBig)
  const result = await client.send(
    { sender: ALICE, recipients: to.map((address) => ({ address })) },
    {
      size: bytes.length,
      chunks: async function* () {
        for (let offset = 0; offset < bytes.length; offset += 64 * 1024) {
          yield bytes.subarray(offset, offset + 64 * 1024)
        }
      },
    },
  )
  if (result.data?.code !== 250) {
    load.ledger.anomaly(`submission of ${id}: ${JSON.stringify(result.data ?? result.mail)}`)
    return
  }
  const accepted = to.filter((_, i) => (result.recipients[i]?.code ?? 500) < 300)
  if (accepted.length < to.length) load.ledger.anomaly(`submission of ${id}: a recipient refused`)
  acknowledge(copies, new Set(accepted.flatMap(destinationsOf)))
  ledger.count('acknowledged submissions')
}

export function submitter(load: Load): Promise<void> {
  const { random } = load
  return loop(load, 'submission', async (server) => {
    const client = await connectSubmission(server)
    try {
      for (let n = between(random, 1, 8); n > 0 && !load.isStopped(); n -= 1) {
        const to = recipients(random, [...LOCAL_RECIPIENTS, ...REMOTE_RECIPIENTS], 4)
        await submitOne(load, client, to, smallSize(random), false)
      }
      await client.quit()
    } finally {
      client.close()
    }
  })
}

// MX -------------------------------------------------------------------------------------------

async function connectMx(load: Load, server: LiveServer): Promise<SmtpTestClient> {
  const client = await SmtpTestClient.connect(load.t, server.ports.smtp)
  try {
    const greeting = await client.read(REPLY_TIMEOUT)
    if (greeting.code !== 220) throw new Error(`MX greeting: ${greeting.raw}`)
    await client.ehlo('mx.outside.test')
    if (load.random() < 0.3) {
      await client.startTls()
      await client.ehlo('mx.outside.test')
    }
    return client
  } catch (error) {
    client.socket.destroy()
    throw error
  }
}

async function smtpCommand(client: SmtpTestClient, line: string) {
  client.write(`${line}\r\n`)
  return client.read(REPLY_TIMEOUT)
}

/** One message from outside to local recipients over DATA (dot-stuffed here). */
async function relayInOne(
  load: Load,
  client: SmtpTestClient,
  to: readonly string[],
  size: number,
  isBig: boolean,
): Promise<void> {
  const { ledger } = load
  const id = ledger.nextId()
  const sender = 'someone@outside.test'
  const bytes = load.factory.build({ id, from: sender, to, size })
  const copies = ledger.record(id, 'mx', bytes, to.flatMap(destinationsOf), isBig)
  const mail = await smtpCommand(client, `MAIL FROM:<${sender}> SIZE=${bytes.length}`)
  if (mail.code !== 250) throw new Error(`MAIL: ${mail.raw}`)
  const accepted: string[] = []
  for (const address of to) {
    const rcpt = await smtpCommand(client, `RCPT TO:<${address}>`)
    if (rcpt.code === 250) accepted.push(address)
    else load.ledger.anomaly(`MX RCPT ${address}: ${rcpt.raw.trim()}`)
  }
  if (accepted.length === 0) {
    await smtpCommand(client, 'RSET')
    for (const copy of copies) copy.isRefused = true
    return
  }
  const data = await smtpCommand(client, 'DATA')
  if (data.code !== 354) throw new Error(`DATA: ${data.raw}`)
  const stuffed = bytes.toString('latin1').replace(/^\./gm, '..')
  client.write(Buffer.from(`${stuffed}.\r\n`, 'latin1'))
  const reply = await client.read(REPLY_TIMEOUT)
  if (reply.code !== 250) {
    load.ledger.anomaly(`MX message ${id}: ${reply.raw.trim()}`)
    return
  }
  acknowledge(copies, new Set(accepted.flatMap(destinationsOf)))
  ledger.count('acknowledged MX messages')
}

export function mxSender(load: Load): Promise<void> {
  const { random } = load
  return loop(load, 'MX', async (server) => {
    const client = await connectMx(load, server)
    try {
      for (let n = between(random, 1, 8); n > 0 && !load.isStopped(); n -= 1) {
        await relayInOne(
          load,
          client,
          recipients(random, LOCAL_RECIPIENTS, 3),
          smallSize(random),
          false,
        )
      }
      await smtpCommand(client, 'QUIT').catch(() => null)
    } finally {
      client.socket.destroy()
    }
  })
}

// IMAP -----------------------------------------------------------------------------------------

class Imap {
  readonly client: ImapTestClient
  #tags = 0

  constructor(client: ImapTestClient) {
    this.client = client
  }

  tag(): string {
    this.#tags += 1
    return `T${this.#tags}`
  }

  async run(text: string): Promise<{ isOk: boolean; tagged: string; untagged: string[] }> {
    const tag = this.tag()
    this.client.write(Buffer.from(`${tag} ${text}\r\n`, 'latin1'))
    const response = await this.client.response(tag, REPLY_TIMEOUT)
    return { ...response, isOk: response.tagged.startsWith(`${tag} OK`) }
  }
}

async function connectImap(load: Load, server: LiveServer): Promise<Imap> {
  const client = await ImapTestClient.connect(load.t, server.ports.imap)
  try {
    const greeting = await client.readLine(REPLY_TIMEOUT)
    if (!greeting.startsWith('* OK')) throw new Error(`IMAP greeting: ${greeting}`)
    if (load.random() < 0.5) await client.startTls('S1')
    const imap = new Imap(client)
    const login = await imap.run(`LOGIN "${BOB}" "${PASSWORD}"`)
    if (!login.isOk) throw new Error(`LOGIN: ${login.tagged}`)
    return imap
  } catch (error) {
    client.socket.destroy()
    throw error
  }
}

/**
 * APPENDs one message (a synchronizing literal, or LITERAL+ for small ones), sometimes with
 * \Flagged. Its APPENDUID must be above every UID seen in the mailbox before it was sent.
 */
async function appendOne(
  load: Load,
  imap: Imap,
  mailbox: string,
  message: { id: string; bytes: Buffer; isNew: boolean },
  isBig: boolean,
): Promise<void> {
  const { ledger } = load
  const key = mailboxKey(BOB, mailbox)
  const floor = ledger.mailbox(key).highest
  const isFlagged = load.random() < 0.3
  const [copy] = message.isNew
    ? ledger.record(message.id, 'append', message.bytes, [key], isBig)
    : [ledger.copy(message.id, key)]
  if (copy === undefined) throw new Error('no copy recorded')
  const tag = imap.tag()
  const isNonSync = message.bytes.length < 64 * 1024 && load.random() < 0.5
  const head = `${tag} APPEND ${mailbox} ${isFlagged ? '(\\Flagged) ' : ''}`
  const { client } = imap
  if (isNonSync) {
    client.write(`${head}{${message.bytes.length}+}\r\n`)
  } else {
    client.write(`${head}{${message.bytes.length}}\r\n`)
    for (;;) {
      const line = await client.readLine(REPLY_TIMEOUT)
      if (line.startsWith('+')) break
      if (line.startsWith(`${tag} `)) {
        load.ledger.anomaly(`APPEND of ${message.id} refused before its literal: ${line}`)
        return
      }
    }
  }
  client.write(message.bytes)
  client.write('\r\n')
  const response = await client.response(tag, REPLY_TIMEOUT)
  const match = /^\S+ OK \[APPENDUID (\d+) (\d+)\]/.exec(response.tagged)
  if (match === null) {
    load.ledger.anomaly(`APPEND of ${message.id}: ${response.tagged}`)
    return
  }
  const uid = Number(match[2])
  ledger.uidValidity(key, Number(match[1]), `APPENDUID of ${message.id}`)
  if (uid <= floor) {
    ledger.violation(`${key}: APPENDUID ${uid} for ${message.id}, but UID ${floor} was seen before`)
  }
  const now = Date.now()
  copy.acknowledgedAt = now
  if (isFlagged) copy.flaggedAt = now
  ledger.observe(copy, uid, `APPENDUID of ${message.id}`)
  ledger.count(message.isNew ? 'acknowledged APPENDs' : 'acknowledged APPENDs of the same octets')
  if (message.isNew && message.bytes.length < 64 * 1024) {
    load.twins.push({ id: message.id, bytes: message.bytes, mailbox })
    if (load.twins.length > 50) load.twins.shift()
  }
}

/** A new message for APPEND, or now and then the octets of an earlier one for the other mailbox. */
function nextAppend(
  load: Load,
  size: number,
): { mailbox: string; id: string; bytes: Buffer; isNew: boolean } {
  const { random, ledger } = load
  if (random() < 0.2 && load.twins.length > 0) {
    const twin = load.twins.splice(Math.floor(random() * load.twins.length), 1)[0]
    const mailbox = IMAP_MAILBOXES.find((name) => name !== twin?.mailbox)
    if (twin !== undefined && mailbox !== undefined) {
      return { mailbox, id: twin.id, bytes: twin.bytes, isNew: false }
    }
  }
  const id = ledger.nextId()
  const bytes = load.factory.build({ id, from: BOB, to: [BOB], size })
  return { mailbox: pick(random, IMAP_MAILBOXES), id, bytes, isNew: true }
}

interface FetchedMessage {
  uid: number
  flags: string[]
  id: string
}

/** One FETCH response: its items outside literals, and its literals' octets. */
function splitFetch(line: string): { items: string; literals: string[] } {
  let items = ''
  const literals: string[] = []
  let rest = line
  for (;;) {
    const match = /\{(\d+)\}\r\n/.exec(rest)
    if (match === null) return { items: items + rest, literals }
    const start = match.index + match[0].length
    items += rest.slice(0, match.index)
    literals.push(rest.slice(start, start + Number(match[1])))
    rest = rest.slice(start + Number(match[1]))
  }
}

function parseFetch(line: string): FetchedMessage | null {
  if (!/^\* \d+ FETCH /.test(line)) return null
  const { items, literals } = splitFetch(line)
  const uid = /[( ]UID (\d+)/.exec(items)
  const flags = /FLAGS \(([^)]*)\)/.exec(items)
  const id = /X-Torture-Id: ([^\r\n]+)/i.exec(literals.join(''))
  if (uid === null || flags === null || id?.[1] === undefined) return null
  return {
    uid: Number(uid[1]),
    flags: (flags[1] ?? '').split(' ').filter((flag) => flag !== ''),
    id: id[1],
  }
}

function isExpungeIssued(tagged: string): boolean {
  return /^\S+ NO \[EXPUNGEISSUED\]/.test(tagged)
}

/** The octets of the first literal in a FETCH response line (a binary string). */
function literalOf(line: string): Buffer | null {
  const [literal] = splitFetch(line).literals
  return literal === undefined ? null : Buffer.from(literal, 'latin1')
}

/**
 * SELECT, FETCH every message's id and flags, and check them against the ledger: every copy
 * acknowledged before the SELECT is there unless its removal was sent, flags acknowledged before
 * are set, removed ones are gone, UIDs are the ones seen before. Then STORE \Flagged on a few,
 * STORE \Deleted and UID EXPUNGE on a few, and read one whole message back.
 */
async function manageMailbox(load: Load, imap: Imap, mailbox: string): Promise<void> {
  const { ledger, random } = load
  const key = mailboxKey(BOB, mailbox)
  const floor = ledger.mailbox(key).highest
  const selectedAt = Date.now()
  const select = await imap.run(`SELECT ${mailbox}`)
  if (!select.isOk) {
    load.ledger.anomaly(`SELECT ${mailbox}: ${select.tagged}`)
    return
  }
  const text = select.untagged.join('\n')
  const uidValidity = /\[UIDVALIDITY (\d+)\]/.exec(text)
  const uidNext = /\[UIDNEXT (\d+)\]/.exec(text)
  if (uidValidity === null || uidNext === null) {
    ledger.violation(`SELECT ${mailbox} without UIDVALIDITY or UIDNEXT: ${text}`)
    return
  }
  ledger.uidValidity(key, Number(uidValidity[1]), 'SELECT')
  if (Number(uidNext[1]) <= floor) {
    ledger.violation(`${key}: UIDNEXT ${uidNext[1]} at SELECT, but UID ${floor} was seen before`)
  }
  const fetchedAt = Date.now()
  const fetch = await imap.run('UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (X-Torture-Id)])')
  // RFC 9051 §7.1: NO [EXPUNGEISSUED] when another session expunged some of them; the others
  // are all there.
  if (isExpungeIssued(fetch.tagged)) ledger.count('FETCH answered NO [EXPUNGEISSUED]')
  else if (!fetch.isOk) {
    load.ledger.anomaly(`UID FETCH in ${mailbox}: ${fetch.tagged}`)
    return
  }
  const present = new Map<string, FetchedMessage>()
  for (const line of fetch.untagged) {
    const fetched = parseFetch(line)
    if (fetched === null) continue
    const copy = ledger.knownCopy(fetched.id, key)
    if (copy === undefined) {
      ledger.violation(`${key}: UID ${fetched.uid} is a message never sent here (${fetched.id})`)
      continue
    }
    if (present.has(fetched.id)) ledger.violation(`${key}: ${fetched.id} listed twice`)
    present.set(fetched.id, fetched)
    ledger.observe(copy, fetched.uid, 'FETCH')
    if (
      copy.flaggedAt !== null &&
      copy.flaggedAt < fetchedAt &&
      !fetched.flags.includes('\\Flagged')
    ) {
      ledger.violation(`${key}: ${copy.id} lost the \\Flagged an acknowledged command set`)
    }
    if (
      copy.deletedAt !== null &&
      copy.deletedAt < fetchedAt &&
      !fetched.flags.includes('\\Deleted')
    ) {
      ledger.violation(`${key}: ${copy.id} lost the \\Deleted an acknowledged STORE set`)
    }
    if (copy.removedAt !== null && copy.removedAt < selectedAt) {
      ledger.violation(`${key}: ${copy.id} is back after an acknowledged UID EXPUNGE`)
    }
    if (copy.isRefused) ledger.violation(`${key}: ${copy.id} stored for a refused recipient`)
  }
  for (const copy of ledger.byDestination.get(key) ?? []) {
    const isExpected =
      copy.acknowledgedAt !== null && copy.acknowledgedAt < selectedAt && !copy.isRemovalSent
    if (isExpected && !present.has(copy.id)) {
      ledger.violation(`${key}: ${copy.id} was acknowledged but SELECT after it does not list it`)
    }
  }
  ledger.count('IMAP mailbox checks')
  const listed = [...present.values()]
  if (listed.length === 0) return

  const toFlag = sample(random, listed, between(random, 0, 2))
  if (toFlag.length > 0) {
    const stored = await imap.run(
      `UID STORE ${toFlag.map((m) => m.uid).join(',')} +FLAGS.SILENT (\\Flagged)`,
    )
    if (!stored.isOk) load.ledger.anomaly(`STORE \\Flagged: ${stored.tagged}`)
    else {
      const now = Date.now()
      for (const m of toFlag) {
        const copy = ledger.knownCopy(m.id, key)
        if (copy !== undefined) copy.flaggedAt ??= now
      }
    }
  }

  // Keep the mailbox from growing without end: more deletions when it is big.
  const removable = listed.filter((m) => {
    const copy = ledger.knownCopy(m.id, key)
    return copy !== undefined && !copy.isRemovalSent
  })
  const surplus = Math.max(0, listed.length - MAILBOX_TARGET)
  const toDelete = sample(random, removable, Math.min(200, surplus + between(random, 0, 3)))
  if (toDelete.length > 0) {
    const set = toDelete.map((m) => m.uid).join(',')
    const copies = toDelete.flatMap((m) => {
      const copy = ledger.knownCopy(m.id, key)
      return copy === undefined ? [] : [copy]
    })
    const deleted = await imap.run(`UID STORE ${set} +FLAGS.SILENT (\\Deleted)`)
    if (!deleted.isOk) {
      load.ledger.anomaly(`STORE \\Deleted: ${deleted.tagged}`)
      return
    }
    const deletedAt = Date.now()
    for (const copy of copies) copy.deletedAt ??= deletedAt
    // Some \Deleted messages are left for a later session (or a kill) to expunge.
    if (random() < 0.85) {
      for (const copy of copies) copy.isRemovalSent = true
      const expunged = await imap.run(`UID EXPUNGE ${set}`)
      if (!expunged.isOk) {
        load.ledger.anomaly(`UID EXPUNGE: ${expunged.tagged}`)
        return
      }
      const now = Date.now()
      for (const copy of copies) copy.removedAt = now
      ledger.count('messages expunged by an acknowledged UID EXPUNGE', copies.length)
    }
  }

  // One message read back whole: what a reader sees is what was sent, never part of it.
  const survivors = listed.filter((m) => !toDelete.includes(m))
  if (survivors.length > 0 && random() < 0.5) {
    const chosen = pick(random, survivors)
    const body = await imap.run(`UID FETCH ${chosen.uid} (UID BODY.PEEK[])`)
    const line = body.untagged.find((l) => /^\* \d+ FETCH .*BODY\[\] \{\d+\}\r\n/.test(l))
    const bytes = line === undefined ? null : literalOf(line)
    const copy = ledger.knownCopy(chosen.id, key)
    if (bytes === null && isExpungeIssued(body.tagged)) {
      ledger.count('FETCH answered NO [EXPUNGEISSUED]')
    } else if (bytes === null && body.isOk && copy?.isRemovalSent === true) {
      // Another session expunged it, and this one has been told: UID FETCH ignores the UID.
      ledger.count('FETCH of a message another session expunged')
    } else if (!body.isOk || bytes === null) {
      load.ledger.anomaly(`UID FETCH ${chosen.uid} BODY[] in ${mailbox}: ${body.tagged}`)
    } else {
      checkWhole(load, bytes, `${key} UID ${chosen.uid} (IMAP)`)
    }
  }
}

/** A message a client read: it must be one we sent, byte for byte (trace fields aside). */
function checkWhole(load: Load, bytes: Buffer, where: string): string | null {
  const id = tortureIdOf(bytes)
  const sent = id === null ? undefined : load.ledger.messages.get(id)
  if (id === null || sent === undefined) {
    load.ledger.violation(
      `${where}: a message never sent (${bytes.subarray(0, 80).toString('latin1')})`,
    )
    return null
  }
  const body = withoutTrace(bytes)
  if (body.length !== sent.size || digest(body) !== sent.digest) {
    load.ledger.violation(`${where}: ${id} is ${body.length} octets unlike the ${sent.size} sent`)
  }
  return id
}

export function imapWorker(load: Load): Promise<void> {
  const { random } = load
  return loop(load, 'IMAP', async (server) => {
    const imap = await connectImap(load, server)
    try {
      for (let n = between(random, 1, 6); n > 0 && !load.isStopped(); n -= 1) {
        if (random() < 0.4) {
          const next = nextAppend(load, smallSize(random))
          await appendOne(load, imap, next.mailbox, next, false)
        } else {
          await manageMailbox(load, imap, pick(random, IMAP_MAILBOXES))
        }
      }
      await imap.run('LOGOUT').catch(() => null)
    } finally {
      imap.client.socket.destroy()
    }
  })
}

// POP3 -----------------------------------------------------------------------------------------

/**
 * One POP3 session on a carol: every copy acknowledged before login is counted in the maildrop,
 * a few messages are RETRieved (whole, as sent) and DELEted, then QUIT, or now and then the
 * connection is dropped instead, which must delete nothing (RFC 1939 §6).
 */
export function pop3Worker(load: Load): Promise<void> {
  const { random, ledger } = load
  // A maildrop a kill left locked stays so for the lock's lease (60 s): try the others first.
  const lockedUntil = new Map<string, number>()
  return loop(load, 'POP3', async (server) => {
    const free = POP3_ACCOUNTS.filter((address) => (lockedUntil.get(address) ?? 0) < Date.now())
    const address = pick(random, free.length > 0 ? free : POP3_ACCOUNTS)
    const key = mailboxKey(address, 'INBOX')
    const client = await Pop3TestClient.connect(load.t, server.ports.pop3)
    try {
      const greeting = await client.read({ timeoutMs: REPLY_TIMEOUT })
      if (!greeting.isOk) throw new Error(`POP3 greeting: ${greeting.raw}`)
      if (random() < 0.3) await client.startTls()
      const user = await command(client, `USER ${address}`)
      if (!user.isOk) throw new Error(`USER: ${user.raw}`)
      const loginAt = Date.now()
      const pass = await command(client, `PASS ${PASSWORD}`)
      if (!pass.isOk) {
        // A maildrop stays locked for its lease after a kill took its session (RFC 2449 IN-USE).
        if (pass.status.includes('[IN-USE]')) {
          ledger.count('POP3 logins refused [IN-USE]')
          lockedUntil.set(address, Date.now() + 10_000)
        } else load.ledger.anomaly(`PASS for ${address}: ${pass.status}`)
        await command(client, 'QUIT').catch(() => null)
        return
      }
      const uidl = await multi(client, 'UIDL')
      if (!uidl.isOk) throw new Error(`UIDL: ${uidl.status}`)
      const numbers = uidl.lines.map((line) => Number(line.split(' ')[0]))
      const expected = [...(ledger.byDestination.get(key) ?? [])].filter(
        (copy) =>
          copy.acknowledgedAt !== null && copy.acknowledgedAt < loginAt && !copy.isRemovalSent,
      )
      if (numbers.length < expected.length) {
        ledger.violation(
          `${key}: POP3 lists ${numbers.length} messages, ${expected.length} were acknowledged before`,
        )
      }
      ledger.count('POP3 maildrop checks')
      const marked: CopyState[] = []
      const deleted = new Set<number>()
      for (const number of sample(random, numbers, between(random, 0, 4))) {
        const retr = await multi(client, `RETR ${number}`)
        if (!retr.isOk) {
          load.ledger.anomaly(`RETR ${number} of ${address}: ${retr.status}`)
          continue
        }
        const bytes = Buffer.from(`${retr.lines.join('\r\n')}\r\n`, 'latin1')
        const id = checkWhole(load, bytes, `${key} message ${number} (POP3)`)
        const copy = id === null ? undefined : ledger.knownCopy(id, key)
        if (copy === undefined) {
          if (id !== null) ledger.violation(`${key}: ${id} was never sent to ${address}`)
          continue
        }
        copy.isSeen = true
        if (copy.removedAt !== null && copy.removedAt < loginAt) {
          ledger.violation(`${key}: ${copy.id} is back after an acknowledged DELE and QUIT`)
        }
        if (copy.isRefused) ledger.violation(`${key}: ${copy.id} stored for a refused recipient`)
        const dele = await command(client, `DELE ${number}`)
        if (dele.isOk) {
          marked.push(copy)
          deleted.add(number)
        } else load.ledger.anomaly(`DELE ${number} of ${address}: ${dele.status}`)
      }
      // What the maildrop holds beyond the target goes too, found by its header (TOP n 0).
      for (const number of numbers.slice(0, Math.max(0, numbers.length - MAILBOX_TARGET))) {
        if (marked.length >= 200) break
        if (deleted.has(number)) continue
        const top = await multi(client, `TOP ${number} 0`)
        if (!top.isOk) {
          load.ledger.anomaly(`TOP ${number} 0 of ${address}: ${top.status}`)
          continue
        }
        const id = tortureIdOf(Buffer.from(`${top.lines.join('\r\n')}\r\n`, 'latin1'))
        const copy = id === null ? undefined : ledger.knownCopy(id, key)
        if (copy === undefined) continue
        const dele = await command(client, `DELE ${number}`)
        if (!dele.isOk) {
          load.ledger.anomaly(`DELE ${number} of ${address}: ${dele.status}`)
          continue
        }
        deleted.add(number)
        marked.push(copy)
      }
      if (random() < 0.1) {
        ledger.count('POP3 sessions dropped without QUIT')
        return
      }
      for (const copy of marked) copy.isRemovalSent = true
      const quit = await command(client, 'QUIT')
      if (!quit.isOk) {
        load.ledger.anomaly(`QUIT of ${address}: ${quit.status}`)
        return
      }
      const now = Date.now()
      for (const copy of marked) copy.removedAt = now
      ledger.count('messages deleted by an acknowledged POP3 QUIT', marked.length)
    } finally {
      client.socket.destroy()
    }
  })
}

function command(client: Pop3TestClient, line: string) {
  client.write(`${line}\r\n`)
  return client.read({ timeoutMs: REPLY_TIMEOUT })
}

function multi(client: Pop3TestClient, line: string) {
  client.write(`${line}\r\n`)
  return client.read({ multiline: true, timeoutMs: REPLY_TIMEOUT })
}

// Big messages ---------------------------------------------------------------------------------

/** Big messages by each way in, one at a time, counted in load.big while they are on the wire. */
export function bigSender(load: Load): Promise<void> {
  const { random } = load
  return loop(load, 'big', async (server) => {
    const size = between(random, ...load.sizes.big)
    const way = pick(random, ['submission', 'mx', 'append'] as const)
    if (way === 'submission') {
      const client = await connectSubmission(server)
      try {
        const to = [pick(random, LOCAL_RECIPIENTS), pick(random, REMOTE_RECIPIENTS)]
        await whileBig(load, () => submitOne(load, client, to, size, true))
        await client.quit()
      } finally {
        client.close()
      }
    } else if (way === 'mx') {
      const client = await connectMx(load, server)
      try {
        const to = recipients(random, LOCAL_RECIPIENTS, 2)
        await whileBig(load, () => relayInOne(load, client, to, size, true))
        await smtpCommand(client, 'QUIT').catch(() => null)
      } finally {
        client.socket.destroy()
      }
    } else {
      const imap = await connectImap(load, server)
      try {
        const id = load.ledger.nextId()
        const bytes = load.factory.build({ id, from: BOB, to: [BOB], size })
        const mailbox = pick(random, IMAP_MAILBOXES)
        await whileBig(load, () => appendOne(load, imap, mailbox, { id, bytes, isNew: true }, true))
        await imap.run('LOGOUT').catch(() => null)
      } finally {
        imap.client.socket.destroy()
      }
    }
  })
}

async function whileBig(load: Load, send: () => Promise<void>): Promise<void> {
  load.big.inFlight += 1
  try {
    await send()
  } finally {
    load.big.inFlight -= 1
  }
}
