// Bad SASL exchanges (issue 11, torture suite): AUTH in SMTP submission (over TLS), AUTHENTICATE
// in IMAP and AUTH in POP3 against a real `postern serve`, with PLAIN, LOGIN and SCRAM-SHA-256
// (and mechanisms that do not exist), initial responses present, empty or broken, answers that
// are not base64, wrong steps (a client-first message again, a proof for another nonce, a
// channel-binding flag, an authzid of another user), cancels and overlong lines, for a bounded
// time. Every exchange must end with the protocol's final answer in time: an error for all that
// is malformed or wrong, success for the well-formed right ones (the control), and never a
// login as anyone but the credentials' owner. The process stays up without logging an error,
// its memory bounded, and a well-behaved login works after every round.

import assert from 'node:assert/strict'
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'
import { test } from 'node:test'
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
  PRINTABLE,
  Rng,
  randomLoopback,
  startFuzzServer,
} from './support/fuzz.ts'
import { TORTURE_SEED } from './support/settings.ts'

const ANSWER_MS = 12_000
/** In bob's mailbox only: an exchange that logs in as bob with carol's secrets shows it. */
const BOB_MARKER = 'bob-private-marker'

type Protocol = 'smtp' | 'imap' | 'pop3'

/** What the exchange must end in. */
type Expect = 'success' | 'error'

/** The protocol-neutral side of one exchange: what to send, and how each challenge is met. */
interface Script {
  mechanism: string
  /** The initial response as written ("=" for empty), or null for none. */
  initial: string | null
  /** Answers each challenge (decoded, or null when it was not base64) with a line to send. */
  answer(challenge: Buffer | null, index: number): string
  expect: Expect
  label: string
}

interface Stats {
  exchanges: number
  successes: number
  errors: number
  rounds: number
  byProtocol: Record<Protocol, number>
}

test('SASL: broken PLAIN, LOGIN and SCRAM-SHA-256 exchanges in SMTP, IMAP and POP3', {
  timeout: fuzzTimeoutMs(),
}, async (t) => {
  t.diagnostic(`TORTURE_SEED=${TORTURE_SEED}`)
  const server = await startFuzzServer(t, '[imap]\nmax_errors = 500\n[pop3]\nmax_errors = 500\n')
  await server.deliver(GOOD_USER.address, [
    Buffer.from(`Subject: ${BOB_MARKER}\r\n\r\nonly bob reads this\r\n`),
  ])
  await server.deliver(FUZZ_USER.address, [Buffer.from('Subject: carol\r\n\r\nhers\r\n')])
  const rng = new Rng(TORTURE_SEED ^ 0x5a51)
  const stats: Stats = {
    exchanges: 0,
    successes: 0,
    errors: 0,
    rounds: 0,
    byProtocol: { smtp: 0, imap: 0, pop3: 0 },
  }
  const journal = new Journal()
  stats.rounds = await forSeconds(
    fuzzSeconds(),
    async (round) => {
      journal.clear()
      const protocol = rng.pick<Protocol>(['smtp', 'imap', 'pop3'])
      journal.note(`round ${round}: ${protocol}`)
      await fuzzRound(rng.fork(), server, protocol, journal, stats)
      server.checkHealth(journal, `SASL round ${round}`)
      await wellBehaved(server, rng.pick<Protocol>(['smtp', 'imap', 'pop3']), journal, round)
    },
    { journal },
  )
  t.diagnostic(
    `${stats.rounds} rounds, ${stats.exchanges} exchanges (SMTP ${stats.byProtocol.smtp}, ` +
      `IMAP ${stats.byProtocol.imap}, POP3 ${stats.byProtocol.pop3}), ${stats.successes} ` +
      `logins, ${stats.errors} refused; ${server.finish()}`,
  )
  assert.ok(stats.successes > 0 && stats.errors > 0, 'the controls logged in and the rest failed')
})

/**
 * One connection, one exchange. The throttle makes each failure from an address wait longer
 * than the last (SMTP and POP3 count some malformed exchanges too), so every exchange comes
 * from a new address and the fuzzing goes on at full speed.
 */
