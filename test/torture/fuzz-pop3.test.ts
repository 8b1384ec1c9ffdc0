// Bad input for the POP3 server (issue 11, torture suite): a real `postern serve` is sent random
// lines, mutated lines of valid sessions and grammar-aware commands with broken arguments, in
// the AUTHORIZATION state (before and after USER, over STLS too) and the TRANSACTION state of a
// maildrop with messages, for a bounded time. Every command must get exactly one well-formed
// response in time (multi-line where RFC 1939 says so), -ERR for what is malformed or out of
// place; the process must stay up without logging an error, its memory bounded; and a
// well-behaved client must still log in and read its mail after every round.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { crlfSize } from '../../src/mime/index.ts'
import {
  MAX_AUTH_LINE_OCTETS,
  MAX_COMMAND_LINE_OCTETS,
  MAX_RESPONSE_LINE_OCTETS,
  POP3_VERBS,
  type Pop3Command,
  parseCommand,
} from '../../src/pop3/proto/index.ts'
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
  hasControl,
  Journal,
  mutateMany,
  PRINTABLE,
  Rng,
  randomLoopback,
  startFuzzServer,
} from './support/fuzz.ts'
import { TORTURE_SEED } from './support/settings.ts'

const ANSWER_MS = 12_000
const VERBS: ReadonlySet<string> = new Set(POP3_VERBS)

interface Response {
  isOk: boolean
  status: string
  lines: string[]
}

interface State {
  /** USER was accepted and PASS not yet sent. */
  user: boolean
  transaction: boolean
  tls: boolean
  /** Failed logins on this connection: each one after the first is answered later (throttle). */
  authFailures: number
}

interface Step {
  line: Buffer
  expect: 'error' | 'any'
  kind: string
}

interface Stats {
  commands: number
  errors: number
  logins: number
  retrieved: number
  tls: number
  rounds: number
}

/** Messages for carol's maildrop: dots, bare line ends, long lines, 8-bit, NUL, no final CRLF. */
const SEED_MESSAGES = [
  'Subject: one\r\n\r\nfirst\r\n',
  'Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\n\r\n.\r\nend',
  'Subject: bare\n\nbare LF\nand bare CR\rend\n.\n',
  `Subject: long\r\n\r\n${'x'.repeat(3000)}\r\n`,
  'Subject: 8bit \xe9\xff\r\n\r\nNUL\0here\r\n',
  'no header at all',
].map((text) => Buffer.from(text, 'latin1'))

test('POP3: random, mutated and grammar-aware commands in both states are all answered', {
  timeout: fuzzTimeoutMs(),
}, async (t) => {
  t.diagnostic(`TORTURE_SEED=${TORTURE_SEED}`)
  // Sessions are closed after max_errors refusals (tested on its own); a higher bound lets one
  // login (a password hash) carry a long run of bad commands.
  const server = await startFuzzServer(t, '[pop3]\nmax_errors = 500\n')
  await server.deliver(GOOD_USER.address, SEED_MESSAGES)
  const port = server.postern.ports.pop3
  const rng = new Rng(TORTURE_SEED ^ 0x9093)
  const stats: Stats = { commands: 0, errors: 0, logins: 0, retrieved: 0, tls: 0, rounds: 0 }
  const journal = new Journal()
  stats.rounds = await forSeconds(
    fuzzSeconds(),
    async (round) => {
      // DELE and QUIT empty the maildrop; it is filled again now and then.
      if (round % 10 === 0) await server.deliver(FUZZ_USER.address, SEED_MESSAGES)
      journal.clear()
      journal.note(`round ${round}`)
      await fuzzRound(rng.fork(), port, journal, stats)
      server.checkHealth(journal, `POP3 round ${round}`)
      await wellBehaved(server, journal, round)
    },
    { journal },
  )
  t.diagnostic(
    `${stats.rounds} rounds, ${stats.commands} commands (${stats.errors} answered -ERR), ` +
      `${stats.logins} logins, ${stats.retrieved} messages retrieved, ${stats.tls} STLS; ` +
      server.finish(),
  )
  assert.ok(stats.errors > 0 && stats.logins > 0, 'the fuzzer reached errors and logins')
})

