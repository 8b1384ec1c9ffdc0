// Bad input for the IMAP server (issue 11, torture suite): a real `postern serve` is sent random
// lines, mutated commands and grammar-aware commands with broken arguments, with synchronizing,
// LITERAL+ and literal8 literals, nested lists, partial fetches and odd sequence sets, in the
// not-authenticated, authenticated and selected states (over STARTTLS too), for a bounded time.
// Every command must be completed in time (tagged, or untagged BAD when its tag is unusable),
// with NO or BAD for what is malformed or out of place; the process must stay up without
// logging an error, its memory bounded; and a well-behaved client must still log in and read its
// mail after every round.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { literalAtLineEnd, MAX_COMMAND_LINE_OCTETS } from '../../src/imap/proto/index.ts'
import {
  ClosedError,
  FUZZ_USER,
  FuzzClient,
  FuzzFailure,
  type FuzzServer,
  forSeconds,
  fuzzSeconds,
  fuzzTimeoutMs,
  GOOD_USER,
  Journal,
  mutateMany,
  PRINTABLE,
  Rng,
  randomLoopback,
  readImapLine,
  startFuzzServer,
  takeImapLine,
} from './support/fuzz.ts'
import { TORTURE_SEED } from './support/settings.ts'

const ANSWER_MS = 12_000
/** The largest literal the fuzzer sends when the server asks for one it did not mean to send. */
const MAX_FILLER = 64 * 1024

type ImapState = 'not-authenticated' | 'authenticated' | 'selected'

interface Session {
  state: ImapState
  tls: boolean
  next: number
  /** Failed logins on this connection: each one after the first is answered later (throttle). */
  authFailures: number
}

/** A literal inside a command: its octets and how it is announced. */
interface Literal {
  data: Buffer
  mode: 'sync' | 'plus' | 'binary'
}

/** A command as pieces of text (no line ends) and literals; the tag is the first word. */
type Piece = string | Buffer | Literal

interface Step {
  pieces: Piece[]
  expect: 'error' | 'any'
  kind: string
}

interface Stats {
  commands: number
  errors: number
  literals: number
  logins: number
  selects: number
  tls: number
  rounds: number
}

const SEED_MESSAGES = [
  'From: a@remote.test\r\nTo: carol@example.test\r\nSubject: one\r\nMessage-ID: <1@remote.test>\r\n\r\nfirst\r\n',
  [
    'From: b@remote.test',
    'Subject: =?utf-8?b?w6l0w6k=?=',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=C3=A9',
    '--b1',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    'AAECAwQFBgc=',
    '--b1--',
    '',
  ].join('\r\n'),
  'Subject: bare\n\nbare LF\n.\n',
  'Subject: 8bit \xe9\r\nIn-Reply-To: <1@remote.test>\r\n\r\nNUL\0here\r\n',
].map((text) => Buffer.from(text, 'latin1'))

/** The fuzzed account's mailboxes are emptied beyond this before each round. */
const MOST_MESSAGES = 2000

test('IMAP: random, mutated and grammar-aware commands with literals are all completed', {
  timeout: fuzzTimeoutMs(),
}, async (t) => {
  t.diagnostic(`TORTURE_SEED=${TORTURE_SEED}`)
  // Sessions are closed after max_errors refusals (tested on its own); a higher bound lets one
  // login (a password hash) carry a long run of bad commands.
  const server = await startFuzzServer(t, '[imap]\nmax_errors = 500\n')
  await server.deliver(GOOD_USER.address, SEED_MESSAGES)
  const port = server.postern.ports.imap
  const rng = new Rng(TORTURE_SEED ^ 0x1a4a)
  const stats: Stats = {
    commands: 0,
    errors: 0,
    literals: 0,
    logins: 0,
    selects: 0,
    tls: 0,
    rounds: 0,
  }
  const journal = new Journal()
  stats.rounds = await forSeconds(
    fuzzSeconds(),
    async (round) => {
      await server.trim(FUZZ_USER.address, MOST_MESSAGES)
      if (round % 10 === 0) await server.deliver(FUZZ_USER.address, SEED_MESSAGES)
      journal.clear()
      journal.note(`round ${round}`)
      await fuzzRound(rng.fork(), port, journal, stats)
      server.checkHealth(journal, `IMAP round ${round}`)
      await wellBehaved(server, journal, round)
    },
    { journal },
  )
  t.diagnostic(
    `${stats.rounds} rounds, ${stats.commands} commands (${stats.errors} answered NO/BAD), ` +
      `${stats.literals} literals, ${stats.logins} logins, ${stats.selects} selects, ` +
      `${stats.tls} STARTTLS; ${server.finish()}`,
  )
  assert.ok(stats.errors > 0 && stats.selects > 0, 'the fuzzer reached errors and mailboxes')
})