async function fuzzRound(
  rng: Rng,
  server: FuzzServer,
  protocol: Protocol,
  journal: Journal,
  stats: Stats,
): Promise<void> {
  const ports = server.postern.ports
  const localAddress = randomLoopback(rng)
  const client =
    protocol === 'smtp'
      ? await FuzzClient.open(ports.submissions, journal, { localAddress, tls: true })
      : await FuzzClient.open(protocol === 'imap' ? ports.imap : ports.pop3, journal, {
          localAddress,
        })
  try {
    const channel = CHANNELS[protocol]
    await channel.greet(client)
    const script = makeScript(rng)
    stats.exchanges += 1
    stats.byProtocol[protocol] += 1
    const outcome = await channel.exchange(client, script, 0)
    if (outcome.ok !== (script.expect === 'success')) {
      throw new FuzzFailure(
        `${protocol} ${script.label}: expected ${script.expect}, got ${JSON.stringify(outcome.final)}`,
        journal,
      )
    }
    if (outcome.ok) {
      stats.successes += 1
      await channel.checkIdentity(client)
      await channel.logout(client)
    } else {
      stats.errors += 1
    }
  } catch (error) {
    if (error instanceof ClosedError) throw new FuzzFailure(error.message, journal)
    throw error
  } finally {
    client.close()
  }
}

// --- the three framings of SASL ---------------------------------------------------------------

interface Outcome {
  ok: boolean
  final: string
  /** The server closed the connection with its answer. */
  closed: boolean
}

interface Channel {
  greet(client: FuzzClient): Promise<void>
  /** Ends a logged-in session so that its locks are released before the next one starts. */
  logout(client: FuzzClient): Promise<void>
  exchange(client: FuzzClient, script: Script, index: number): Promise<Outcome>
  /** After a login: the session is carol's, never bob's. */
  checkIdentity(client: FuzzClient): Promise<void>
}

function takeLine(buffer: string): { value: string; length: number } | null {
  const end = buffer.indexOf('\r\n')
  return end < 0 ? null : { value: buffer.slice(0, end), length: end + 2 }
}

/** An SMTP reply, its lines joined; the code first. */
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

function decoded(text: string): Buffer | null {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0
    ? Buffer.from(text, 'base64')
    : null
}

/** Runs the challenge/response loop; `isChallenge` tells a challenge from the final answer. */
async function loop(
  client: FuzzClient,
  script: Script,
  read: () => Promise<string>,
  challengeOf: (line: string) => string | null,
): Promise<string> {
  for (let step = 0; ; step += 1) {
    const line = await read()
    const challenge = challengeOf(line)
    if (challenge === null) return line
    if (step > 8) {
      throw new FuzzFailure(`more than 8 challenges in ${script.label}`, client.journal)
    }
    client.write(`${script.answer(decoded(challenge), step)}\r\n`)
  }
}

