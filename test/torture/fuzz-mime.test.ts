// Bad MIME (issue 11, torture suite): random MIME trees (nested multiparts and message/rfc822,
// odd boundaries, every transfer encoding broken in its own ways, RFC 2047 and RFC 2231 gone
// wrong, 8-bit and NUL), mutated messages of the MIME fixtures and plain random octets are
// delivered to a real `postern serve` (over SMTP, dot-stuffed, and IMAP APPEND, as literal8
// when they hold NUL), then read back over IMAP (ENVELOPE, BODYSTRUCTURE, BODY[…] of existing
// and missing parts, partials, BINARY, BINARY.SIZE) and POP3 (LIST, UIDL, RETR, TOP), for a
// bounded time. Every answer must come in time and be well-formed (parseable, no control
// characters outside literals); what comes back must be what was stored, octet for octet
// (BODY[] ends with what was sent, RFC822.SIZE is its length, HEADER and TEXT make it up, and
// RETR is it with CRLF line ends, of the size LIST said); the process must stay up without
// logging an error, its memory bounded.

import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fetchResponse, parseResponse, type Sexp, stringOf } from '../support/imap-sexp.ts'
import { REPO_ROOT } from '../support/postern-process.ts'
import {
  ClosedError,
  FUZZ_USER,
  FuzzClient,
  FuzzFailure,
  type FuzzServer,
  forSeconds,
  fuzzSeconds,
  fuzzTimeoutMs,
  Journal,
  mutateMany,
  PRINTABLE,
  Rng,
  readImapLine,
  startFuzzServer,
} from './support/fuzz.ts'
import { TORTURE_SEED } from './support/settings.ts'

const ANSWER_MS = 12_000
const MESSAGES_PER_ROUND = 4

const FIXTURES = readdirSync(path.join(REPO_ROOT, 'test/fixtures/mime'))
  .filter((name) => name.endsWith('.eml'))
  .map((name) => readFileSync(path.join(REPO_ROOT, 'test/fixtures/mime', name)))

interface Stats {
  delivered: number
  refused: number
  fetched: number
  retrieved: number
  rounds: number
}

/** One message sent, and how. */
interface Sent {
  /** The message as the server must have stored it (SMTP: its last line ended by CRLF). */
  bytes: Buffer
  via: 'smtp' | 'append'
  uid: number
}

test('MIME: random and mutated messages are stored, fetched and retrieved intact', {
  timeout: fuzzTimeoutMs(),
}, async (t) => {
  t.diagnostic(`TORTURE_SEED=${TORTURE_SEED}`)
  const server = await startFuzzServer(t)
  const rng = new Rng(TORTURE_SEED ^ 0x31e7)
  const stats: Stats = { delivered: 0, refused: 0, fetched: 0, retrieved: 0, rounds: 0 }
  const journal = new Journal(80)
  stats.rounds = await forSeconds(
    fuzzSeconds(),
    async (round) => {
      journal.clear()
      journal.note(`round ${round}`)
      await mimeRound(rng.fork(), server, journal, stats)
      server.checkHealth(journal, `MIME round ${round}`)
    },
    { journal },
  )
  t.diagnostic(
    `${stats.rounds} rounds, ${stats.delivered} messages stored (${stats.refused} refused), ` +
      `${stats.fetched} fetched over IMAP, ${stats.retrieved} retrieved over POP3; ${server.finish()}`,
  )
  assert.ok(stats.fetched > 0 && stats.retrieved > 0, 'messages went through both readers')
})