async function fuzzRound(rng: Rng, port: number, journal: Journal, stats: Stats): Promise<void> {
  const client = await FuzzClient.open(port, journal, { localAddress: randomLoopback(rng) })
  try {
    const greeting = await readImapLine(client, 'the greeting')
    if (!greeting.startsWith('* OK ')) throw new FuzzFailure('greeting is not * OK', journal)
    const session: Session = { state: 'not-authenticated', tls: false, next: 0, authFailures: 0 }
    // Some rounds run over TLS, so what follows STARTTLS is fuzzed too.
    if (rng.chance(0.1)) {
      const step: Step = { pieces: [tag(session), ' STARTTLS'], expect: 'any', kind: 'valid' }
      if ((await runStep(rng, client, step, session, stats)) === 'closed') return
    }
    // Most rounds log in first, so the later states get their share.
    if (rng.chance(0.8)) {
      const login = await runStep(rng, client, loginStep(rng, session), session, stats)
      if (login === 'closed') return
      if (session.state === 'authenticated' && rng.chance(0.7)) {
        const mailbox = rng.pick(['INBOX', 'INBOX', 'fz/a'])
        const step = { pieces: [tag(session), ` SELECT ${mailbox}`], expect: 'any', kind: 'valid' }
        if ((await runStep(rng, client, step as Step, session, stats)) === 'closed') return
      }
    }
    // Rounds are long: each begins and ends with a login (a password hash) of its own.
    const steps = rng.range(10, 150, true)
    for (let i = 0; i < steps; i += 1) {
      if ((await runStep(rng, client, nextStep(rng, session), session, stats)) === 'closed') return
    }
    const logout = tag(session)
    client.write(`${logout} LOGOUT\r\n`)
    const done = await completion(rng, client, logout, 'LOGOUT')
    if (!done.startsWith(`${logout} OK`) && !done.startsWith('* BYE')) {
      throw new FuzzFailure(`LOGOUT answered ${JSON.stringify(done)}: out of step`, journal)
    }
    await client.closed(ANSWER_MS)
  } catch (error) {
    if (error instanceof ClosedError) throw new FuzzFailure(error.message, journal)
    throw error
  } finally {
    client.close()
  }
}

function tag(session: Session): string {
  session.next += 1
  return `f${session.next}`
}

/**
 * Sends one command line by line: after each line that announces a literal (as the server
 * reads it: src/imap/proto literalAtLineEnd), the literal, once "+" came for a synchronizing
 * one. Then reads up to the command's completion and checks it.
 */