const CHANNELS: Record<Protocol, Channel> = {
  smtp: {
    async greet(client) {
      await client.take(takeReply, ANSWER_MS, 'the greeting')
      client.write('EHLO sasl.example.org\r\n')
      const ehlo = await client.take(takeReply, ANSWER_MS, 'EHLO')
      if (!ehlo.includes('AUTH ')) throw new FuzzFailure('no AUTH over TLS', client.journal)
    },
    async logout() {},
    async exchange(client, script) {
      client.write(
        `AUTH ${script.mechanism}${script.initial === null ? '' : ` ${script.initial}`}\r\n`,
      )
      const final = await loop(
        client,
        script,
        () => client.take(takeReply, ANSWER_MS, script.label),
        (reply) => (reply.startsWith('334 ') ? reply.slice(4) : reply === '334' ? '' : null),
      )
      if (!/^[2-5][0-9][0-9][ -]/.test(final)) {
        throw new FuzzFailure(`malformed final reply ${JSON.stringify(final)}`, client.journal)
      }
      const code = Number(final.slice(0, 3))
      if (code === 421) await client.closed(ANSWER_MS)
      return { ok: code === 235, final, closed: code === 421 }
    },
    async checkIdentity(client) {
      client.write(`MAIL FROM:<${GOOD_USER.address}>\r\n`)
      const reply = await client.take(takeReply, ANSWER_MS, 'MAIL FROM bob after the login')
      if (!reply.startsWith('550 ')) {
        throw new FuzzFailure(`logged in as bob? MAIL FROM bob: ${reply}`, client.journal)
      }
      client.write(`MAIL FROM:<${FUZZ_USER.address}>\r\n`)
      const own = await client.take(takeReply, ANSWER_MS, 'MAIL FROM carol after the login')
      if (!own.startsWith('250 ')) throw new FuzzFailure(`not carol: ${own}`, client.journal)
    },
  },
  imap: {
    async greet(client) {
      await client.take(takeLine, ANSWER_MS, 'the greeting')
    },
    async logout() {},
    async exchange(client, script, index) {
      const tag = `s${index}`
      client.write(
        `${tag} AUTHENTICATE ${script.mechanism}${script.initial === null ? '' : ` ${script.initial}`}\r\n`,
      )
      const final = await loop(
        client,
        script,
        async () => {
          for (;;) {
            const line = await client.take(takeLine, ANSWER_MS, script.label)
            if (line.startsWith('+') || line.startsWith(`${tag} `) || line.startsWith('* BYE')) {
              return line
            }
            if (line.startsWith('* BAD')) return line
          }
        },
        (line) => (line.startsWith('+ ') ? line.slice(2) : line === '+' ? '' : null),
      )
      const closed = final.startsWith('* BYE')
      if (closed) await client.closed(ANSWER_MS)
      return { ok: final.startsWith(`${tag} OK `), final, closed }
    },
    async checkIdentity(client) {
      client.write('i1 SELECT INBOX\r\ni2 FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n')
      let seen = ''
      for (;;) {
        const line = await client.take(takeLine, ANSWER_MS, 'FETCH after the login')
        seen += `${line}\n`
        if (line.startsWith('i2 ')) break
      }
      if (seen.includes(BOB_MARKER) || !seen.includes('Subject: carol')) {
        throw new FuzzFailure(`the login reached another mailbox:\n${seen}`, client.journal)
      }
    },
  },
  pop3: {
    async greet(client) {
      await client.take(takeLine, ANSWER_MS, 'the greeting')
    },
    async logout(client) {
      // The maildrop stays locked until the session is over; QUIT ends it before we go on.
      client.write('QUIT\r\n')
      await client.take(takeLine, ANSWER_MS, 'QUIT')
      await client.closed(ANSWER_MS)
    },
    async exchange(client, script) {
      client.write(
        `AUTH ${script.mechanism}${script.initial === null ? '' : ` ${script.initial}`}\r\n`,
      )
      const final = await loop(
        client,
        script,
        () => client.take(takeLine, ANSWER_MS, script.label),
        (line) => (line.startsWith('+ ') ? line.slice(2) : line === '+' ? '' : null),
      )
      if (!/^(\+OK|-ERR)( |$)/.test(final)) {
        throw new FuzzFailure(`malformed final response ${JSON.stringify(final)}`, client.journal)
      }
      const closed = /Too many/.test(final)
      if (closed) await client.closed(ANSWER_MS)
      return { ok: final.startsWith('+OK'), final, closed }
    },
    async checkIdentity(client) {
      client.write('TOP 1 0\r\n')
      let seen = ''
      for (;;) {
        const line = await client.take(takeLine, ANSWER_MS, 'TOP after the login')
        seen += `${line}\n`
        if (line === '.' || line.startsWith('-ERR')) break
      }
      if (seen.includes(BOB_MARKER) || !seen.includes('Subject: carol')) {
        throw new FuzzFailure(`the login reached another maildrop:\n${seen}`, client.journal)
      }
    },
  },
}

// --- the exchanges --------------------------------------------------------------------------

const b64 = (data: string | Buffer) => Buffer.from(data).toString('base64')

/** Answers that are never base64 (and not "*"): every one must end the exchange in an error. */
const NOT_BASE64 = ['!!!', 'abc', 'a b', '=', '====', 'AAA=A', 'AA\tA', 'Zm9v\u00e9']

function randomUser(rng: Rng): string {
  return rng.pick([
    () => `u${rng.int(1e9)}@example.test`,
    () => `${rng.text(rng.range(1, 20), 'abcXYZ019.-+=,')}@example.test`,
    () => rng.text(rng.range(0, 30), PRINTABLE),
    () => `${rng.bytes(rng.range(1, 10)).toString('latin1')}@example.test`,
  ])()
}