async function mimeRound(
  rng: Rng,
  server: FuzzServer,
  journal: Journal,
  stats: Stats,
): Promise<void> {
  const ports = server.postern.ports
  const imap = await FuzzClient.open(ports.imap, journal)
  try {
    await readImapLine(imap, 'the greeting')
    await imapOk(imap, `LOGIN "${FUZZ_USER.address}" "${FUZZ_USER.password}"`)
    const sent: Sent[] = []
    for (let i = 0; i < MESSAGES_PER_ROUND; i += 1) {
      const bytes = randomMessage(rng)
      const message = rng.chance(0.5)
        ? await viaSmtp(server, bytes, journal)
        : await viaAppend(imap, bytes)
      if (message === null) stats.refused += 1
      else sent.push(message)
    }
    stats.delivered += sent.length
    const select = await imapCommand(imap, 'SELECT INBOX')
    if (!select.tagged.includes(' OK ')) throw new FuzzFailure(`SELECT: ${select.tagged}`, journal)
    // Delivered over SMTP: the UIDs are the newest ones, in order.
    const uids = (await imapCommand(imap, 'UID SEARCH ALL')).untagged
      .flatMap((line) => (line.startsWith('* SEARCH') ? line.split(' ').slice(2).map(Number) : []))
      .sort((a, b) => a - b)
    const fromSmtp = sent.filter((message) => message.via === 'smtp')
    const known = new Set(sent.filter((message) => message.via === 'append').map((m) => m.uid))
    const fresh = uids.filter((uid) => !known.has(uid)).slice(-fromSmtp.length)
    fromSmtp.forEach((message, index) => {
      message.uid = fresh[index] ?? 0
    })
    const bodies = new Map<number, string>()
    for (const message of sent) {
      bodies.set(message.uid, await fetchAll(rng, imap, message, journal))
      stats.fetched += 1
    }
    stats.retrieved += await retrieveAll(rng, server, sent, bodies, journal)
    // The mailbox stays small: what was checked goes.
    if (sent.length > 0) {
      await imapOk(imap, `UID STORE ${sent.map((m) => m.uid).join(',')} +FLAGS.SILENT (\\Deleted)`)
      await imapOk(imap, 'EXPUNGE')
    }
    await imapOk(imap, 'LOGOUT')
  } catch (error) {
    if (error instanceof ClosedError) throw new FuzzFailure(error.message, journal)
    throw error
  } finally {
    imap.close()
  }
}

// --- delivery -------------------------------------------------------------------------------

/** Over SMTP to carol, dot-stuffed; null when the server refused it (a line over 1000 octets). */
async function viaSmtp(server: FuzzServer, bytes: Buffer, journal: Journal): Promise<Sent | null> {
  const client = await FuzzClient.open(server.postern.ports.smtp, journal)
  try {
    const expect = async (line: string | null, codes: number[]) => {
      if (line !== null) client.write(`${line}\r\n`)
      const reply = await client.take(takeReply, ANSWER_MS, line ?? 'the greeting')
      if (!codes.includes(Number(reply.slice(0, 3)))) {
        throw new FuzzFailure(`SMTP ${line}: ${reply}`, journal)
      }
      return Number(reply.slice(0, 3))
    }
    await expect(null, [220])
    await expect('EHLO mime.example.org', [250])
    await expect('MAIL FROM:<mime@remote.test> BODY=8BITMIME', [250])
    await expect(`RCPT TO:<${FUZZ_USER.address}>`, [250])
    await expect('DATA', [354])
    // The CRLF before the final dot ends the message's last line (RFC 5321 §4.1.1.4): a
    // message that ends with one needs no other, and one that does not is stored with it.
    const endsWithCrlf = bytes.length >= 2 && bytes.subarray(-2).toString() === '\r\n'
    const stored = endsWithCrlf ? bytes : Buffer.concat([bytes, Buffer.from('\r\n')])
    client.write(Buffer.concat([dotStuff(stored), Buffer.from('.\r\n')]))
    // 554 5.6.0 for a line over 1000 octets (RFC 5321 §4.5.3.1.6); nothing else is refused.
    const code = await expect(null, hasLongLine(stored) ? [554] : [250])
    client.write('QUIT\r\n')
    return code === 250 ? { bytes: stored, via: 'smtp', uid: 0 } : null
  } finally {
    client.close()
  }
}

