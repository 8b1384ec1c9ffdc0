import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { formatBodyStructure, formatEnvelope } from '../../src/imap/proto/index.ts'
import { bodyStructure, parseMessage, readEnvelope } from '../../src/mime/index.ts'
import { DOVECOT_BINARY, startDovecot } from '../support/dovecot.ts'
import { ImapTestClient } from '../support/imap.ts'
import { ALICE, startImapServe } from '../support/imap-serve.ts'
import {
  fetchResponse,
  formatSexp,
  parseResponse,
  type Sexp,
  stringOf,
} from '../support/imap-sexp.ts'
import { REPO_ROOT } from '../support/postern-process.ts'

// Dovecot as the oracle for Postern's IMAP server: the MIME corpus is APPENDed to a private
// Dovecot and to a real Postern, and each message is FETCHed from both, one item per command.
// The answers are parsed (test/support/imap-sexp.ts), so that a quoted string and a literal with
// the same octets are the same answer, and compared item by item; so are the tagged results
// (OK, or NO with the same response code). Where Postern answers differently on purpose, the
// difference is spelt out below with the reason and what Postern must answer instead.

const CORPUS = path.join(REPO_ROOT, 'test/fixtures/mime')

/** The FETCH items compared, as sent; the answer's item name is the same without ".PEEK". */
const ITEMS = [
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'BODY.PEEK[]',
  'BODY.PEEK[HEADER]',
  'BODY.PEEK[TEXT]',
  'BODY.PEEK[1]',
  'BODY.PEEK[1.MIME]',
  'BINARY.SIZE[1]',
  'RFC822.SIZE',
] as const

/** The kinds of message the comparison must cover; each names a corpus file that has it. */
const REQUIRED = [
  'nested-rfc822.eml', // multipart/mixed with a message/rfc822 inside, itself multipart
  'forwarded-rfc822-multipart.eml',
  'encoded-words-b-and-q.eml', // RFC 2047 encoded words
  'broken-encoded-words.eml',
  'broken-latin1-8bit-headers.eml', // 8-bit octets in header fields
  'utf8-8bit.eml',
  'date-missing.eml', // missing header fields
  'broken-body-without-headers.eml',
  'address-groups.eml', // RFC 5322 groups
  'long-folded-headers.eml',
  'broken-header-only-no-body.eml', // empty body
  'broken-multipart-no-boundary.eml', // malformed MIME
  'broken-missing-final-boundary.eml',
  'broken-mixed-crlf-bare-lf.eml',
  'broken-nul-bytes.eml',
]

/** One side's answer to one FETCH: the tagged result and the item's value, if sent. */
interface Answer {
  command: string
  /** "OK", or "NO [CODE]" / "BAD [CODE]" (the text after the code left out). */
  result: string
  value: Sexp | undefined
  /** The tagged line as sent, for the report. */
  tagged: string
}

/** A logged-in IMAP session on one side, with its own tag counter. */
class Side {
  readonly name: string
  readonly #client: ImapTestClient
  #tag = 0

  private constructor(name: string, client: ImapTestClient) {
    this.name = name
    this.#client = client
  }

  static async open(
    t: TestContext,
    name: string,
    port: number,
    login: { user: string; password: string },
    tls: boolean,
  ): Promise<Side> {
    const client = await ImapTestClient.connect(t, port, { tls })
    for (;;) {
      const greeting = await client.readLine()
      if (/^\* OK Waiting for authentication/i.test(greeting)) continue
      assert.match(greeting, /^\* OK /)
      break
    }
    const side = new Side(name, client)
    const { tagged } = await side.run(`LOGIN "${login.user}" "${login.password}"`)
    assert.match(tagged, /^\S+ OK/, `${name} LOGIN: ${tagged}`)
    return side
  }