function makeScript(rng: Rng): Script {
  const roll = rng.next()
  if (roll < 0.35) return plainScript(rng)
  if (roll < 0.55) return loginScript(rng)
  if (roll < 0.9) return scramScript(rng)
  // A mechanism that is not offered, or one spelt in a way that is not a mechanism.
  const mechanism = rng.pick([
    'CRAM-MD5',
    'XOAUTH2',
    'GSSAPI',
    'ANONYMOUS',
    'EXTERNAL',
    'SCRAM-SHA-1',
    'SCRAM-SHA-256-PLUS',
    'PLAIN-X',
    // Non-ASCII letters that upper-case into "PLAIN": no mechanism (RFC 4422 §3.1 names are
    // ASCII), even with the right credentials.
    'PLA\u0131N',
    'pla\u0131n',
    rng.text(rng.range(1, 25), 'ABCXYZ-_0'),
  ])
  const right = b64(`\0${FUZZ_USER.address}\0${FUZZ_USER.password}`)
  return {
    mechanism,
    initial: rng.chance(0.5) ? (mechanism.includes('\u0131') ? right : b64('x')) : null,
    answer: () => '*',
    expect: 'error',
    label: `mechanism ${mechanism}`,
  }
}

/** A wrong answer to any challenge: junk, a cancel, an empty or overlong line. */
function junk(rng: Rng): string {
  return rng.pick([
    () => rng.pick(NOT_BASE64),
    () => '*',
    () => '',
    () => b64(rng.bytes(rng.range(0, 64))),
    () => 'A'.repeat(rng.pick([4, 8000, 13000])),
  ])()
}

function plainScript(rng: Rng): Script {
  const mechanism = rng.pick(['PLAIN', 'plain', 'Plain'])
  const good = `\0${FUZZ_USER.address}\0${FUZZ_USER.password}`
  const roll = rng.next()
  let message: string | Buffer
  let expect: Expect = 'error'
  let label: string
  if (roll < 0.25) {
    message = rng.chance(0.5) ? good : `${FUZZ_USER.address}${good}`
    expect = 'success'
    label = 'PLAIN, right'
  } else {
    const variants: Array<[string, string | Buffer]> = [
      ['authzid of bob', `${GOOD_USER.address}${good}`],
      ['wrong password', `\0${FUZZ_USER.address}\0${FUZZ_USER.password}x`],
      ['unknown user', `\0${randomUser(rng)}\0${rng.text(rng.range(1, 20))}`],
      ['no NUL', `${FUZZ_USER.address}${FUZZ_USER.password}`],
      ['one NUL', `${FUZZ_USER.address}\0${FUZZ_USER.password}`],
      ['four parts', `\0${FUZZ_USER.address}\0${FUZZ_USER.password}\0x`],
      ['empty authcid', `\0\0${FUZZ_USER.password}`],
      ['empty password', `\0${FUZZ_USER.address}\0`],
      [
        'not UTF-8',
        Buffer.concat([Buffer.from(`\0${FUZZ_USER.address}\0`), Buffer.from([0xff, 0xfe])]),
      ],
      ['long', `\0${'a'.repeat(3000)}@example.test\0${'p'.repeat(3000)}`],
      ['NUL password', `\0${FUZZ_USER.address}\0${FUZZ_USER.password}\0`],
    ]
    const [name, value] = rng.pick(variants)
    message = value
    label = `PLAIN, ${name}`
  }
  const encoded = b64(message)
  // Sent as the initial response, after an empty challenge, or broken on the way.
  const how = rng.int(4)
  if (how === 3) {
    const broken = rng.pick([...NOT_BASE64, encoded.slice(0, -1), `${encoded} x`, `${encoded}=`])
    return {
      mechanism,
      initial: broken.includes(' ') || broken === '' ? '!!!' : broken,
      answer: () => '*',
      expect: 'error',
      label: `${label}, initial response not base64`,
    }
  }
  if (how === 2 && expect === 'success') {
    return {
      mechanism,
      initial: null,
      answer: (_challenge, index) => (index === 0 ? junk(rng) : '*'),
      expect: 'error',
      label: `${label}, challenge answered with junk`,
    }
  }
  return {
    mechanism,
    initial: how === 0 ? encoded : null,
    answer: (_challenge, index) => (index === 0 ? encoded : '*'),
    expect,
    label,
  }
}

function loginScript(rng: Rng): Script {
  const mechanism = rng.pick(['LOGIN', 'login'])
  const right = rng.chance(0.3)
  const user = right || rng.chance(0.2) ? FUZZ_USER.address : randomUser(rng)
  const password = right ? FUZZ_USER.password : rng.text(rng.range(0, 20))
  const breakAt = right ? -1 : rng.int(3)
  return {
    mechanism,
    initial: rng.chance(0.3) ? b64(user) : null,
    answer(challenge, index) {
      if (index === breakAt) return junk(rng)
      if (challenge?.toString() === 'Username:') return b64(user)
      if (challenge?.toString() === 'Password:') return password === '' ? '' : b64(password)
      return '*'
    },
    expect: right ? 'success' : 'error',
    label: right ? 'LOGIN, right' : `LOGIN, broken at step ${breakAt}`,
  }
}