/** Over IMAP APPEND (literal8 when it holds NUL); null when refused (an empty message). */
async function viaAppend(imap: FuzzClient, bytes: Buffer): Promise<Sent | null> {
  const binary = bytes.includes(0)
  const tag = nextTag()
  imap.write(
    Buffer.concat([
      Buffer.from(`${tag} APPEND INBOX ${binary ? '~' : ''}{${bytes.length}+}\r\n`),
      bytes,
      Buffer.from('\r\n'),
    ]),
  )
  const response = await responseTo(imap, tag, 'APPEND')
  if (bytes.length === 0) {
    if (!response.tagged.startsWith(`${tag} NO`)) {
      throw new FuzzFailure(`APPEND of nothing: ${response.tagged}`, imap.journal)
    }
    return null
  }
  const uid = /\[APPENDUID \d+ (\d+)\]/.exec(response.tagged)?.[1]
  if (uid === undefined) throw new FuzzFailure(`APPEND: ${response.tagged}`, imap.journal)
  return { bytes, via: 'append', uid: Number(uid) }
}

// --- reading back ---------------------------------------------------------------------------

/** Fetches a message every way there is; returns the message as stored (latin1). */
async function fetchAll(
  rng: Rng,
  imap: FuzzClient,
  message: Sent,
  journal: Journal,
): Promise<string> {
  const { uid } = message
  const what = `message UID ${uid} (${message.via})`
  const main = await imapOk(
    imap,
    `UID FETCH ${uid} (RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT])`,
  )
  const items = fetchItems(main.untagged, uid, journal, what)
  const body = stringOf(items.get('BODY[]'))
  if (body === undefined) throw new FuzzFailure(`${what}: no BODY[]`, journal)
  // A literal cannot carry NUL (RFC 9051 §4.3): a stored NUL is sent as 0x80, as Dovecot does.
  const sentText = message.bytes.toString('latin1')
  const asSent = sentText.replace(/\0/g, '\x80')
  // SMTP puts Return-Path and Received in front; APPEND stores the octets as they came.
  if (message.via === 'append' ? body !== asSent : !body.endsWith(asSent)) {
    throw new FuzzFailure(`${what}: BODY[] is not what was sent`, journal)
  }
  const size = items.get('RFC822.SIZE')
  if (!isAtom(size) || Number(size.atom) !== body.length) {
    throw new FuzzFailure(`${what}: RFC822.SIZE is not the length of BODY[]`, journal)
  }
  const header = stringOf(items.get('BODY[HEADER]')) ?? ''
  const text = stringOf(items.get('BODY[TEXT]')) ?? ''
  if (header + text !== body) {
    throw new FuzzFailure(`${what}: BODY[HEADER] and BODY[TEXT] do not make up BODY[]`, journal)
  }
  for (const name of ['ENVELOPE', 'BODYSTRUCTURE', 'BODY']) {
    if (!Array.isArray(items.get(name)))
      throw new FuzzFailure(`${what}: ${name} is not a list`, journal)
  }
  // Parts that exist and parts that do not, whole, as MIME headers, in pieces, decoded.
  const paths = partPaths(items.get('BODYSTRUCTURE') ?? null)
  for (let i = 0; i < 3; i += 1) {
    const part =
      rng.chance(0.8) && paths.length > 0
        ? rng.pick(paths)
        : `${rng.range(1, 9)}.${rng.range(1, 9)}`
    const section = rng.pick(['', '.MIME', '.HEADER', '.TEXT', '.HEADER.FIELDS (CONTENT-TYPE)'])
    const partial = rng.chance(0.3) ? `<${rng.range(0, 50)}.${rng.range(1, 200)}>` : ''
    await imapAnswered(imap, `UID FETCH ${uid} (BODY.PEEK[${part}${section}]${partial})`, [
      'OK',
      'NO',
    ])
    if (/^[0-9.]+$/.test(part)) {
      // RFC 3516: BINARY of a part whose encoding cannot be undone is NO [UNKNOWN-CTE].
      await imapAnswered(imap, `UID FETCH ${uid} (BINARY.PEEK[${part}]${partial})`, ['OK', 'NO'])
      await imapAnswered(imap, `UID FETCH ${uid} (BINARY.SIZE[${part}])`, ['OK', 'NO'])
    }
  }
  await imapAnswered(imap, `UID FETCH ${uid} (BINARY.PEEK[] BINARY.SIZE[])`, ['OK', 'NO'])
  // The message as stored: the trace fields in front (never a NUL in them), then what was sent.
  return body.slice(0, body.length - sentText.length) + sentText
}