async function runStep(
  rng: Rng,
  client: FuzzClient,
  step: Step,
  session: Session,
  stats: Stats,
): Promise<'open' | 'closed'> {
  stats.commands += 1
  const lines = framed(step.pieces)
  const first = lines[0]?.text ?? Buffer.alloc(0)
  const tagWord = first.toString('latin1').split(' ')[0] ?? ''
  const what = `${step.kind} command ${JSON.stringify(first.toString('latin1').slice(0, 200))}`
  let final: string | null = null
  for (const [index, line] of lines.entries()) {
    client.write(Buffer.concat([line.text, Buffer.from('\r\n')]))
    const announced =
      line.text.length < MAX_COMMAND_LINE_OCTETS - 2 ? literalAtLineEnd(line.text) : null
    if (announced === null || announced === 'malformed') {
      if (index < lines.length - 1) throw new Error(`a literal went unannounced in ${what}`)
      break
    }
    stats.literals += 1
    // The octets the server will read: ours, or filler when a mutation announced one.
    const data = line.literal ?? Buffer.alloc(announced.size, 'x')
    if (data.length !== announced.size) throw new Error(`literal size mismatch in ${what}`)
    if (announced.size > MAX_FILLER) {
      // A literal this large was not meant; a client may give up on the command this way.
      client.close()
      return 'closed'
    }
    if (!announced.isNonSync) {
      const go = await client.take(takeImapLine, ANSWER_MS, `the literal of ${what}`)
      if (!go.startsWith('+')) {
        // Refused before it was sent (RFC 9051 §7.5): that ends the command.
        final = go
        break
      }
    }
    client.write(data)
    // The rest of the command follows on the next line (an empty one ends it).
    if (index === lines.length - 1) client.write('\r\n')
  }
  final ??= await completion(rng, client, tagWord, what)
  const status = final.startsWith('* ') ? `* ${final.split(' ')[1]}` : final.split(' ')[1]
  const isError = status === 'NO' || status === 'BAD' || status === '* BAD' || status === '* BYE'
  if (step.expect === 'error' && !isError) {
    throw new FuzzFailure(
      `${what} is malformed or out of place but was answered ${final}`,
      client.journal,
    )
  }
  if (isError) stats.errors += 1
  if (status === '* BYE') {
    await client.closed(ANSWER_MS)
    return 'closed'
  }
  if (final.includes(' [AUTHENTICATIONFAILED] ')) {
    // The throttle doubles the wait for each failure from this address; a new connection
    // comes from a new one, so the fuzzing goes on at full speed.
    session.authFailures += 1
    if (session.authFailures >= 2) {
      client.close()
      return 'closed'
    }
  }
  return follow(client, first.toString('latin1'), status === 'OK', status === 'NO', session, stats)
}

/** The command's completion: tagged OK/NO/BAD, or untagged BAD (no usable tag) or BYE. */
async function completion(
  rng: Rng,
  client: FuzzClient,
  tagWord: string,
  what: string,
): Promise<string> {
  let continuations = 0
  for (;;) {
    const line = await readImapLine(client, what)
    if (tagWord !== '' && line.startsWith(`${tagWord} `)) {
      const status = line.slice(tagWord.length + 1, tagWord.length + 4)
      if (status === 'OK ' || status === 'NO ' || status === 'BAD') return line
    }
    // LOGOUT's BYE comes before its tagged OK; any other BYE ends the session at once.
    if (line.startsWith('* BYE') && / logging out$/.test(line)) continue
    if (line.startsWith('* BAD') || line.startsWith('* BYE')) return line
    if (line.startsWith('+')) {
      // IDLE or a SASL exchange: DONE, a cancel, junk; after a few rounds always a cancel.
      continuations += 1
      const answer =
        continuations > 4
          ? '*'
          : rng.pick([
              'DONE',
              '*',
              '',
              'AAAA',
              '!!!',
              'done',
              rng.text(rng.range(0, 30), PRINTABLE),
            ])
      client.write(`${answer}\r\n`)
      continue
    }
    if (!line.startsWith('* ')) {
      throw new FuzzFailure(
        `a response that is neither tagged nor untagged: ${JSON.stringify(line.slice(0, 200))}`,
        client.journal,
      )
    }
  }
}

/** Follows the state from what the command was and how it ended. */
async function follow(
  client: FuzzClient,
  line: string,
  ok: boolean,
  no: boolean,
  session: Session,
  stats: Stats,
): Promise<'open' | 'closed'> {
  const name = /^\S+ (?:UID )?([A-Za-z]+)/i.exec(line)?.[1]?.toUpperCase() ?? ''
  switch (name) {
    case 'LOGOUT':
      if (ok) {
        await client.closed(ANSWER_MS)
        return 'closed'
      }
      break
    case 'LOGIN':
    case 'AUTHENTICATE':
      if (ok) {
        session.state = 'authenticated'
        stats.logins += 1
      }
      break
    case 'SELECT':
    case 'EXAMINE':
      if (ok) {
        session.state = 'selected'
        stats.selects += 1
      } else if (no && session.state === 'selected') session.state = 'authenticated'
      break
    case 'CLOSE':
    case 'UNSELECT':
      if (ok) session.state = 'authenticated'
      break
    case 'STARTTLS':
      if (ok) {
        await client.tls()
        session.tls = true
        stats.tls += 1
      }
      break
    case 'COMPRESS':
      // The rest would be deflated; the round ends here.
      if (ok) return 'closed'
      break
  }
  return 'open'
}