/** RFC 5802 §5.1 saslname: "=" and "," escaped. */
function saslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C')
}

function scramScript(rng: Rng): Script {
  const mechanism = rng.pick(['SCRAM-SHA-256', 'scram-sha-256'])
  const nonce = randomBytes(18).toString('base64')
  // Which part is broken, if any; a broken exchange is mostly an unknown user's, which the
  // server runs to the proof all the same, so that carol's failures do not slow every login.
  const fault: Fault = rng.chance(0.25) ? 'none' : rng.pick(FAULTS)
  const user = fault === 'none' || rng.chance(0.3) ? FUZZ_USER.address : randomUser(rng)
  const gs2 = 'n,,'
  const bare = `n=${saslName(user)},r=${nonce}`
  const clientFirst = faultyFirst(rng, fault, gs2, bare, user)
  let serverFirst = ''
  let step = 0
  return {
    mechanism,
    initial: rng.chance(0.5) ? b64(clientFirst) : null,
    answer(challenge, index) {
      const text = challenge?.toString('utf8') ?? ''
      if (index === 0 && text === '' && step === 0) {
        // The empty challenge of an exchange without initial response.
        step = 1
        return b64(clientFirst)
      }
      step = 2
      if (text.startsWith('r=')) {
        serverFirst = text
        return faultyFinal(rng, fault, gs2, bare, serverFirst, nonce)
      }
      // The server-final message "v=…": acknowledged with an empty line, or with a cancel or
      // what is not base64 (a non-empty base64 answer is taken, the proof being already made).
      if (text.startsWith('v=')) return fault === 'ack' ? rng.pick(['*', ...NOT_BASE64]) : ''
      return '*'
    },
    expect: fault === 'none' ? 'success' : 'error',
    label: `SCRAM, ${fault === 'none' ? 'right' : `fault ${fault}`}${user === FUZZ_USER.address ? '' : ' (unknown user)'}`,
  }
}

const FAULTS = [
  'gs2-flag',
  'channel-binding',
  'authzid-bob',
  'no-username',
  'bad-escape',
  'extension-m',
  'no-nonce',
  'comma-nonce',
  'first-junk',
  'c-wrong',
  'c-missing',
  'nonce-mismatch',
  'nonce-short',
  'proof-missing',
  'proof-junk',
  'proof-short',
  'proof-wrong',
  'first-again',
  'final-junk',
  'order',
  'ack',
  'password',
] as const

type Fault = (typeof FAULTS)[number] | 'none'

function faultyFirst(rng: Rng, fault: Fault, gs2: string, bare: string, user: string): string {
  switch (fault) {
    case 'gs2-flag':
      return `${rng.pick(['q', 'Y', 'N', '', 'nn'])},,${bare}`
    case 'channel-binding':
      return `p=tls-server-end-point,,${bare}`
    case 'authzid-bob':
      return `n,a=${saslName(GOOD_USER.address)},${bare}`
    case 'no-username':
      return `${gs2}n=,${bare.slice(bare.indexOf(',r=') + 1)}`
    case 'bad-escape':
      return `${gs2}n=${saslName(user)}=2X,${bare.slice(bare.indexOf(',r=') + 1)}`
    case 'extension-m':
      return `${gs2}m=ext,${bare}`
    case 'no-nonce':
      return `${gs2}n=${saslName(user)}`
    case 'comma-nonce':
      return `${gs2}n=${saslName(user)},r=,`
    case 'first-junk':
      return rng.text(rng.range(0, 100), PRINTABLE)
    default:
      return `${gs2}${bare}`
  }
}