/**
 * POP3: the round's messages by UIDL; RETR is BODY[] with CRLF line ends, of the size LIST
 * gave; TOP is a prefix of it. Returns how many were retrieved.
 */
async function retrieveAll(
  rng: Rng,
  server: FuzzServer,
  sent: readonly Sent[],
  /** Each message as stored, by UID. */
  bodies: ReadonlyMap<number, string>,
  journal: Journal,
): Promise<number> {
  const pop = await FuzzClient.open(server.postern.ports.pop3, journal)
  try {
    // Message lines may hold any octet but LF; only the status lines are checked for form.
    const readRaw = (what: string) =>
      pop.take(
        (buffer) => {
          const end = buffer.indexOf('\r\n')
          return end < 0 ? null : { value: buffer.slice(0, end), length: end + 2 }
        },
        ANSWER_MS,
        what,
      )
    const single = async (line: string | null) => {
      if (line !== null) pop.write(`${line}\r\n`)
      const status = await readImapLine(pop, line ?? 'the greeting')
      if (!status.startsWith('+OK')) throw new FuzzFailure(`POP3 ${line}: ${status}`, journal)
      return status
    }
    const multi = async (line: string) => {
      await single(line)
      const lines: string[] = []
      for (;;) {
        const next = await readRaw(line)
        if (next === '.') return lines
        lines.push(next.startsWith('.') ? next.slice(1) : next)
      }
    }
    await single(null)
    await single(`USER ${FUZZ_USER.address}`)
    await single(`PASS ${FUZZ_USER.password}`)
    const sizes = new Map(
      (await multi('LIST')).map((line) => line.split(' ').map(Number) as [number, number]),
    )
    const numbers = new Map<number, number>()
    for (const line of await multi('UIDL')) {
      const [n = '', id = ''] = line.split(' ')
      numbers.set(Number(id.split('.')[1]), Number(n))
    }
    let retrieved = 0
    for (const message of sent) {
      const n = numbers.get(message.uid)
      const body = bodies.get(message.uid)
      if (n === undefined || body === undefined) {
        throw new FuzzFailure(`UID ${message.uid} is not in the maildrop`, journal)
      }
      const lines = await multi(`RETR ${n}`)
      const expected = withCrlf(body)
      const got = lines.length === 0 ? '' : `${lines.join('\r\n')}\r\n`
      if (got !== expected)
        throw new FuzzFailure(`RETR ${n} is not the stored message with CRLFs`, journal)
      if (sizes.get(n) !== Buffer.byteLength(got, 'latin1')) {
        throw new FuzzFailure(
          `LIST says ${sizes.get(n)} octets for ${n}, RETR sent ${got.length}`,
          journal,
        )
      }
      const top = await multi(`TOP ${n} ${rng.range(0, 5)}`)
      const prefix = top.length === 0 ? '' : `${top.join('\r\n')}\r\n`
      if (!got.startsWith(prefix))
        throw new FuzzFailure(`TOP ${n} is not a prefix of RETR`, journal)
      retrieved += 1
    }
    await single('QUIT')
    await pop.closed(ANSWER_MS)
    return retrieved
  } finally {
    pop.close()
  }
}