  /** One command (literals as non-synchronizing ones, LITERAL+); its untagged and tagged lines. */
  async run(text: string) {
    const tag = `T${++this.#tag}`
    this.#client.write(Buffer.from(`${tag} ${text}\r\n`, 'latin1'))
    return this.#client.response(tag, 15_000).catch((error: Error) => {
      throw new Error(`${this.name}: ${text.slice(0, 80)}: ${error.message}`)
    })
  }

  /** APPENDs the message to INBOX; the tagged line. */
  async append(message: Buffer): Promise<string> {
    const head = `APPEND INBOX {${message.length}+}\r\n`
    return (await this.run(head + message.toString('latin1'))).tagged
  }

  async fetch(seq: number, item: string): Promise<Answer> {
    const command = `FETCH ${seq} (${item})`
    const { untagged, tagged } = await this.run(command)
    const name = item.replace('.PEEK', '')
    let value: Sexp | undefined
    for (const line of untagged) {
      const response = fetchResponse(line)
      if (response?.seq === seq && response.items.has(name)) value = response.items.get(name)
    }
    return { command, result: resultOf(tagged), value, tagged }
  }
}

/** "OK", or the status with its response code: "NO [UNKNOWN-CTE]". */
function resultOf(tagged: string): string {
  const match = /^\S+ (OK|NO|BAD)(?: \[([^\]\s]+)[^\]]*\])?/.exec(tagged)
  if (match === null) return `? ${tagged}`
  return match[1] === 'OK' ? 'OK' : `${match[1]}${match[2] ? ` [${match[2]}]` : ''}`
}

const spelling = (answer: Answer) => (answer.value === undefined ? '' : formatSexp(answer.value))

function same(a: Answer, b: Answer): boolean {
  return a.result === b.result && spelling(a) === spelling(b)
}

/** An answer as one line: the command, the value (cut around `at` when long), the tagged line. */
function show(answer: Answer, at = 0): string {
  const value = answer.value === undefined ? '(no item)' : spelling(answer)
  const text = value.length > 400 ? `…${value.slice(Math.max(0, at - 120), at + 200)}…` : value
  return `${answer.command} → ${text} / ${JSON.stringify(answer.tagged.replace(/^\S+ /, ''))}`
}

function describe(what: string, dovecot: Answer, postern: Answer): string {
  const a = spelling(dovecot)
  const b = spelling(postern)
  let at = 0
  while (at < a.length && a[at] === b[at]) at++
  // RFC 9051 §4.3 and §9: a literal is CHAR8 octets, and CHAR8 excludes NUL; only BINARY's
  // literal8 (RFC 3516 §4.3) may carry one. Dovecot sends NUL as 0x80.
  const nul = b.includes('\\u0000') ? ' (a NUL octet in a literal: RFC 9051 §4.3 forbids it)' : ''
  return `${what}${nul}:\n  dovecot: ${show(dovecot, at)}\n  postern: ${show(postern, at)}`
}

/** The octets Dovecot keeps for an APPENDed message: every bare LF gets its CR. */
const crlfForm = (message: Buffer) =>
  Buffer.from(message.toString('latin1').replace(/(?<!\r)\n/g, '\r\n'), 'latin1')

/**
 * Where Postern's MIME library answers differently from Dovecot on purpose: the reasons are
 * given (and the values pinned) in test/interop/dovecot-mime.test.ts, which compares the library
 * itself with Dovecot. Here the server must send exactly what the library computes for the
 * stored octets, and Dovecot must still answer differently (or the entry goes).
 */
const LIBRARY_DEVIATIONS: Record<string, { items: string[]; why: string }> = {
  'utf8-headers-message-global.eml': {
    items: ['BODY', 'BODYSTRUCTURE'],
    why: 'RFC 9051 §7.5.2: message/global has an envelope and a body like message/rfc822; Dovecot 2.3 shows it as a basic part',
  },
  'broken-content-type-no-subtype.eml': {
    items: ['BODY', 'BODYSTRUCTURE'],
    why: 'RFC 2045 §5.2: an invalid Content-Type is taken as the default text/plain; Dovecot shows "" ""',
  },
  'address-missing-brackets.eml': {
    items: ['ENVELOPE'],
    why: 'Postern recovers every address it can read; Dovecot gives up at the first syntax error',
  },
  'address-obsolete-routes.eml': {
    items: ['ENVELOPE'],
    why: 'RFC 5322 §4.4: an empty member of an obs-addr-list is ignored, not a MISSING_MAILBOX placeholder',
  },
}