/** The command as lines, each with the literal that follows it (announced at its end). */
function framed(pieces: readonly Piece[]): Array<{ text: Buffer; literal: Buffer | null }> {
  const lines: Array<{ text: Buffer; literal: Buffer | null }> = []
  let text: Buffer[] = []
  for (const piece of pieces) {
    if (typeof piece === 'string' || Buffer.isBuffer(piece)) {
      text.push(typeof piece === 'string' ? Buffer.from(piece, 'latin1') : piece)
      continue
    }
    const size = piece.data.length
    const announcement =
      piece.mode === 'sync' ? `{${size}}` : piece.mode === 'plus' ? `{${size}+}` : `~{${size}}`
    text.push(Buffer.from(announcement))
    lines.push({ text: Buffer.concat(text), literal: piece.data })
    text = []
  }
  lines.push({ text: Buffer.concat(text), literal: null })
  return lines
}

// --- the generator --------------------------------------------------------------------------

const MAILBOXES = ['INBOX', 'fz/a', 'fz/b', 'fz/a/deep', 'Work', '"with space"', 'Inbox']
const SETS = ['1', '*', '1:*', '2,4:6', '1:2', '$', '3:1', '1,2,3', '*:1']
const FETCH_ITEMS = [
  'FLAGS',
  'UID',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'RFC822.SIZE',
  'INTERNALDATE',
  'BODY.PEEK[]',
  'BODY[HEADER]',
  'BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]',
  'BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)]',
  'BODY.PEEK[TEXT]<0.10>',
  'BODY.PEEK[1]',
  'BODY.PEEK[1.MIME]',
  'BODY.PEEK[2.1]<5.100>',
  'BINARY.PEEK[1]',
  'BINARY.PEEK[2]<0.3>',
  'BINARY.SIZE[1]',
  'RFC822.HEADER',
  'MODSEQ',
  'FAST',
  'ALL',
  'FULL',
]
const SEARCH_KEYS = [
  'ALL',
  'SEEN',
  'UNSEEN',
  'SUBJECT one',
  'BODY "caf\u00e9"',
  'TEXT NUL',
  'FROM remote',
  'HEADER Message-ID 1@remote',
  'SINCE 1-Jan-2020',
  'BEFORE 1-Jan-2100',
  'LARGER 10',
  'SMALLER 100000',
  'UID 1:*',
  'OR SEEN FLAGGED',
  'NOT DELETED',
  '(SEEN UNSEEN)',
  'KEYWORD fz',
  'MODSEQ 1',
  'YOUNGER 100000',
  '2:3',
]

/** A short message for APPEND, sometimes with NUL (then sent as literal8). */
function appendMessage(rng: Rng): Literal {
  const binary = rng.chance(0.15)
  const body = binary ? 'with\0NUL\r\n' : `${rng.text(rng.range(0, 200, true))}\r\n`
  const data = Buffer.from(`Subject: appended ${rng.int(1e6)}\r\n\r\n${body}`, 'latin1')
  return { data, mode: binary ? 'binary' : rng.pick(['sync', 'plus']) }
}

/** A string argument: quoted, or a synchronizing or LITERAL+ literal. */
function astring(rng: Rng, value: string): Piece[] {
  const roll = rng.next()
  if (roll < 0.6) return [`"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`]
  return [{ data: Buffer.from(value, 'utf8'), mode: roll < 0.8 ? 'sync' : 'plus' }]
}

function loginStep(rng: Rng, session: Session): Step {
  const t = tag(session)
  if (rng.chance(0.7)) {
    return {
      pieces: [
        t,
        ' LOGIN ',
        ...astring(rng, FUZZ_USER.address),
        ' ',
        ...astring(rng, FUZZ_USER.password),
      ],
      expect: 'any',
      kind: 'valid',
    }
  }
  const plain = Buffer.from(`\0${FUZZ_USER.address}\0${FUZZ_USER.password}`).toString('base64')
  return { pieces: [t, ` AUTHENTICATE PLAIN ${plain}`], expect: 'any', kind: 'valid' }
}

