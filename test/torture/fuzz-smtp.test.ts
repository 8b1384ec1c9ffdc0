// Bad input for the SMTP server (issue 11, torture suite): a real `postern serve` is sent random
// lines, mutated lines of valid transcripts and grammar-aware commands with broken parameters,
// in every state of a session (before and after EHLO, in a transaction, after RCPT, between
// BDAT chunks, over TLS), with DATA bodies and BDAT chunks full of bare line ends, dots and
// NULs, for a bounded time. Every command must get exactly one well-formed reply in time, an
// error for what is malformed; the process must stay up without logging an error, its memory
// bounded; and a well-behaved client must still get its message through after every round.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  MAX_AUTH_LINE_OCTETS,
  MAX_COMMAND_LINE_OCTETS,
  parseCommand,
  type SmtpCommand,
  type SmtpVerb,
} from '../../src/smtp/proto/index.ts'
import {
  ClosedError,
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

/** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, its code and CRLF included. */
const MAX_REPLY_LINE_OCTETS = 512
const ANSWER_MS = 10_000
/** The largest BDAT chunk the fuzzer will send when a mutation happens to announce one. */
const MAX_FUZZ_CHUNK = 64 * 1024

/** Typed as SmtpVerb, so the list cannot name a verb the parser lacks. */
const VERBS: ReadonlySet<string> = new Set<SmtpVerb>([
  'EHLO',
  'HELO',
  'MAIL',
  'RCPT',
  'DATA',
  'RSET',
  'QUIT',
  'STARTTLS',
  'NOOP',
  'HELP',
  'VRFY',
  'EXPN',
  'BDAT',
  'AUTH',
])

interface Reply {
  code: number
  lines: string[]
}

/** What the fuzzer knows of the session, updated from the server's replies only. */
interface State {
  helo: boolean
  esmtp: boolean
  mail: boolean
  rcpt: boolean
  bdat: boolean
  tls: boolean
}

/** One command to send: the line (no line end), and what the answer must be. */
interface Step {
  line: Buffer
  ending: '\r\n' | '\n'
  /** 'error': malformed or out of place, a 4xx/5xx is due; 'any': any well-formed reply. */
  expect: 'error' | 'any'
  kind: string
}

interface Stats {
  commands: number
  errors: number
  messages: number
  chunks: number
  tls: number
  rounds: number
}

test('SMTP: random, mutated and grammar-aware commands in every state are all answered', {
  timeout: fuzzTimeoutMs(),
}, async (t) => {
  t.diagnostic(`TORTURE_SEED=${TORTURE_SEED}`)
  const server = await startFuzzServer(t)
  const port = server.postern.ports.smtp
  const rng = new Rng(TORTURE_SEED ^ 0x5317)
  const stats: Stats = { commands: 0, errors: 0, messages: 0, chunks: 0, tls: 0, rounds: 0 }
  const journal = new Journal()
  stats.rounds = await forSeconds(
    fuzzSeconds(),
    async (round) => {
      journal.clear()
      journal.note(`round ${round}`)
      await fuzzRound(rng.fork(), port, journal, stats)
      server.checkHealth(journal, `SMTP round ${round}`)
      await wellBehaved(server, journal, round)
    },
    { journal },
  )
  t.diagnostic(
    `${stats.rounds} rounds, ${stats.commands} commands (${stats.errors} answered with an ` +
      `error), ${stats.messages} message bodies, ${stats.chunks} BDAT chunks, ` +
      `${stats.tls} STARTTLS; ${server.finish()}`,
  )
  assert.ok(stats.errors > 0 && stats.messages > 0, 'the fuzzer reached errors and messages')
})

/** One connection from its own address: a greeting, a run of steps, and QUIT if still open. */
async function fuzzRound(rng: Rng, port: number, journal: Journal, stats: Stats): Promise<void> {
  const client = await FuzzClient.open(port, journal, { localAddress: randomLoopback(rng) })
  try {
    const greeting = await readReply(client, 'the greeting')
    if (greeting.code !== 220) throw new FuzzFailure(`greeting ${greeting.code}`, journal)
    const state: State = {
      helo: false,
      esmtp: false,
      mail: false,
      rcpt: false,
      bdat: false,
      tls: false,
    }
    const steps = rng.range(5, 80, true)
    for (let i = 0; i < steps; i += 1) {
      if ((await runStep(rng, client, nextStep(rng, state), state, stats)) === 'closed') return
    }
    client.write('QUIT\r\n')
    const bye = await readReply(client, 'QUIT')
    // Any reply but 221 here means replies and commands no longer pair up: a command was
    // answered twice, or a message ended where it should not have.
    if (bye.code !== 221 && bye.code !== 421) {
      throw new FuzzFailure(`QUIT answered ${bye.code}: replies out of step`, journal)
    }
    await client.closed(ANSWER_MS)
    if (client.unread !== '') {
      throw new FuzzFailure(`more after the last reply: ${JSON.stringify(client.unread)}`, journal)
    }
  } catch (error) {
    if (error instanceof ClosedError) throw new FuzzFailure(error.message, journal)
    throw error
  } finally {
    client.close()
  }
}

/** Sends one step, reads its one reply (and what 354 or BDAT call for), checks it. */
async function runStep(
  rng: Rng,
  client: FuzzClient,
  step: Step,
  state: State,
  stats: Stats,
): Promise<'open' | 'closed'> {
  const parsed = serverParse(step.line)
  if (parsed?.verb === 'BDAT' && parsed.size > MAX_FUZZ_CHUNK) return 'open'
  stats.commands += 1
  const what = `${step.kind} command ${JSON.stringify(step.line.toString('latin1').slice(0, 200))}`
  if (parsed?.verb === 'BDAT') {
    // The chunk's octets follow the command whatever the answer will be (RFC 3030 §2).
    client.write(Buffer.concat([step.line, Buffer.from(step.ending), chunkBody(rng, parsed.size)]))
    stats.chunks += 1
  } else {
    client.write(Buffer.concat([step.line, Buffer.from(step.ending)]))
  }
  let answer = await readReply(
    client,
    what,
    step.line.some((octet) => octet >= 0x80),
  )
  if (answer.code === 354) {
    client.write(messageBody(rng))
    stats.messages += 1
    answer = await readReply(client, `the message data after ${what}`)
    state.mail = false
    state.rcpt = false
  } else if (answer.code === 334) {
    client.write('*\r\n')
    answer = await readReply(client, `the cancelled AUTH of ${what}`)
  }
  if (step.expect === 'error' && answer.code < 400) {
    throw new FuzzFailure(
      `${what} is malformed or out of place but was answered ${answer.code}`,
      client.journal,
    )
  }
  if (answer.code >= 400) stats.errors += 1
  if (answer.code === 421 || answer.code === 221) {
    await client.closed(ANSWER_MS)
    return 'closed'
  }
  if (answer.code === 220 && parsed?.verb === 'STARTTLS') {
    await client.tls()
    stats.tls += 1
    Object.assign(state, { helo: false, esmtp: false, mail: false, rcpt: false, bdat: false })
    state.tls = true
    return 'open'
  }
  track(state, parsed, answer.code)
  return 'open'
}

/** Follows the session's state from what was sent and how it was answered. */
function track(state: State, command: SmtpCommand | null, code: number): void {
  if (command === null) return
  switch (command.verb) {
    case 'EHLO':
    case 'HELO':
      if (code === 250) {
        Object.assign(state, { helo: true, esmtp: command.verb === 'EHLO', mail: false })
        Object.assign(state, { rcpt: false, bdat: false })
      }
      return
    case 'MAIL':
      if (code === 250) state.mail = true
      return
    case 'RCPT':
      if (code === 250) state.rcpt = true
      return
    case 'RSET':
      if (code === 250) Object.assign(state, { mail: false, rcpt: false, bdat: false })
      return
    case 'BDAT':
      if (!state.mail || !state.rcpt) return
      // A last chunk ends the transaction whatever its reply; so does a refused one.
      if (command.isLast || code >= 400) Object.assign(state, { mail: false, rcpt: false })
      state.bdat = !command.isLast && code < 400
      return
  }
}

/** How the server will read this line: a command, or null for one it refuses to parse. */
function serverParse(line: Buffer): SmtpCommand | null {
  if (line.length > MAX_AUTH_LINE_OCTETS - 2) return null
  if (line.length > MAX_COMMAND_LINE_OCTETS - 2 && !/^AUTH /i.test(line.toString('latin1', 0, 5))) {
    return null
  }
  const parsed = parseCommand(line)
  return parsed.kind === 'command' ? parsed.command : null
}

function takeReply(buffer: string): { value: Reply; length: number } | null {
  const lines: string[] = []
  let offset = 0
  for (;;) {
    const end = buffer.indexOf('\r\n', offset)
    if (end < 0) return null
    const line = buffer.slice(offset, end)
    lines.push(line)
    offset = end + 2
    if (line[3] !== '-') return { value: { code: Number(line.slice(0, 3)), lines }, length: offset }
  }
}

/** The next reply, checked for form: one code on every line, each line within 512 octets. */
async function readReply(client: FuzzClient, what: string, echoes = false): Promise<Reply> {
  const reply = await client.take(takeReply, ANSWER_MS, what)
  for (const line of reply.lines) {
    if (!/^[2-5][0-9][0-9][ -]/.test(line) || Number(line.slice(0, 3)) !== reply.code) {
      throw new FuzzFailure(
        `malformed reply line to ${what}: ${JSON.stringify(line)}`,
        client.journal,
      )
    }
    if (Buffer.byteLength(line, 'latin1') + 2 > MAX_REPLY_LINE_OCTETS) {
      throw new FuzzFailure(
        `reply line to ${what} is ${line.length + 2} octets, over RFC 5321's 512`,
        client.journal,
      )
    }
    if (hasControl(line)) {
      throw new FuzzFailure(`control character in the reply to ${what}`, client.journal)
    }
    // RFC 5321 §4.2: reply text is US-ASCII; only what the client sent may come back otherwise.
    if (!echoes && /[^\x20-\x7e]/.test(line)) {
      throw new FuzzFailure(`non-ASCII reply to ${what}: ${JSON.stringify(line)}`, client.journal)
    }
  }
  return reply
}

// --- the generator --------------------------------------------------------------------------

const LOCAL = 'carol@example.test'

/** Lines of valid sessions, the material of mutations. */
const VALID_LINES = [
  'EHLO client.example.org',
  'HELO client.example.org',
  'EHLO [192.0.2.1]',
  'MAIL FROM:<sender@remote.test>',
  'MAIL FROM:<>',
  'MAIL FROM:<sender@remote.test> SIZE=1000 BODY=8BITMIME',
  'MAIL FROM:<sender@remote.test> RET=HDRS ENVID=abc+2Bdef',
  'MAIL FROM:<"quoted local"@remote.test> SMTPUTF8',
  `RCPT TO:<${LOCAL}>`,
  `RCPT TO:<${LOCAL}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;${LOCAL}`,
  'RCPT TO:<Postmaster>',
  'RCPT TO:<CAROL@Example.Test>',
  'RCPT TO:<carol+tag@example.test>',
  'RCPT TO:<someone@remote.test>',
  'DATA',
  'BDAT 5',
  'BDAT 0 LAST',
  'RSET',
  'NOOP',
  'NOOP hello',
  'HELP',
  'HELP MAIL',
  'VRFY carol',
  'EXPN list',
  'AUTH PLAIN',
  'STARTTLS',
]

/** Commands that are malformed wherever they are sent. */
function brokenCommand(rng: Rng): string {
  const address = () => rng.pick([LOCAL, 'a@remote.test', 'x@[192.0.2.1]'])
  const cases: Array<() => string> = [
    () => rng.pick(['EHLO', 'HELO', 'EHLO ', 'HELO  ']),
    () => rng.pick(['MAIL FROM:', 'MAIL FROM', 'MAIL TO:<a@b.test>', 'MAIL <a@b.test>', 'MAIL']),
    // A path that never closes: no ">" at all.
    () => `MAIL FROM:<${rng.text(rng.range(1, 20), 'ab@.<"\\[]: ')}`,
    () =>
      `MAIL FROM:<${rng.pick([
        'a b@c.test',
        'a@@b.test',
        'a@b..test',
        '@b.test',
        'a@',
        'a@[1.2.3]',
        'a@[999.1.1.1]',
        'a@[IPv6:1::2::3]',
        '"open@b.test',
        'a@b.test>',
        '<a@b.test',
        `${'x'.repeat(65)}@b.test`,
        `a@${'abcdefgh.'.repeat(29)}test`,
      ])}>`,
    () =>
      `MAIL FROM:<a@remote.test> ${rng.pick([
        'SIZE=',
        'SIZE=abc',
        'SIZE=-1',
        'SIZE=1 SIZE=2',
        'BODY=9BIT',
        'BODY=',
        'RET=NONE',
        'RET=FULL RET=HDRS',
        'ENVID=a+ZZ',
        `ENVID=${'x'.repeat(101)}`,
        'SMTPUTF8=yes',
        'NOSUCHPARAM=1',
        '=1',
        'SIZE=99999999999999999999',
      ])}`,
    () => rng.pick(['RCPT TO:<>', 'RCPT TO:', 'RCPT TO', 'RCPT FROM:<a@b.test>', 'RCPT']),
    () =>
      `RCPT TO:<${address()}> ${rng.pick([
        'NOTIFY=NEVER,SUCCESS',
        'NOTIFY=',
        'NOTIFY=SOMETIMES',
        'ORCPT=rfc822',
        'ORCPT=;x',
        'ORCPT=rfc822;a+ZZ',
        'XYZ=1',
        'NOTIFY=DELAY NOTIFY=DELAY',
      ])}`,
    () =>
      `${rng.pick(['DATA', 'RSET', 'QUIT', 'STARTTLS'])} ${rng.text(rng.range(1, 10), 'abc 1')}x`,
    () =>
      rng.pick([
        'BDAT',
        'BDAT x',
        'BDAT -1',
        'BDAT 1 LASTX',
        'BDAT 1 LAST x',
        'BDAT 1234567890123456',
        'BDAT 1.5',
      ]),
    () => rng.pick(['VRFY', 'EXPN', 'VRFY ', 'AUTH']),
    () => `MAIL FROM:<\u00e9t\u00e9@remote.test>`,
    () => `NOOP ${'x'.repeat(rng.range(MAX_COMMAND_LINE_OCTETS, MAX_COMMAND_LINE_OCTETS * 3))}`,
    () => `MAIL FROM:<${'a'.repeat(rng.range(300, 1500))}@remote.test>`,
  ]
  return rng.pick(cases)()
}

/** A command that is well-formed but out of place in `state`, or null when none is. */
function outOfPlace(rng: Rng, state: State): string | null {
  const options: string[] = []
  if (!state.helo) options.push('MAIL FROM:<a@remote.test>')
  if (!state.mail) options.push(`RCPT TO:<${LOCAL}>`, 'DATA', 'BDAT 3 LAST')
  if (state.mail) options.push('MAIL FROM:<a@remote.test>', 'STARTTLS')
  if (state.mail && !state.rcpt) options.push('DATA', 'BDAT 4')
  if (state.bdat) options.push('DATA', `RCPT TO:<${LOCAL}>`)
  if (state.tls) options.push('STARTTLS')
  if (!state.esmtp && state.helo && !state.mail) options.push('MAIL FROM:<a@remote.test> SIZE=10')
  return options.length === 0 ? null : rng.pick(options)
}

/** A valid command that moves the session on from `state`. */
function progress(rng: Rng, state: State): string {
  if (!state.helo) return rng.chance(0.8) ? 'EHLO fuzz.example.org' : 'HELO fuzz.example.org'
  if (!state.mail) {
    return rng.pick([
      'MAIL FROM:<fuzz@remote.test>',
      'MAIL FROM:<>',
      ...(state.esmtp ? ['MAIL FROM:<fuzz@remote.test> BODY=8BITMIME SIZE=2000'] : []),
    ])
  }
  if (!state.rcpt || rng.chance(0.2)) {
    return rng.pick([
      `RCPT TO:<${LOCAL}>`,
      'RCPT TO:<Carol@EXAMPLE.test>',
      'RCPT TO:<nobody@example.test>',
    ])
  }
  if (state.bdat || (state.esmtp && rng.chance(0.4))) {
    return `BDAT ${rng.range(0, 300, true)}${rng.chance(0.5) ? ' LAST' : ''}`
  }
  return state.bdat ? 'BDAT 0 LAST' : 'DATA'
}

function nextStep(rng: Rng, state: State): Step {
  const ending = rng.chance(0.05) ? '\n' : '\r\n'
  const roll = rng.next()
  if (roll < 0.3) {
    return { line: Buffer.from(progress(rng, state)), ending, expect: 'any', kind: 'valid' }
  }
  if (roll < 0.4) {
    const line = outOfPlace(rng, state)
    if (line !== null)
      return { line: Buffer.from(line), ending, expect: 'error', kind: 'out-of-place' }
  }
  if (roll < 0.6) {
    return {
      line: Buffer.from(brokenCommand(rng), 'utf8'),
      ending,
      expect: 'error',
      kind: 'broken',
    }
  }
  if (roll < 0.75) {
    const line = withoutLf(
      rng.chance(0.5)
        ? Buffer.from(rng.text(rng.range(0, 120, true), PRINTABLE), 'latin1')
        : rng.bytes(rng.range(0, 120, true)),
    )
    return {
      line,
      ending: keepCr(line, ending),
      expect: isKnownVerb(line) ? 'any' : 'error',
      kind: 'random',
    }
  }
  const base = Buffer.from(rng.pick(VALID_LINES), 'utf8')
  const line = withoutLf(mutateMany(rng, base, rng.range(1, 4, true)))
  return {
    line,
    ending: keepCr(line, ending),
    expect: isKnownVerb(line) ? 'any' : 'error',
    kind: 'mutated',
  }
}

/**
 * A line ending in CR sent with a bare LF would reach the server as the line without that CR,
 * ended by CRLF ("RSET\r" + "\n" is a good RSET): such a line gets CRLF, so the CR is in it.
 */
function keepCr(line: Buffer, ending: Step['ending']): Step['ending'] {
  return line.at(-1) === 0x0d ? '\r\n' : ending
}

/** Whether the line starts with a verb of RFC 5321 and its extensions (letters only). */
function isKnownVerb(line: Buffer): boolean {
  const text = line.toString('latin1')
  const space = text.indexOf(' ')
  const word = space < 0 ? text : text.slice(0, space)
  return /^[A-Za-z]+$/.test(word) && VERBS.has(word.toUpperCase())
}

/** A line has exactly one line end, the one the step adds: LFs inside become spaces. */
function withoutLf(line: Buffer): Buffer {
  const out = Buffer.from(line)
  for (let i = 0; i < out.length; i += 1) if (out[i] === 0x0a) out[i] = 0x20
  return out
}

/**
 * A message body for DATA: header-like lines, text, lines of dots, bare CRs and LFs, the 2023
 * smuggling sequences, NULs and 8-bit octets, sometimes an overlong line; dot-stuffed exactly as
 * RFC 5321 §4.5.2 reads it (only after CRLF), then CRLF.CRLF.
 */
function messageBody(rng: Rng): Buffer {
  const parts: string[] = []
  if (rng.chance(0.8))
    parts.push(`Subject: fuzz ${rng.int(1e6)}\r\nFrom: <fuzz@remote.test>\r\n\r\n`)
  const lines = rng.range(0, 30, true)
  for (let i = 0; i < lines; i += 1) {
    parts.push(
      rng.pick([
        () => rng.text(rng.range(0, 80, true)),
        () => '.',
        () => '..',
        () => `.${rng.text(rng.range(0, 10))}`,
        () => rng.pick(['\n.\n', '\r.\r', '\r\n.\r', '\n.\r\n', '\r\n.\n', '\r\n\0.\r\n', '.\r']),
        () => 'MAIL FROM:<smuggled@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA',
        () => rng.bytes(rng.range(0, 40, true)).toString('latin1'),
        () => 'x'.repeat(rng.range(900, 1100)),
      ])(),
    )
    parts.push(rng.pick(['\r\n', '\r\n', '\r\n', '\n', '\r', '']))
  }
  const body = Buffer.from(parts.join(''), 'latin1')
  return Buffer.concat([dotStuff(body), Buffer.from('\r\n.\r\n')])
}

/** Doubles every dot that starts a line as the server reads lines: after CRLF, and first. */
function dotStuff(body: Buffer): Buffer {
  const out: number[] = []
  for (let i = 0; i < body.length; i += 1) {
    const octet = body[i] as number
    const atLineStart = i === 0 || (body[i - 1] === 0x0a && i >= 2 && body[i - 2] === 0x0d)
    if (octet === 0x2e && atLineStart) out.push(0x2e)
    out.push(octet)
  }
  return Buffer.from(out)
}

/** A BDAT chunk's octets: anything at all, including what looks like commands. */
function chunkBody(rng: Rng, size: number): Buffer {
  if (size === 0) return Buffer.alloc(0)
  const text = Buffer.from(
    rng.pick([
      'Subject: chunk\r\n\r\nbody\r\n',
      '\r\n.\r\nMAIL FROM:<smuggled@remote.test>\r\n',
      'QUIT\r\n',
      rng.bytes(64).toString('latin1'),
    ]),
    'latin1',
  )
  return Buffer.alloc(size, text)
}

// --- the well-behaved client ----------------------------------------------------------------

/** After each round, a plain client from 127.0.0.1 still gets a message to bob through. */
async function wellBehaved(server: FuzzServer, journal: Journal, round: number): Promise<void> {
  journal.note(`well-behaved session after round ${round}`)
  const client = await FuzzClient.open(server.postern.ports.smtp, journal)
  try {
    const expectCode = async (line: string | null, code: number) => {
      if (line !== null) client.write(`${line}\r\n`)
      const reply = await readReply(client, line ?? 'the greeting')
      if (reply.code !== code) {
        throw new FuzzFailure(
          `well-behaved ${line ?? 'greeting'}: ${reply.code}, not ${code}`,
          journal,
        )
      }
    }
    await expectCode(null, 220)
    await expectCode('EHLO good.example.org', 250)
    await expectCode('MAIL FROM:<good@remote.test>', 250)
    await expectCode(`RCPT TO:<${GOOD_USER.address}>`, 250)
    await expectCode('DATA', 354)
    client.write(`Subject: still working after round ${round}\r\n\r\nyes\r\n.\r\n`)
    await expectCode(null, 250)
    await expectCode('QUIT', 221)
  } finally {
    client.close()
  }
}