/** What the library computes for one of those items of `stored`. */
function libraryAnswer(stored: Buffer, item: string): Sexp {
  const parsed = parseMessage(stored)
  const text =
    item === 'ENVELOPE'
      ? formatEnvelope(readEnvelope(stored, parsed.root))
      : formatBodyStructure(bodyStructure(parsed), item === 'BODYSTRUCTURE')
  const [value] = parseResponse(text)
  return value ?? null
}

/**
 * BINARY.SIZE[1] where Dovecot cannot decode the part and fails the FETCH (NO [SERVERBUG] for
 * base64 that does not decode, NO [PARSE] for two Content-Transfer-Encoding fields), while
 * Postern decodes what can be decoded, as its MIME library does for every other purpose. RFC
 * 3516 §4.2 (RFC 9051 §6.4.5) only requires NO [UNKNOWN-CTE] for an encoding the server does
 * not know, which these are not (base64, 7bit). Postern's answer must then be the size of what
 * BINARY[1] sends (RFC 3516 §4.2: "the size of the section after removing any CTE-encoding").
 */
/**
 * BINARY of a multipart part: no Content-Transfer-Encoding applies at that level (a multipart's
 * is 7bit, 8bit or binary, RFC 2045 §6.4), so Postern sends the part's body as it is, the octets
 * of BODY[1]. Dovecot goes further and decodes the parts inside the multipart. Neither RFC 3516
 * §4.2 nor RFC 9051 §6.4.5 says which; Postern's answer must be BODY[1]'s size (the same as
 * Dovecot's when nothing inside is encoded).
 */
function isMultipartPart(message: Buffer): boolean {
  const first = parseMessage(message).root.children[0]
  return first !== undefined && first.contentType.type === 'multipart'
}

const LENIENT_BINARY = new Set([
  'broken-base64.eml',
  'broken-missing-final-boundary.eml',
  'broken-duplicate-content-type.eml',
])