/** A valid command for the state. */
function validCommand(rng: Rng, session: Session): Piece[] {
  const t = tag(session)
  const mailbox = () => rng.pick(MAILBOXES)
  const set = () => rng.pick(SETS)
  const common: Array<() => Piece[]> = [
    () => [t, ' NOOP'],
    () => [t, ' CAPABILITY'],
    () => [t, ' ID ("name" "fuzz" "version" NIL)'],
  ]
  if (session.state === 'not-authenticated') {
    return rng.pick([
      ...common,
      () => loginStep(rng, session).pieces.map((piece, i) => (i === 0 ? t : piece)),
      () => [t, ' AUTHENTICATE PLAIN'],
      () => [t, ' AUTHENTICATE SCRAM-SHA-256'],
      ...(rng.chance(0.05) ? [() => [t, ' STARTTLS']] : []),
    ])()
  }
  const authenticated: Array<() => Piece[]> = [
    ...common,
    () => [t, ` SELECT ${mailbox()}${rng.chance(0.2) ? ' (CONDSTORE)' : ''}`],
    () => [t, ` EXAMINE ${mailbox()}`],
    () => [t, ` CREATE ${mailbox()}`],
    () => [t, ` DELETE ${rng.pick(['fz/b', 'fz/a/deep', 'Work', 'fz/new'])}`],
    () => [t, ` RENAME ${rng.pick(['fz/b', 'Work'])} ${rng.pick(['fz/c', 'Work2', 'fz/b'])}`],
    () => [t, ` LIST "" ${rng.pick(['*', '%', 'fz/%', '"INBOX"', '""'])}`],
    () => [t, ' LIST (SUBSCRIBED RECURSIVEMATCH) "" "*" RETURN (CHILDREN STATUS (MESSAGES))'],
    () => [t, ' LSUB "" "*"'],
    () => [t, ` STATUS ${mailbox()} (MESSAGES UIDNEXT UNSEEN SIZE HIGHESTMODSEQ)`],
    () => [t, ` SUBSCRIBE ${mailbox()}`],
    () => [t, ` APPEND ${mailbox()} (\\Seen) `, appendMessage(rng)],
    () => [t, ' APPEND INBOX ', appendMessage(rng), ' ', appendMessage(rng)],
    () => [t, ` ENABLE ${rng.pick(['UTF8=ACCEPT', 'QRESYNC', 'CONDSTORE', 'IMAP4rev2'])}`],
    () => [t, ' NAMESPACE'],
    () => [t, ' GETQUOTAROOT INBOX'],
    () => [t, ' GETQUOTA ""'],
    () => [t, ' IDLE'],
  ]
  if (session.state === 'authenticated') return rng.pick(authenticated)()
  const items = () => {
    const count = rng.range(1, 4, true)
    const chosen = Array.from({ length: count }, () => rng.pick(FETCH_ITEMS))
    return count === 1 && rng.chance(0.5) ? (chosen[0] as string) : `(${chosen.join(' ')})`
  }
  return rng.pick<() => Piece[]>([
    ...authenticated,
    () => [t, ` FETCH ${set()} ${items()}`],
    () => [t, ` UID FETCH ${set()} ${items()}`],
    () => [t, ` UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)`],
    () => [t, ` STORE ${set()} ${rng.pick(['+FLAGS', '-FLAGS', 'FLAGS.SILENT'])} (\\Seen fz)`],
    () => [t, ` SEARCH ${rng.pick(SEARCH_KEYS)}`],
    () => [
      t,
      ` SEARCH RETURN (${rng.pick(['MIN MAX', 'ALL', 'SAVE', 'COUNT'])}) ${rng.pick(SEARCH_KEYS)}`,
    ],
    () => [
      t,
      ' SEARCH CHARSET UTF-8 SUBJECT ',
      { data: Buffer.from('\u00e9t\u00e9'), mode: 'sync' },
    ],
    () => [
      t,
      ` SORT (${rng.pick(['DATE', 'REVERSE SUBJECT', 'FROM SIZE', 'DISPLAYFROM'])}) UTF-8 ALL`,
    ],
    () => [t, ` THREAD ${rng.pick(['REFERENCES', 'ORDEREDSUBJECT'])} UTF-8 ALL`],
    () => [t, ` COPY ${set()} ${mailbox()}`],
    () => [t, ` MOVE ${set()} ${mailbox()}`],
    () => [t, ' EXPUNGE'],
    () => [t, ` UID EXPUNGE ${set()}`],
    () => [t, ' CHECK'],
    () => [t, ' CLOSE'],
    () => [t, ' UNSELECT'],
  ])()
}