async function fuzzRound(rng: Rng, port: number, journal: Journal, stats: Stats): Promise<void> {
  const client = await FuzzClient.open(port, journal, { localAddress: randomLoopback(rng) })
  try {
    const greeting = await readResponse(client, 'the greeting', false)
    if (!greeting.isOk) throw new FuzzFailure('greeting is not +OK', journal)
    const state: State = { user: false, transaction: false, tls: false, authFailures: 0 }
    // Rounds are long: most log in (a password hash) and so does the well-behaved session.
    const steps = rng.range(10, 150, true)
    for (let i = 0; i < steps; i += 1) {
      if ((await runStep(rng, client, nextStep(rng, state), state, stats)) === 'closed') return
    }
    client.write('QUIT\r\n')
    const bye = await readResponse(client, 'QUIT', false)
    // A QUIT that is not answered +OK means responses and commands no longer pair up (or the
    // session was already being closed for too many errors).
    if (!bye.isOk && !/Too many/.test(bye.status)) {
      throw new FuzzFailure(`QUIT answered ${JSON.stringify(bye.status)}`, journal)
    }
    await client.closed(ANSWER_MS)
    if (client.unread !== '') {
      throw new FuzzFailure(
        `more after the last response: ${JSON.stringify(client.unread)}`,
        journal,
      )
    }
  } catch (error) {
    if (error instanceof ClosedError) throw new FuzzFailure(error.message, journal)
    throw error
  } finally {
    client.close()
  }
}

async function runStep(
  rng: Rng,
  client: FuzzClient,
  step: Step,
  state: State,
  stats: Stats,
): Promise<'open' | 'closed'> {
  stats.commands += 1
  const command = serverParse(step.line)
  const what = `${step.kind} command ${JSON.stringify(step.line.toString('latin1').slice(0, 200))}`
  client.write(Buffer.concat([step.line, Buffer.from('\r\n')]))
  let response = await readResponse(client, what, isMultiline(command, state))
  while (response.status.startsWith('+ ') || response.status === '+') {
    // A SASL challenge: answered with junk, a cancel, or an empty line.
    client.write(`${rng.pick(['*', '', 'AAAA', '!!!', rng.text(rng.range(0, 40), PRINTABLE)])}\r\n`)
    response = await readResponse(client, `the SASL exchange of ${what}`, false)
  }
  if (step.expect === 'error' && response.isOk) {
    throw new FuzzFailure(
      `${what} is malformed or out of place but was answered +OK`,
      client.journal,
    )
  }
  if (!response.isOk) stats.errors += 1
  if (/Too many (errors|commands)/.test(response.status)) {
    await client.closed(ANSWER_MS)
    return 'closed'
  }
  if (response.status.startsWith('-ERR [AUTH] ')) {
    // The throttle doubles the wait for each failure from this address; a new connection
    // comes from a new one, so the fuzzing goes on at full speed.
    state.authFailures += 1
    if (state.authFailures >= 2) {
      client.close()
      return 'closed'
    }
  }
  if (command === null) return 'open'
  switch (command.verb) {
    case 'QUIT':
      await client.closed(ANSWER_MS)
      return 'closed'
    case 'STLS':
      if (response.isOk) {
        await client.tls()
        stats.tls += 1
        Object.assign(state, { user: false, tls: true })
      }
      return 'open'
    case 'USER':
      state.user = response.isOk
      return 'open'
    case 'PASS':
    case 'AUTH':
    case 'APOP':
      state.user = false
      if (response.isOk && (command.verb !== 'AUTH' || command.args.length > 0)) {
        state.transaction = true
        stats.logins += 1
      }
      return 'open'
    case 'RETR':
    case 'TOP':
      if (response.isOk) stats.retrieved += 1
      return 'open'
    default:
      return 'open'
  }
}

/** How the server reads the line: a command, or null for one it answers -ERR unparsed. */
function serverParse(line: Buffer): Pop3Command | null {
  if (line.length > MAX_AUTH_LINE_OCTETS - 2) return null
  const isAuth = /^AUTH /i.test(line.toString('latin1', 0, 5))
  if (line.length > MAX_COMMAND_LINE_OCTETS - 2 && !isAuth) return null
  const parsed = parseCommand(line)
  return parsed.kind === 'command' ? parsed.command : null
}

/** RFC 1939 and RFC 2449: which successful responses are multi-line. */
function isMultiline(command: Pop3Command | null, state: State): boolean {
  if (command === null) return false
  switch (command.verb) {
    case 'CAPA':
      return true
    case 'AUTH':
      return command.args.length === 0 && !state.transaction
    case 'LIST':
    case 'UIDL':
      return command.args.length === 0 && state.transaction
    case 'RETR':
    case 'TOP':
      return state.transaction
    default:
      return false
  }
}