/** Every LF gets its CR, and a message that does not end with one gets CRLF (src/mime crlfSize). */
function withCrlf(text: string): string {
  const crlf = text.replace(/\r?\n/g, '\r\n')
  return crlf === '' || crlf.endsWith('\n') ? crlf : `${crlf}\r\n`
}

/** The part numbers a BODYSTRUCTURE shows: "1", "1.2", … (RFC 9051 §6.4.5). */
function partPaths(structure: Sexp): string[] {
  const paths: string[] = []
  const walk = (node: Sexp, prefix: string) => {
    if (!Array.isArray(node)) return
    if (Array.isArray(node[0])) {
      let index = 1
      for (const child of node) {
        if (!Array.isArray(child)) break
        const childPath = prefix === '' ? `${index}` : `${prefix}.${index}`
        paths.push(childPath)
        walk(child, childPath)
        index += 1
      }
      return
    }
    // message/rfc822: its body structure is the 9th field.
    const type = stringOf(node[0])?.toUpperCase()
    const subtype = stringOf(node[1])?.toUpperCase()
    if (type === 'MESSAGE' && (subtype === 'RFC822' || subtype === 'GLOBAL')) {
      walk(node[8] ?? null, prefix === '' ? '1' : prefix)
    }
  }
  walk(structure, '')
  return paths.length === 0 ? ['1'] : paths
}

function isAtom(value: Sexp | undefined): value is { atom: string } {
  return value !== null && value !== undefined && !Array.isArray(value) && 'atom' in value
}

// --- IMAP plumbing --------------------------------------------------------------------------

let tagCount = 0
function nextTag(): string {
  tagCount += 1
  return `m${tagCount}`
}

interface ImapResponse {
  untagged: string[]
  tagged: string
}

async function responseTo(client: FuzzClient, tag: string, what: string): Promise<ImapResponse> {
  const untagged: string[] = []
  for (;;) {
    const line = await readImapLine(client, what)
    if (line.startsWith(`${tag} `)) return { untagged, tagged: line }
    untagged.push(line)
  }
}

async function imapCommand(client: FuzzClient, command: string): Promise<ImapResponse> {
  const tag = nextTag()
  client.write(`${tag} ${command}\r\n`)
  return responseTo(client, tag, command)
}

async function imapOk(client: FuzzClient, command: string): Promise<ImapResponse> {
  return imapAnswered(client, command, ['OK'])
}

/** A command whose completion must be one of `statuses`, every untagged FETCH parseable. */
async function imapAnswered(
  client: FuzzClient,
  command: string,
  statuses: string[],
): Promise<ImapResponse> {
  const response = await imapCommand(client, command)
  const status = response.tagged.split(' ')[1] ?? ''
  if (!statuses.includes(status)) {
    throw new FuzzFailure(`${command}: ${response.tagged}`, client.journal)
  }
  for (const line of response.untagged) {
    try {
      parseResponse(line)
    } catch (error) {
      throw new FuzzFailure(
        `${command}: unparseable response (${(error as Error).message})`,
        client.journal,
      )
    }
  }
  return response
}

function fetchItems(
  lines: string[],
  uid: number,
  journal: Journal,
  what: string,
): Map<string, Sexp> {
  for (const line of lines) {
    const parsed = fetchResponse(line)
    if (parsed === null) continue
    const got = parsed.items.get('UID')
    if (isAtom(got) && Number(got.atom) === uid) return parsed.items
  }
  throw new FuzzFailure(`${what}: no FETCH response for it`, journal)
}

// --- SMTP plumbing --------------------------------------------------------------------------

function takeReply(buffer: string): { value: string; length: number } | null {
  let offset = 0
  for (;;) {
    const end = buffer.indexOf('\r\n', offset)
    if (end < 0) return null
    const line = buffer.slice(offset, end)
    offset = end + 2
    if (line[3] !== '-') return { value: buffer.slice(0, offset - 2), length: offset }
  }
}