/** Commands that are malformed in any state (a NO or BAD is due). */
function brokenCommand(rng: Rng, session: Session): Piece[] {
  const t = tag(session)
  const deep = (n: number) => `${'('.repeat(n)}FLAGS${')'.repeat(n)}`
  return rng.pick<() => Piece[]>([
    () => [
      t,
      ` FETCH ${rng.pick(['0', '1:', ':1', '*:', '1,,2', 'a', '4294967296', '1:4294967296', ''])} FLAGS`,
    ],
    () => [
      t,
      ` FETCH 1 ${rng.pick([
        '(FLAGS',
        'FLAGS)',
        '()',
        'BODY[1.0]',
        'BODY[0]',
        'BODY[HEADER.FIELDS]',
        'BODY[HEADER.FIELDS ()]',
        'BODY[]<>',
        'BODY[]<1.>',
        'BODY[]<0.0.0>',
        'BODY[]<-1>',
        'BODY[1.MIME.TEXT]',
        'BODY[TEXT',
        'RFC822.FOO',
        'BINARY[1.TEXT]',
        'BINARY[HEADER]',
        deep(40),
        '',
      ])}`,
    ],
    () => [
      t,
      ` STORE 1 ${rng.pick(['FLAGS', 'XFLAGS (\\Seen)', 'FLAGS (\\Seen', '+FLAGS.SILENTX (a)', '+FLAGS (\\Bogus)', 'FLAGS (a]b)'])}`,
    ],
    () => [
      t,
      ` SEARCH ${rng.pick([
        '',
        '(',
        'OR 1',
        'SINCE 32-Jan-2020',
        'SINCE 1-Foo-2020',
        'LARGER x',
        'UID 0',
        'CHARSET NOPE ALL',
        'NOT',
        'HEADER Subject',
        'RETURN (BOGUS) ALL',
        'ALL)',
        `${'NOT '.repeat(1100)}ALL`,
      ])}`,
    ],
    () => [
      t,
      ` ${rng.pick(['COPY 1', 'COPY 0 INBOX', 'MOVE 1 "unterminated', 'COPY 1 NoSuchMailbox-x'])}`,
    ],
    () => [
      t,
      ` ${rng.pick(['SELECT', 'EXAMINE'])} ${rng.pick(['', '"unterminated', '"a\\qb"', '""', '"a//b"', '"../x"', '"x%"', '"\xff"', 'INBOX (BOGUS)'])}`,
    ],
    () => [
      t,
      ` ${rng.pick([
        'CREATE ""',
        'CREATE "a//b"',
        'CREATE "../x"',
        'CREATE "x*"',
        'CREATE',
        'RENAME INBOX',
        'DELETE INBOX',
        'DELETE',
        'STATUS INBOX ()',
        'STATUS INBOX (BOGUS)',
        'STATUS INBOX',
        'LIST',
        'LIST ""',
        'LIST (BOGUS) "" "*"',
        'GETQUOTAROOT',
        'ENABLE',
        'ID (',
        'ID ("a")',
        'APPEND INBOX',
        'APPEND INBOX (\\Seen',
        'IDLE now',
        'UID FETCH 1:* (FLAGS) (CHANGEDSINCE x)',
        'NOOP extra',
        'LOGOUT now',
      ])}`,
    ],
    () => [
      t,
      ` ${rng.pick(['LOGIN', 'LOGIN a', 'LOGIN a b c', 'LOGIN {99999999999999999}', 'LOGIN {70000}'])}`,
    ],
    () => [
      t,
      ` ${rng.pick(['FROBNICATE', 'UID FROB 1', 'UID', 'X-NOPE 1', '\u017fELECT INBOX', 'SEL\u0131ECT INBOX'])}`,
    ],
    () => [rng.pick(['* NOOP', '+ NOOP', 'a(b NOOP', '', ' NOOP', 'a+b NOOP', '"q" NOOP'])],
    () => [t, ` NOOP ${'x'.repeat(MAX_COMMAND_LINE_OCTETS + 10)}`],
  ])()
}