function takeResponse(multiline: boolean) {
  return (buffer: string): { value: Response; length: number } | null => {
    const first = buffer.indexOf('\r\n')
    if (first < 0) return null
    const status = buffer.slice(0, first)
    const isOk = status.startsWith('+OK')
    if (!multiline || !isOk) return { value: { isOk, status, lines: [] }, length: first + 2 }
    const lines: string[] = []
    let offset = first + 2
    for (;;) {
      const end = buffer.indexOf('\r\n', offset)
      if (end < 0) return null
      const line = buffer.slice(offset, end)
      offset = end + 2
      if (line === '.') return { value: { isOk, status, lines }, length: offset }
      lines.push(line)
    }
  }
}

/** The next response, its status line checked: +OK, -ERR or "+ ", one line of 512 octets. */
async function readResponse(
  client: FuzzClient,
  what: string,
  multiline: boolean,
): Promise<Response> {
  const response = await client.take(takeResponse(multiline), ANSWER_MS, what)
  const { status } = response
  if (!/^(\+OK|-ERR)( |$)/.test(status) && !/^\+( |$)/.test(status)) {
    throw new FuzzFailure(
      `malformed status line for ${what}: ${JSON.stringify(status)}`,
      client.journal,
    )
  }
  if (status.length + 2 > MAX_RESPONSE_LINE_OCTETS || hasControl(status)) {
    throw new FuzzFailure(`status line for ${what} is too long or has controls`, client.journal)
  }
  return response
}

// --- the generator --------------------------------------------------------------------------

const VALID_LINES = [
  `USER ${FUZZ_USER.address}`,
  `PASS ${FUZZ_USER.password}`,
  'USER nobody@example.test',
  'PASS wrong password',
  `AUTH PLAIN ${Buffer.from(`\0${FUZZ_USER.address}\0${FUZZ_USER.password}`).toString('base64')}`,
  'AUTH LOGIN',
  'AUTH',
  'CAPA',
  'STAT',
  'LIST',
  'LIST 1',
  'UIDL',
  'UIDL 2',
  'RETR 1',
  'TOP 1 0',
  'TOP 2 3',
  'DELE 1',
  'RSET',
  'NOOP',
  'APOP carol@example.test c4c9334bac560ecc979e58001b3e22fb',
]

function login(rng: Rng): string[] {
  return rng.chance(0.7)
    ? [`USER ${FUZZ_USER.address}`, `PASS ${FUZZ_USER.password}`]
    : [
        `AUTH PLAIN ${Buffer.from(`\0${FUZZ_USER.address}\0${FUZZ_USER.password}`).toString('base64')}`,
      ]
}

/** Commands that are malformed whatever the state. */
function brokenCommand(rng: Rng): string {
  return rng.pick([
    () => rng.pick(['LIST x', 'LIST 0', 'LIST 1 2', 'LIST -1', 'UIDL 0', 'UIDL a b']),
    () => rng.pick(['RETR', 'RETR -1', 'RETR 0', 'RETR 99999999999999999', 'RETR 1 2', 'RETR x']),
    () => rng.pick(['TOP', 'TOP 1', 'TOP 1 -1', 'TOP x 1', 'TOP 1 1 1', 'TOP 0 1']),
    () => rng.pick(['DELE', 'DELE 0', 'DELE 1 2', 'DELE x']),
    () => rng.pick(['USER', 'USER a b', 'APOP', 'APOP user', 'AUTH NO-SUCH-MECH']),
    () => rng.pick(['AUTH PLAIN !!!', 'AUTH PLAIN AAA', 'AUTH PLAIN a b c']),
    // Letters that upper-case into ASCII ones are not the verbs they look like (RFC 2449 §3).
    () => rng.pick(['\u017fTAT', 'L\u0131ST', 'U\u017fER carol@example.test', 'NOOP\u200b']),
    () => `${rng.pick(['STAT', 'NOOP', 'LIST'])}${rng.pick(['\0', '\x7f', '\u00e9'])}`,
    () => `NOOP ${'x'.repeat(rng.range(MAX_COMMAND_LINE_OCTETS, 4 * MAX_COMMAND_LINE_OCTETS))}`,
  ])()
}