/** RFC 5321 §4.5.2: a dot that starts a line (after CRLF, or first) gets another. */
function dotStuff(bytes: Buffer): Buffer {
  const out: number[] = []
  for (let i = 0; i < bytes.length; i += 1) {
    const atLineStart = i === 0 || (bytes[i - 1] === 0x0a && i >= 2 && bytes[i - 2] === 0x0d)
    if (bytes[i] === 0x2e && atLineStart) out.push(0x2e)
    out.push(bytes[i] as number)
  }
  return Buffer.from(out)
}

/** Whether a line (up to and with its LF, as the server counts) runs over 1000 octets. */
function hasLongLine(bytes: Buffer): boolean {
  let start = 0
  for (;;) {
    const lf = bytes.indexOf(0x0a, start)
    const end = lf < 0 ? bytes.length : lf + 1
    if (end - start > 1000) return true
    if (lf < 0) return false
    start = end
  }
}

// --- the generator --------------------------------------------------------------------------

function randomMessage(rng: Rng): Buffer {
  const roll = rng.next()
  if (roll < 0.5) return Buffer.from(mimeEntity(rng, 0, true), 'latin1')
  if (roll < 0.9) return mutateMany(rng, rng.pick(FIXTURES), rng.range(1, 12, true))
  return rng.bytes(rng.range(0, 2000, true))
}

const CHARSETS = [
  'utf-8',
  'UTF-8',
  'iso-8859-1',
  'koi8-r',
  'shift_jis',
  'x-unknown',
  '',
  '"utf-8"',
  'utf-7',
]
const ENCODINGS = [
  '7bit',
  '8bit',
  'quoted-printable',
  'base64',
  'binary',
  'x-uuencode',
  'BASE64',
  '',
]

function headerLines(rng: Rng, isTop: boolean): string[] {
  const lines: string[] = []
  const word = () => rng.text(rng.range(1, 12), 'abcdefghij\u00e9\u00fc XYZ')
  if (isTop || rng.chance(0.2)) {
    lines.push(
      `From: ${rng.pick(['"A, B" <a@remote.test>', '=?utf-8?q?J=C3=BCrgen?= <j@remote.test>', 'undisclosed-recipients:;', '<@route:a@b>', 'a@b, (c) <d@e>', 'broken <'])}`,
    )
    lines.push(`To: ${rng.pick([FUZZ_USER.address, 'group: a@b, c@d;', '"x" <y@z>, ', ''])}`)
    lines.push(
      `Subject: ${rng.pick([
        () => word(),
        () => '=?utf-8?b?w6l0w6k=?= =?utf-8?b?w6k?=',
        () => '=?iso-8859-1?q?caf=E9?=',
        () => '=?bogus?x?zz?=',
        () => '=?utf-8?b?',
        () => `${'=?utf-8?q?a?='.repeat(rng.range(1, 30))}`,
        () =>
          rng
            .bytes(rng.range(1, 30))
            .toString('latin1')
            .replace(/[\r\n]/g, ' '),
      ])()}`,
    )
    lines.push(
      `Date: ${rng.pick(['Mon, 1 Jan 2024 00:00:00 +0000', '32 Foo 99 25:61 +9999', '', 'Tue, 31 Feb 2023 12:00 GMT'])}`,
    )
    lines.push(`Message-ID: ${rng.pick(['<a@b>', '<>', 'no-brackets', '<a@b> <c@d>'])}`)
    if (rng.chance(0.3)) lines.push(`References: ${'<r@x> '.repeat(rng.range(0, 20))}`)
  }
  if (rng.chance(0.2)) lines.push(`X-Folded: a\r\n\tb\r\n c`)
  if (rng.chance(0.1)) lines.push('No colon here')
  if (rng.chance(0.1)) lines.push(`X-8bit: ${'\u00ff\u00e9'.repeat(3)}`)
  if (rng.chance(0.2)) {
    lines.push(
      `Content-Disposition: ${rng.pick(['attachment', 'inline', ''])}; ${rng.pick([
        "filename*0*=utf-8''%C3%A9t; filename*1=e.txt",
        'filename="a\\"b.txt"',
        'filename*=bogus',
        "filename*0*=x''%ZZ",
        'size=-1',
      ])}`,
    )
  }
  return lines
}