/** A well-formed command that is out of place in the session's state, or null. */
function outOfPlace(rng: Rng, session: Session): Piece[] | null {
  const t = tag(session)
  switch (session.state) {
    case 'not-authenticated':
      return [
        t,
        ` ${rng.pick(['SELECT INBOX', 'FETCH 1 FLAGS', 'CREATE x', 'LIST "" "*"', 'IDLE', 'ENABLE UTF8=ACCEPT'])}`,
      ]
    case 'authenticated':
      return [
        t,
        ` ${rng.pick(['FETCH 1 FLAGS', 'STORE 1 +FLAGS (\\Seen)', 'SEARCH ALL', 'EXPUNGE', 'CLOSE', 'COPY 1 INBOX', 'LOGIN a b', 'STARTTLS', 'AUTHENTICATE PLAIN'])}`,
      ]
    case 'selected':
      return [t, ` ${rng.pick(['LOGIN a b', 'AUTHENTICATE PLAIN', 'STARTTLS'])}`]
  }
}

function nextStep(rng: Rng, session: Session): Step {
  const roll = rng.next()
  if (roll < 0.4) return { pieces: validCommand(rng, session), expect: 'any', kind: 'valid' }
  if (roll < 0.48) {
    const pieces = outOfPlace(rng, session)
    if (pieces !== null) return { pieces, expect: 'error', kind: 'out-of-place' }
  }
  if (roll < 0.65) return { pieces: brokenCommand(rng, session), expect: 'error', kind: 'broken' }
  if (roll < 0.78) {
    // A random line after a valid tag: unknown as a command, so BAD (or an unknown verb's BAD).
    const t = tag(session)
    const text = withoutLineEnds(
      rng.chance(0.5)
        ? Buffer.from(rng.text(rng.range(0, 80, true), PRINTABLE), 'latin1')
        : rng.bytes(rng.range(0, 80, true)),
    )
    const pieces: Piece[] = [rng.chance(0.8) ? `${t} ` : '', text]
    return { pieces, expect: 'any', kind: 'random' }
  }
  // A valid command, its text pieces mutated (literals stay announced and whole).
  const pieces = validCommand(rng, session).map((piece, index): Piece => {
    if (typeof piece !== 'string' || (index === 0 && rng.chance(0.8))) return piece
    if (!rng.chance(0.6)) return piece
    return withoutLineEnds(mutateMany(rng, Buffer.from(piece, 'latin1'), rng.range(1, 3, true)))
  })
  return { pieces, expect: 'any', kind: 'mutated' }
}

/** Text pieces have no line ends of their own: CR and LF inside become spaces. */
function withoutLineEnds(text: Buffer): Buffer {
  const out = Buffer.from(text)
  for (let i = 0; i < out.length; i += 1) if (out[i] === 0x0a || out[i] === 0x0d) out[i] = 0x20
  return out
}

// --- the well-behaved client ----------------------------------------------------------------

async function wellBehaved(server: FuzzServer, journal: Journal, round: number): Promise<void> {
  journal.note(`well-behaved session after round ${round}`)
  const client = await FuzzClient.open(server.postern.ports.imap, journal)
  try {
    const expectOk = async (tagWord: string, command: string) => {
      client.write(`${tagWord} ${command}\r\n`)
      const untagged: string[] = []
      for (;;) {
        const line = await readImapLine(client, command)
        if (line.startsWith(`${tagWord} `)) {
          if (!line.startsWith(`${tagWord} OK`)) {
            throw new FuzzFailure(`well-behaved ${command}: ${line}`, journal)
          }
          return untagged
        }
        untagged.push(line)
      }
    }
    await readImapLine(client, 'the greeting')
    await expectOk('g1', `LOGIN "${GOOD_USER.address}" "${GOOD_USER.password}"`)
    await expectOk('g2', 'SELECT INBOX')
    const fetched = await expectOk('g3', 'FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    if (!fetched.some((line) => line.includes('Subject: one'))) {
      throw new FuzzFailure('well-behaved FETCH did not return the message', journal)
    }
    await expectOk('g4', 'LOGOUT')
  } finally {
    client.close()
  }
}