function faultyFinal(
  rng: Rng,
  fault: Fault,
  gs2: string,
  bare: string,
  serverFirst: string,
  _clientNonce: string,
): string {
  const fields = Object.fromEntries(serverFirst.split(',').map((f) => [f[0], f.slice(2)]))
  const combined = fields.r ?? ''
  const channel = b64(gs2)
  const password = fault === 'password' ? `${FUZZ_USER.password}x` : FUZZ_USER.password
  const proofFor = (withoutProof: string) =>
    clientProof(password, serverFirst, bare, withoutProof, fields.s ?? '', Number(fields.i))
  const standard = `c=${channel},r=${combined}`
  switch (fault) {
    case 'c-wrong':
      return b64(`c=${b64('y,,')},r=${combined},p=${proofFor(`c=${b64('y,,')},r=${combined}`)}`)
    case 'c-missing':
      return b64(`r=${combined},p=${proofFor(`r=${combined}`)}`)
    case 'nonce-mismatch': {
      const other = `c=${channel},r=${combined}x`
      return b64(`${other},p=${proofFor(other)}`)
    }
    case 'nonce-short': {
      const other = `c=${channel},r=${combined.slice(0, 10)}`
      return b64(`${other},p=${proofFor(other)}`)
    }
    case 'proof-missing':
      return b64(standard)
    case 'proof-junk':
      return b64(`${standard},p=${rng.pick(NOT_BASE64)}`)
    case 'proof-short':
      return b64(`${standard},p=${b64(randomBytes(16))}`)
    case 'proof-wrong':
      return b64(`${standard},p=${b64(randomBytes(32))}`)
    case 'first-again':
      return b64(`${gs2}${bare}`)
    case 'final-junk':
      return junk(rng)
    case 'order':
      return b64(`r=${combined},c=${channel},p=${proofFor(`r=${combined},c=${channel}`)}`)
    default:
      return b64(`${standard},p=${proofFor(standard)}`)
  }
}

/** A right SCRAM-SHA-256 exchange for `account`, as a well-behaved client runs it. */
function rightScram(account: { address: string; password: string }): Script {
  const bare = `n=${saslName(account.address)},r=${randomBytes(18).toString('base64')}`
  return {
    mechanism: 'SCRAM-SHA-256',
    initial: b64(`n,,${bare}`),
    answer(challenge) {
      const serverFirst = challenge?.toString('utf8') ?? ''
      if (!serverFirst.startsWith('r=')) return ''
      const fields = Object.fromEntries(serverFirst.split(',').map((f) => [f[0], f.slice(2)]))
      const withoutProof = `c=${b64('n,,')},r=${fields.r ?? ''}`
      const proof = clientProof(
        account.password,
        serverFirst,
        bare,
        withoutProof,
        fields.s ?? '',
        Number(fields.i),
      )
      return b64(`${withoutProof},p=${proof}`)
    },
    expect: 'success',
    label: 'good SCRAM',
  }
}

/** The client side of SCRAM-SHA-256 (RFC 5802 §3), from the server-first message's salt. */
function clientProof(
  password: string,
  serverFirst: string,
  clientFirstBare: string,
  withoutProof: string,
  salt: string,
  iterations: number,
): string {
  const salted = pbkdf2Sync(password, Buffer.from(salt, 'base64'), iterations || 1, 32, 'sha256')
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = createHash('sha256').update(clientKey).digest()
  const signature = createHmac('sha256', storedKey)
    .update(`${clientFirstBare},${serverFirst},${withoutProof}`)
    .digest()
  return Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] as number))).toString('base64')
}

// --- the well-behaved client ----------------------------------------------------------------

/** After each round, bob logs in with AUTH PLAIN over one of the three, from 127.0.0.1. */
async function wellBehaved(
  server: FuzzServer,
  protocol: Protocol,
  journal: Journal,
  round: number,
): Promise<void> {
  journal.note(`well-behaved ${protocol} login after round ${round}`)
  const ports = server.postern.ports
  const client =
    protocol === 'smtp'
      ? await FuzzClient.open(ports.submissions, journal, { tls: true })
      : await FuzzClient.open(protocol === 'imap' ? ports.imap : ports.pop3, journal)
  try {
    const channel = CHANNELS[protocol]
    await channel.greet(client)
    // PLAIN costs the server a password hash; SCRAM does not, so most rounds use it.
    const plain = b64(`\0${GOOD_USER.address}\0${GOOD_USER.password}`)
    const script: Script =
      round % 4 === 0
        ? {
            mechanism: 'PLAIN',
            initial: plain,
            answer: () => '*',
            expect: 'success',
            label: 'good',
          }
        : rightScram(GOOD_USER)
    const outcome = await channel.exchange(client, script, 0)
    if (!outcome.ok) throw new FuzzFailure(`well-behaved login: ${outcome.final}`, journal)
    await channel.logout(client)
  } finally {
    client.close()
  }
}