function encodeBody(rng: Rng, encoding: string): string {
  const raw = rng.bytes(rng.range(0, 300, true))
  switch (encoding.toLowerCase()) {
    case 'base64': {
      let text = raw.toString('base64').replace(/(.{76})/g, '$1\r\n')
      if (rng.chance(0.3))
        text = mutateMany(rng, Buffer.from(text), rng.range(1, 3)).toString('latin1')
      return text
    }
    case 'quoted-printable': {
      let text = ''
      for (const octet of raw) {
        text +=
          octet >= 33 && octet <= 126 && octet !== 61
            ? String.fromCharCode(octet)
            : `=${octet.toString(16).toUpperCase().padStart(2, '0')}`
        if (rng.chance(0.02)) text += '=\r\n'
      }
      if (rng.chance(0.3)) text += rng.pick(['=', '=Z', '=ZZ', '=\n', '=4'])
      return text
    }
    default:
      return rng.chance(0.5)
        ? rng.text(rng.range(0, 200, true), `${PRINTABLE}\u00e9`)
        : raw.toString('latin1')
  }
}

function mimeEntity(rng: Rng, depth: number, isTop: boolean): string {
  const headers = headerLines(rng, isTop)
  if (isTop && rng.chance(0.9)) headers.push('MIME-Version: 1.0')
  const kind = depth >= 5 ? 'leaf' : rng.pick(['leaf', 'leaf', 'multipart', 'multipart', 'message'])
  if (kind === 'multipart') {
    const boundary = rng.pick([
      `b${rng.int(1e6)}`,
      'simple',
      '"with spaces and (parens)"',
      `${'x'.repeat(rng.range(60, 80))}`,
      '=_.*+?[]',
      '',
      'b', // a prefix of later boundaries
    ])
    const bare = boundary.replace(/^"|"$/g, '')
    headers.push(
      `Content-Type: multipart/${rng.pick(['mixed', 'alternative', 'related', 'digest', 'signed', 'x-weird'])}${
        rng.chance(0.9) ? `; boundary=${boundary}` : ''
      }`,
    )
    const parts: string[] = []
    if (rng.chance(0.3)) parts.push('preamble text\r\n')
    const count = rng.range(0, 4, true)
    for (let i = 0; i < count; i += 1) {
      parts.push(
        `--${bare}${rng.chance(0.1) ? '  \t' : ''}\r\n${mimeEntity(rng, depth + 1, false)}\r\n`,
      )
    }
    if (rng.chance(0.8)) parts.push(`--${bare}--\r\n`)
    if (rng.chance(0.2)) parts.push('epilogue\r\n')
    return `${headers.join('\r\n')}\r\n\r\n${parts.join('')}`
  }
  if (kind === 'message') {
    headers.push(`Content-Type: message/${rng.pick(['rfc822', 'global', 'rfc822'])}`)
    return `${headers.join('\r\n')}\r\n\r\n${mimeEntity(rng, depth + 1, true)}`
  }
  const encoding = rng.pick(ENCODINGS)
  const type = rng.pick([
    'text/plain',
    'text/html',
    'application/octet-stream',
    'image/png',
    'text',
    '/',
    'text/plain;;',
  ])
  headers.push(`Content-Type: ${type}${rng.chance(0.7) ? `; charset=${rng.pick(CHARSETS)}` : ''}`)
  if (encoding !== '') headers.push(`Content-Transfer-Encoding: ${encoding}`)
  const lineEnd = rng.chance(0.1) ? '\n' : '\r\n'
  const head = headers.join(lineEnd)
  return rng.chance(0.05) ? head : `${head}${lineEnd}${lineEnd}${encodeBody(rng, encoding)}`
}