test('the MIME corpus APPENDed to Dovecot and to Postern: every FETCH item answers the same', {
  // CI installs dovecot-imapd (.ci/run); only a machine without it skips.
  skip: existsSync(DOVECOT_BINARY)
    ? false
    : `"${DOVECOT_BINARY}" is missing: install dovecot-imapd`,
}, async (t) => {
  const files = readdirSync(CORPUS)
    .filter((name) => name.endsWith('.eml'))
    .sort()
  for (const file of REQUIRED) assert.ok(files.includes(file), `the corpus lost ${file}`)
  const messages = files.map((name) => readFileSync(path.join(CORPUS, name)))

  // A FETCH that cannot be served (a base64 part that does not decode, for BINARY) is a NO
  // answer and the session goes on, instead of Dovecot's default of disconnecting at once.
  const dovecotServer = await startDovecot(t, { settings: 'imap_fetch_failure = no-after\n' })
  const posternServer = await startImapServe(t)
  const dovecot = await Side.open(
    t,
    'dovecot',
    dovecotServer.port,
    { user: dovecotServer.user, password: dovecotServer.password },
    false,
  )
  const postern = await Side.open(
    t,
    'postern',
    posternServer.ports.imaps,
    { user: ALICE.address, password: ALICE.password },
    true,
  )

  // The corpus, in order, to both; then, to Postern only, the CRLF form of each message that
  // has bare LFs (see below), so that message n is files[n - 1] on both sides.
  for (const [i, message] of messages.entries()) {
    const answers = [await dovecot.append(message), await postern.append(message)]
    assert.deepEqual(answers.map(resultOf), ['OK', 'OK'], `APPEND ${files[i]}: ${answers}`)
  }
  // Dovecot stores a message with bare LFs with CRLF line ends (it answers BODY[] so, and
  // counts every size so); Postern keeps the octets that were APPENDed (RFC 9051 §6.3.12: the
  // literal is the message) and counts those, as RFC822.SIZE must (RFC 9051 §7.5.2, the number
  // of octets in the message). Such a message is compared twice: as appended, Postern's
  // BODY[] must be the appended octets, RFC822.SIZE their count and ENVELOPE Dovecot's; and
  // its CRLF form, APPENDed to Postern as well, must answer every item as Dovecot does.
  const bareLf = messages.flatMap((message, i) => {
    const crlf = crlfForm(message)
    return crlf.equals(message) ? [] : [{ index: i, crlf }]
  })
  assert.deepEqual(
    bareLf.map(({ index }) => files[index]),
    ['broken-mixed-crlf-bare-lf.eml', 'multipart-bare-lf.eml', 'plain-bare-lf.eml'],
  )
  const crlfSeq = new Map<number, number>()
  for (const { index, crlf } of bareLf) {
    assert.match(await postern.append(crlf), /^\S+ OK/)
    crlfSeq.set(index, messages.length + crlfSeq.size + 1)
  }
  for (const side of [dovecot, postern]) {
    assert.match((await side.run('EXAMINE INBOX')).tagged, /^\S+ OK/)
  }

  const mismatches: string[] = []
  for (const [i, file] of files.entries()) {
    const seq = i + 1
    const dovecotBody = await dovecot.fetch(seq, 'BODY.PEEK[]')
    const crlf = crlfSeq.get(i)
    if (crlf !== undefined) {
      assert.equal(
        stringOf(dovecotBody.value),
        crlfForm(messages[i] ?? Buffer.alloc(0)).toString('latin1'),
      )
      const body = await postern.fetch(seq, 'BODY.PEEK[]')
      if (stringOf(body.value) !== messages[i]?.toString('latin1')) {
        mismatches.push(`${file}: BODY[] is not the appended octets: ${show(body)}`)
      }
      const size = await postern.fetch(seq, 'RFC822.SIZE')
      if (spelling(size) !== String(messages[i]?.length)) {
        mismatches.push(`${file}: RFC822.SIZE is not the appended size: ${show(size)}`)
      }
      const envelopes = [
        await dovecot.fetch(seq, 'ENVELOPE'),
        await postern.fetch(seq, 'ENVELOPE'),
      ] as const
      if (!same(...envelopes)) mismatches.push(describe(`${file} ENVELOPE`, ...envelopes))
    }
    for (const item of ITEMS) {
      const expected = item === 'BODY.PEEK[]' ? dovecotBody : await dovecot.fetch(seq, item)
      const actual = await postern.fetch(crlf ?? seq, item)
      const what = `${file}${crlf === undefined ? '' : ' (its CRLF form)'} ${item}`
      const library = LIBRARY_DEVIATIONS[file]
      if (library?.items.includes(item)) {
        // Postern sends what its library computes (see LIBRARY_DEVIATIONS), not Dovecot's.
        const computed = libraryAnswer(messages[i] ?? Buffer.alloc(0), item)
        if (actual.result !== 'OK' || spelling(actual) !== formatSexp(computed)) {
          mismatches.push(
            `${what}: not what the MIME library computes (${formatSexp(computed)}): ${show(actual)}`,
          )
        }
        if (same(expected, actual))
          mismatches.push(`${what}: now matches Dovecot, remove it from LIBRARY_DEVIATIONS`)
        continue
      }
      if (item === 'BINARY.SIZE[1]' && isMultipartPart(messages[i] ?? Buffer.alloc(0))) {
        const body = stringOf((await postern.fetch(crlf ?? seq, 'BODY.PEEK[1]')).value)
        if (
          actual.result !== 'OK' ||
          body === undefined ||
          spelling(actual) !== String(body.length)
        ) {
          mismatches.push(`${what}: not the size of BODY[1]: ${show(actual)}`)
        }
        continue
      }
      if (item === 'BINARY.SIZE[1]' && LENIENT_BINARY.has(file)) {
        // Dovecot fails the FETCH; Postern decodes leniently (see LENIENT_BINARY).
        const content = await postern.fetch(seq, 'BINARY.PEEK[1]')
        const decoded = stringOf(content.value)
        if (
          actual.result !== 'OK' ||
          decoded === undefined ||
          spelling(actual) !== String(decoded.length)
        ) {
          mismatches.push(`${what}: not the size of BINARY[1]: ${show(actual)}; ${show(content)}`)
        }
        if (expected.result === 'OK')
          mismatches.push(`${what}: Dovecot decodes it now, remove it from LENIENT_BINARY`)
        continue
      }
      if (!same(expected, actual)) mismatches.push(describe(what, expected, actual))
    }
  }
  assert.equal(mismatches.length, 0, `${mismatches.length} mismatches:\n${mismatches.join('\n')}`)
})