/** A well-formed command in the wrong state, or null. */
function outOfPlace(rng: Rng, state: State): string | null {
  if (state.transaction) {
    return rng.pick([`USER ${FUZZ_USER.address}`, 'PASS x', 'AUTH PLAIN', 'STLS', 'APOP a b'])
  }
  const options = ['STAT', 'LIST', 'RETR 1', 'TOP 1 1', 'DELE 1', 'RSET', 'NOOP', 'UIDL']
  if (!state.user) options.push('PASS something')
  if (state.tls) options.push('STLS')
  return rng.pick(options)
}

/** A valid command that moves the session on. */
function progress(rng: Rng, state: State): string {
  if (!state.transaction) {
    if (state.user) return `PASS ${FUZZ_USER.password}`
    return rng.pick([...login(rng).slice(0, 1), 'CAPA', ...(rng.chance(0.05) ? ['STLS'] : [])])
  }
  const n = rng.range(1, 8, true)
  return rng.pick([
    'STAT',
    'LIST',
    `LIST ${n}`,
    'UIDL',
    `UIDL ${n}`,
    `RETR ${n}`,
    `TOP ${n} ${rng.range(0, 5)}`,
    `DELE ${n}`,
    'RSET',
    'NOOP',
    'CAPA',
  ])
}

function nextStep(rng: Rng, state: State): Step {
  const roll = rng.next()
  if (roll < 0.35) return { line: Buffer.from(progress(rng, state)), expect: 'any', kind: 'valid' }
  if (roll < 0.45) {
    const line = outOfPlace(rng, state)
    if (line !== null) return { line: Buffer.from(line), expect: 'error', kind: 'out-of-place' }
  }
  if (roll < 0.6) {
    return { line: Buffer.from(brokenCommand(rng), 'utf8'), expect: 'error', kind: 'broken' }
  }
  if (roll < 0.75) {
    const line = withoutLineEnds(
      rng.chance(0.5)
        ? Buffer.from(rng.text(rng.range(0, 80, true), PRINTABLE), 'latin1')
        : rng.bytes(rng.range(0, 80, true)),
    )
    return { line, expect: isKnownVerb(line) ? 'any' : 'error', kind: 'random' }
  }
  const base = Buffer.from(rng.pick(VALID_LINES), 'utf8')
  const line = withoutLineEnds(mutateMany(rng, base, rng.range(1, 4, true)))
  return { line, expect: isKnownVerb(line) ? 'any' : 'error', kind: 'mutated' }
}

/** Whether the line starts with a POP3 verb: ASCII letters (RFC 2449 §3), any case. */
function isKnownVerb(line: Buffer): boolean {
  const text = line.toString('latin1')
  const space = text.indexOf(' ')
  const word = space < 0 ? text : text.slice(0, space)
  return /^[A-Za-z]{3,4}$/.test(word) && VERBS.has(word.toUpperCase())
}

/** One command per line: CR and LF inside become spaces (a bare LF would end the line). */
function withoutLineEnds(line: Buffer): Buffer {
  const out = Buffer.from(line)
  for (let i = 0; i < out.length; i += 1) if (out[i] === 0x0a || out[i] === 0x0d) out[i] = 0x20
  return out
}

// --- the well-behaved client ----------------------------------------------------------------

async function wellBehaved(server: FuzzServer, journal: Journal, round: number): Promise<void> {
  journal.note(`well-behaved session after round ${round}`)
  const client = await FuzzClient.open(server.postern.ports.pop3, journal)
  try {
    const expectOk = async (line: string | null, multiline = false) => {
      if (line !== null) client.write(`${line}\r\n`)
      const response = await readResponse(client, line ?? 'the greeting', multiline)
      if (!response.isOk) {
        throw new FuzzFailure(`well-behaved ${line ?? 'greeting'}: ${response.status}`, journal)
      }
      return response
    }
    await expectOk(null)
    await expectOk(`USER ${GOOD_USER.address}`)
    await expectOk(`PASS ${GOOD_USER.password}`)
    const stat = await expectOk('STAT')
    if (stat.status !== `+OK ${SEED_MESSAGES.length} ${statSize()}`) {
      throw new FuzzFailure(`well-behaved STAT: ${stat.status}`, journal)
    }
    const first = await expectOk('RETR 1', true)
    if (first.lines.join('\r\n') !== 'Subject: one\r\n\r\nfirst') {
      throw new FuzzFailure('well-behaved RETR 1 is not the message', journal)
    }
    await expectOk('QUIT')
  } finally {
    client.close()
  }
}

/** The maildrop's size as STAT counts it: the octets RETR sends (src/mime crlfSize). */
function statSize(): number {
  return SEED_MESSAGES.reduce((total, message) => total + crlfSize(message), 0)
}
