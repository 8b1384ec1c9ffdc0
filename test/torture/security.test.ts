// The security part of the torture suite (issue 11), against a real Postern started in-process
// with every listener: the classic open-relay probes on the MX listener (DESIGN.md invariant 6),
// the SMTP smuggling variants of 2023, STARTTLS command injection (CVE-2011-0411) in SMTP, IMAP
// and POP3, password guessing throttled across the three protocols, and one user never reaching
// another's mail through any IMAP command or login spelling. Each test checks the store, not
// only the replies, and that the server logged no error.

import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Config, loadConfig } from '../../src/config/index.ts'
import { createDirectory, type Directory } from '../../src/directory/index.ts'
import { decodeMailboxName } from '../../src/imap/proto/index.ts'
import { type RunningServer, startServer } from '../../src/server/index.ts'
import type { Store } from '../../src/store/index.ts'
import type { Logger } from '../../src/util/index.ts'
import { getFreePorts } from '../support/free-port.ts'
import { type ImapResponse, ImapTestClient } from '../support/imap.ts'
import { parseResponse, type Sexp } from '../support/imap-sexp.ts'
import { mailboxMessages } from '../support/mailbox.ts'
import { Pop3TestClient } from '../support/pop3.ts'
import { SmtpTestClient } from '../support/smtp.ts'
import { makeTempDir } from '../support/temp-dir.ts'
import { connectSocket } from '../support/text-client.ts'
import { connectFrom, Rng } from './support/fuzz.ts'
import { TORTURE_SEED } from './support/settings.ts'

const ALICE = { address: 'alice@example.test', password: 'alice-secret-1' }
const BOB = { address: 'bob@example.test', password: 'bob-secret-1' }

// --- a whole server -------------------------------------------------------------------------

/** The transcript clients, with the TLS handshake alone, after a go-ahead the test read. */
class SmtpClient extends SmtpTestClient {
  static async open(t: TestContext, port: number): Promise<SmtpClient> {
    return new SmtpClient(await connectSocket(t, port), 'utf8')
  }

  handshake(): Promise<void> {
    return this.upgradeToTls()
  }
}

class PopClient extends Pop3TestClient {
  static async open(t: TestContext, port: number): Promise<PopClient> {
    return new PopClient(await connectSocket(t, port), 'latin1')
  }

  handshake(): Promise<void> {
    return this.upgradeToTls()
  }
}

interface Ports {
  smtp: number
  submission: number
  imap: number
  pop3: number
}

interface Server {
  server: RunningServer
  config: Config
  store: Store
  directory: Directory
  ports: Ports
  /** Lines the server logged at level error or fatal: a bug each. */
  errors: string[]
}

/** A logger that keeps what is logged at error level and above, and drops the rest. */
function errorRecorder(errors: string[], bindings: object = {}): Logger {
  const keep = (level: string) => (fields: object, message: string) => {
    errors.push(`${level}: ${message} ${JSON.stringify({ ...bindings, ...fields }, errorFields)}`)
  }
  const drop = () => {}
  return {
    trace: drop,
    debug: drop,
    info: drop,
    warn: drop,
    error: keep('error'),
    fatal: keep('fatal'),
    child: (more) => errorRecorder(errors, { ...bindings, ...more }),
  }
}

function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? { message: value.message, stack: value.stack } : value
}

/**
 * Postern with the MX, submission, IMAP and POP3 listeners on loopback, the domain example.test
 * and the accounts alice and bob; `toml` is appended to the config.
 */
async function startFullServer(t: TestContext, toml = ''): Promise<Server> {
  // The ports were free a moment before the server binds them; if another process took one in
  // between, the server starts again on others.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(t, toml)
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error
    }
  }
}

async function startOnce(t: TestContext, toml: string): Promise<Server> {
  const dir = makeTempDir(t, 'postern-security-')
  const [smtp = 0, submission = 0, imap = 0, pop3 = 0] = await getFreePorts(4)
  const file = path.join(dir, 'postern.toml')
  writeFileSync(
    file,
    [
      'hostname = "mx.example.test"',
      'data_dir = "data"',
      'shutdown_grace_ms = 200',
      '[listen]',
      `smtp = "127.0.0.1:${smtp}"`,
      `submission = "127.0.0.1:${submission}"`,
      `imap = "127.0.0.1:${imap}"`,
      `pop3 = "127.0.0.1:${pop3}"`,
      // Mail for other domains would stay queued: nothing answers DNS here.
      '[dns]',
      'servers = ["127.0.0.1:9"]',
      '[mailauth]',
      'verify = false',
      toml,
    ].join('\n'),
  )
  const config = loadConfig({ path: file })
  const errors: string[] = []
  const server = await startServer(config, { log: errorRecorder(errors) })
  t.after(() => server.stop())
  const directory = createDirectory(server.store)
  await directory.addDomain('example.test')
  await directory.addUser(ALICE.address, ALICE.password)
  await directory.addUser(BOB.address, BOB.password)
  return {
    server,
    config,
    store: server.store,
    directory,
    ports: { smtp, submission, imap, pop3 },
    errors,
  }
}

function assertNoErrors(server: Server): void {
  assert.deepEqual(server.errors, [], 'the server logged no error')
}

/** A client socket from `localAddress`, closed when the test ends. */
async function socketFrom(t: TestContext, port: number, localAddress: string) {
  const socket = await connectFrom(port, { localAddress })
  t.after(() => socket.destroy())
  return socket
}

async function subjects(store: Store, address: string, mailbox = 'INBOX'): Promise<string[]> {
  return (await mailboxMessages(store, address, mailbox)).map(
    (message) => /\r\nSubject: ([^\r\n]*)/i.exec(`\r\n${message.toString('latin1')}`)?.[1] ?? '',
  )
}

// --- open relay -----------------------------------------------------------------------------

/**
 * Recipients that name another domain, or that only a non-strict reading would send elsewhere
 * (the classic relay-test list: percent hack, bang path, source routes, quoted "@", address
 * literals including our own, IDN spellings and lookalikes, trailing dots, case). None may be
 * accepted on the MX listener: each must be refused with 5xx.
 */
const RELAY_PROBES = [
  '<victim@remote.test>',
  '<VICTIM@REMOTE.TEST>',
  '<victim@Remote.Test.>',
  '<victim@remote.test..>',
  '<victim%remote.test@example.test>',
  '<victim%remote.test@[127.0.0.1]>',
  '<remote.test!victim@example.test>',
  '<remote.test!victim%example.test@example.test>',
  '<"victim@remote.test"@example.test>',
  '<"victim%remote.test"@example.test>',
  '<"victim@remote.test">',
  '<victim@remote.test@example.test>',
  '<victim@example.test@remote.test>',
  '<@example.test:victim@remote.test>',
  '<@example.test,@mx.example.test:victim@remote.test>',
  '<@[127.0.0.1]:victim@remote.test>',
  '<victim@[192.0.2.1]>',
  '<victim@[127.0.0.1]>',
  '<alice@[127.0.0.1]>',
  '<postmaster@[127.0.0.1]>',
  '<victim@[IPv6:::1]>',
  '<victim@[IPv6:::ffff:127.0.0.1]>',
  '<victim@127.0.0.1>',
  '<victim@[remote.test]>',
  '<victim@localhost>',
  '<victim@mx.example.test>',
  '<alice@mx.example.test>',
  '<postmaster@remote.test>',
  '<victim@example.test.remote.test>',
  '<victim@remote.test%example.test>',
  '<victim@remote.test:25>',
  '<victim@remote.test\\@example.test>',
  '<"victim"@remote.test>',
  '<victim=40remote.test@example.test>',
  '<victim%40remote.test@example.test>',
  '<victim@xn--bcher-kva.test>',
  '<victim@b\u00fccher.test>',
  '<victim@\uff52\uff45\uff4d\uff4f\uff54\uff45.test>',
  // "example.test" with a Cyrillic "а": another domain that looks like ours.
  '<alice@ex\u0430mple.test>',
  '<victim@remote.test> NOTIFY=SUCCESS ORCPT=rfc822;alice@example.test',
  '<victim@remote.test> ORCPT=rfc822;victim@remote.test',
  'victim@remote.test',
  ' <victim@remote.test>',
  '<<victim@remote.test>>',
]

/** Spellings of a local account's address: accepted, and then in alice's INBOX only. */
const LOCAL_FORMS = [
  '<alice@example.test>',
  '<ALICE@EXAMPLE.TEST>',
  '<alice@example.test.>',
  '<@remote.test:alice@example.test>',
  '<alice+remote.test@example.test>',
  '<alice@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.test>',
]

const SENDERS = [
  '<attacker@remote.test>',
  '<alice@example.test>',
  '<>',
  '<postmaster@example.test>',
  '<bob@example.test>',
]

/** A session on the MX listener that may relay nothing, in one of the ways a prober tries. */
async function mxSession(t: TestContext, server: Server, how: string): Promise<SmtpTestClient> {
  const client = await SmtpTestClient.connect(t, server.ports.smtp)
  assert.equal((await client.read()).code, 220)
  switch (how) {
    case 'plain':
      await client.ehlo('prober.remote.test')
      break
    case 'own name':
      // HELO with our own name, "localhost" or our address gains nothing.
      assert.equal((await client.command('HELO mx.example.test')).code, 250)
      assert.equal((await client.command('EHLO localhost')).code, 250)
      assert.equal((await client.command('EHLO [127.0.0.1]')).code, 250)
      break
    case 'tls':
      await client.ehlo()
      await client.startTls()
      await client.ehlo()
      break
    case 'auth': {
      // AUTH is not offered on the MX listener, whatever the credentials.
      await client.ehlo()
      await client.startTls()
      await client.ehlo()
      const token = Buffer.from(`\0${ALICE.address}\0${ALICE.password}`).toString('base64')
      assert.equal((await client.command(`AUTH PLAIN ${token}`)).code, 503)
      break
    }
  }
  return client
}

test('open relay: the classic probes on the MX listener are all refused, nothing is queued', async (t) => {
  t.diagnostic(`TORTURE_SEED=${TORTURE_SEED}`)
  const server = await startFullServer(t, '[smtp]\nmax_errors = 1000\n')
  const rng = new Rng(TORTURE_SEED ^ 0x7e1a)
  let expectedLocal = 0
  for (const how of ['plain', 'own name', 'tls', 'auth']) {
    const client = await mxSession(t, server, how)
    for (const [index, probe] of [...RELAY_PROBES, ...LOCAL_FORMS].entries()) {
      const isLocal = index >= RELAY_PROBES.length
      assert.equal((await client.command('RSET')).code, 250)
      const sender = rng.pick(SENDERS)
      const mail = await client.command(`MAIL FROM:${sender} SMTPUTF8 BODY=8BITMIME`)
      assert.equal(mail.code, 250, `${how}: MAIL FROM:${sender}: ${mail.raw}`)
      // Sometimes a local recipient first: a valid one must not carry an invalid one through.
      if (rng.chance(0.3))
        assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
      const rcpt = await client.command(`RCPT TO:${probe}`)
      if (isLocal) {
        // The control: alice's address, however spelt, is mail for a local domain.
        assert.equal(rcpt.code, 250, `${how}: RCPT TO:${probe}: ${rcpt.raw}`)
      } else {
        assert.ok(rcpt.code >= 500, `${how}: RCPT TO:${probe} must be refused: ${rcpt.raw}`)
      }
      const message = `Subject: probe ${how} ${index}\r\n\r\nrelay probe\r\n`
      if (rng.chance(0.5)) {
        const data = await client.command('DATA')
        if (data.code === 354) {
          client.write(`${message}.\r\n`)
          assert.equal((await client.read()).code, 250)
          expectedLocal += 1
        }
      } else {
        // BDAT: the chunk goes with the command, and is read whatever the answer.
        client.write(`BDAT ${message.length} LAST\r\n${message}`)
        if ((await client.read()).code === 250) expectedLocal += 1
      }
      // Invariant 6: after every probe, still nothing for another server.
      assert.deepEqual(await server.store.listQueue(), [], `${how}: ${probe} queued mail`)
    }
    assert.equal((await client.command('QUIT')).code, 221)
  }
  // What was accepted went to alice's mailbox and nowhere else.
  assert.equal((await mailboxMessages(server.store, ALICE.address)).length, expectedLocal)
  assert.deepEqual(await mailboxMessages(server.store, BOB.address), [])
  assertNoErrors(server)
})

test('open relay: submission without AUTH takes no transaction at all', async (t) => {
  const server = await startFullServer(t, '[smtp]\nmax_errors = 1000\n')
  for (const withTls of [false, true]) {
    const client = await SmtpTestClient.connect(t, server.ports.submission)
    await client.read()
    await client.ehlo()
    if (withTls) {
      await client.startTls()
      await client.ehlo()
    }
    for (const sender of SENDERS) {
      const mail = await client.command(`MAIL FROM:${sender}`)
      assert.equal(mail.code, 530, `MAIL FROM:${sender} without AUTH: ${mail.raw}`)
      assert.equal((await client.command('RCPT TO:<victim@remote.test>')).code, 503)
      assert.equal((await client.command('DATA')).code, 503)
    }
    // A wrong password is no authentication either.
    if (withTls) {
      const token = Buffer.from(`\0${ALICE.address}\0wrong`).toString('base64')
      assert.equal((await client.command(`AUTH PLAIN ${token}`)).code, 535)
      assert.equal((await client.command('MAIL FROM:<alice@example.test>')).code, 530)
    }
  }
  assert.deepEqual(await server.store.listQueue(), [])
  assertNoErrors(server)
})

// --- SMTP smuggling -------------------------------------------------------------------------

/**
 * End-of-data sequences of the 2023 smuggling attacks and their cousins. None is CRLF "." CRLF,
 * so a strict RFC 5321 reading sees one message around each: the "second" message after it is
 * data of the first.
 */
const SMUGGLING = [
  '\n.\n',
  '\r.\r',
  '\r\n.\r',
  '\n.\r\n',
  '\r\n.\n',
  '\r.\r\n',
  '\n.\r',
  '\r.\n',
  '\n.',
  '\r\n.\r\r\n',
  '\r\n\0.\r\n',
  '\r\n.\0\r\n',
  '\r\n. \r\n',
  '\r\n\r.\r\n',
  '\n\n.\n\n',
]

test('SMTP smuggling: no end-of-data variant makes a second message', async (t) => {
  const server = await startFullServer(t)
  const expected: string[] = []
  for (const [index, variant] of SMUGGLING.entries()) {
    for (const split of ['whole', 'octet by octet']) {
      const client = await SmtpTestClient.connect(t, server.ports.smtp)
      client.socket.setNoDelay(true)
      await client.read()
      await client.ehlo()
      assert.equal((await client.command('MAIL FROM:<sender@remote.test>')).code, 250)
      assert.equal((await client.command(`RCPT TO:<${ALICE.address}>`)).code, 250)
      assert.equal((await client.command('DATA')).code, 354)
      const subject = `smuggle ${index} ${split}`
      const first = `Subject: ${subject}\r\n\r\nfirst part`
      const rest =
        `${variant}MAIL FROM:<evil@remote.test>\r\nRCPT TO:<${BOB.address}>\r\n` +
        `RCPT TO:<victim@remote.test>\r\nDATA\r\nSubject: smuggled ${index}\r\n\r\nevil\r\n.\r\n`
      if (split === 'whole') {
        client.write(`${first}${rest}`)
      } else {
        // Every octet around the sequence in its own segment: the decoder's chunk edges.
        client.write(first)
        for (const octet of Buffer.from(rest, 'latin1')) {
          client.write(Buffer.from([octet]))
          await sleep(1)
        }
      }
      const reply = await client.read()
      assert.equal(reply.code, 250, `${JSON.stringify(variant)} ${split}: ${reply.raw}`)
      expected.push(subject)
      // The next reply answers the next command: nothing was read as commands in between.
      assert.equal((await client.command('VRFY someone')).code, 252)
      assert.equal((await client.command('QUIT')).code, 221)
      await client.closed()
    }
  }
  // One message per attempt, each whole (the "smuggled" part inside it), none for bob or the
  // queue.
  const stored = await mailboxMessages(server.store, ALICE.address)
  assert.deepEqual(await subjects(server.store, ALICE.address), expected)
  for (const [i, message] of stored.entries()) {
    const index = Math.floor(i / 2)
    assert.ok(message.includes(`Subject: smuggled ${index}`), `message ${i} holds the rest`)
  }
  assert.deepEqual(await mailboxMessages(server.store, BOB.address), [])
  assert.deepEqual(await server.store.listQueue(), [])
  assertNoErrors(server)
})

test('SMTP smuggling: a BDAT chunk holding CRLF.CRLF and commands is one message', async (t) => {
  const server = await startFullServer(t)
  const client = await SmtpTestClient.connect(t, server.ports.smtp)
  await client.read()
  await client.ehlo()
  assert.equal((await client.command('MAIL FROM:<sender@remote.test>')).code, 250)
  assert.equal((await client.command(`RCPT TO:<${ALICE.address}>`)).code, 250)
  const chunk =
    `Subject: chunked\r\n\r\nfirst\r\n.\r\nMAIL FROM:<evil@remote.test>\r\n` +
    `RCPT TO:<${BOB.address}>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n`
  client.write(`BDAT ${Buffer.byteLength(chunk)} LAST\r\n${chunk}`)
  assert.equal((await client.read()).code, 250)
  assert.equal((await client.command('VRFY someone')).code, 252)
  assert.deepEqual(await subjects(server.store, ALICE.address), ['chunked'])
  assert.deepEqual(await mailboxMessages(server.store, BOB.address), [])
  assertNoErrors(server)
})

// --- STARTTLS command injection -------------------------------------------------------------

/**
 * Commands pipelined after STARTTLS (in the same packet, or in the next before the server's
 * answer) would run inside the TLS session if the server kept them (CVE-2011-0411). They must
 * be dropped, or the connection closed: either way the first answer after the handshake is the
 * answer to the client's first command over TLS.
 */
for (const timing of ['same write', 'next write']) {
  test(`STARTTLS injection (${timing}): SMTP drops what came with STARTTLS`, async (t) => {
    const server = await startFullServer(t)
    for (const port of [server.ports.smtp, server.ports.submission]) {
      const client = await SmtpClient.open(t, port)
      await client.read()
      await client.ehlo()
      const injected =
        'EHLO injected.example\r\nMAIL FROM:<inject@remote.test>\r\n' +
        `RCPT TO:<${ALICE.address}>\r\nDATA\r\nSubject: injected\r\n\r\nx\r\n.\r\n`
      if (timing === 'same write') client.write(`STARTTLS\r\n${injected}`)
      else {
        client.write('STARTTLS\r\n')
        client.write(injected)
      }
      const ready = await client.read()
      assert.equal(ready.code, 220)
      let secured = true
      try {
        await client.handshake()
      } catch {
        // The plaintext went into the handshake, which failed: the server must have closed.
        secured = false
        await client.closed(5000)
      }
      if (secured) {
        // Had the injected EHLO, MAIL and RCPT run, DATA would get 354; without EHLO it is 503.
        const data = await client.command('DATA')
        assert.equal(data.code, 503, `port ${port}: ${data.raw}`)
        assert.equal((await client.command('QUIT')).code, 221)
      }
    }
    assert.deepEqual(await mailboxMessages(server.store, ALICE.address), [])
    assert.deepEqual(await server.store.listQueue(), [])
    assertNoErrors(server)
  })

  test(`STARTTLS injection (${timing}): IMAP drops what came with STARTTLS`, async (t) => {
    const server = await startFullServer(t)
    const client = await ImapTestClient.connect(t, server.ports.imap)
    await client.readLine()
    const injected = `b LOGIN ${ALICE.address} ${ALICE.password}\r\nc SELECT INBOX\r\nd CREATE injected\r\n`
    if (timing === 'same write') client.write(`a STARTTLS\r\n${injected}`)
    else {
      client.write('a STARTTLS\r\n')
      client.write(injected)
    }
    assert.equal(await client.readLine(), 'a OK Begin TLS negotiation now')
    let secured = true
    try {
      await client.handshake()
    } catch {
      // The plaintext went into the handshake, which failed: the server must have closed.
      secured = false
      await client.closed(5000)
    }
    if (secured) {
      const list = await client.command('e', 'LIST "" "*"')
      // Not logged in: the injected LOGIN did not run, and no answer to b, c or d came.
      assert.deepEqual(list, { untagged: [], tagged: 'e BAD LIST is not valid in this state' })
      assert.match(await client.login(ALICE), /^L1 OK /)
    }
    const account = await server.store.getAccount(ALICE.address)
    assert.equal(await server.store.getMailbox(account?.id ?? 0, 'injected'), null)
    assertNoErrors(server)
  })

  test(`STARTTLS injection (${timing}): POP3 drops what came with STLS`, async (t) => {
    const server = await startFullServer(t)
    const client = await PopClient.open(t, server.ports.pop3)
    await client.read()
    const injected = `USER ${ALICE.address}\r\nPASS ${ALICE.password}\r\nDELE 1\r\nQUIT\r\n`
    if (timing === 'same write') client.write(`STLS\r\n${injected}`)
    else {
      client.write('STLS\r\n')
      client.write(injected)
    }
    assert.match((await client.read()).status, /^\+OK /)
    let secured = true
    try {
      await client.handshake()
    } catch {
      // The plaintext went into the handshake, which failed: the server must have closed.
      secured = false
      await client.closed(5000)
    }
    if (secured) {
      // Not logged in: STAT is refused, and it is the first answer over TLS.
      const stat = await client.command('STAT')
      assert.equal(stat.isOk, false, stat.raw)
      assert.match(stat.status, /only valid after logging in/)
      assert.equal((await client.command('QUIT')).isOk, true)
    }
    assertNoErrors(server)
  })
}

// --- password guessing ----------------------------------------------------------------------

type Outcome = { ok: boolean; ms: number; text: string }

/** One login attempt over a protocol, from `localAddress`: whether it worked, how long it took. */
async function attempt(
  t: TestContext,
  server: Server,
  protocol: 'smtp' | 'imap' | 'imap-authenticate' | 'pop3',
  user: string,
  password: string,
  localAddress = '127.0.0.1',
): Promise<Outcome> {
  const plain = Buffer.from(`\0${user}\0${password}`).toString('base64')
  switch (protocol) {
    case 'smtp': {
      const client = new SmtpTestClient(
        await socketFrom(t, server.ports.submission, localAddress),
        'utf8',
      )
      await client.read()
      await client.ehlo()
      await client.startTls()
      await client.ehlo()
      const started = Date.now()
      const reply = await client.command(`AUTH PLAIN ${plain}`)
      const ms = Date.now() - started
      client.socket.destroy()
      return { ok: reply.code === 235, ms, text: reply.raw.trim() }
    }
    case 'imap':
    case 'imap-authenticate': {
      const client = new ImapTestClient(
        await socketFrom(t, server.ports.imap, localAddress),
        'latin1',
      )
      await client.readLine()
      const started = Date.now()
      const response =
        protocol === 'imap'
          ? await imapLogin(client, user, password)
          : await client.command('A1', `AUTHENTICATE PLAIN ${plain}`)
      const ms = Date.now() - started
      client.socket.destroy()
      return { ok: / OK /.test(response.tagged), ms, text: response.tagged }
    }
    case 'pop3': {
      const client = new Pop3TestClient(
        await socketFrom(t, server.ports.pop3, localAddress),
        'latin1',
      )
      await client.read()
      client.write(
        Buffer.concat([Buffer.from('USER '), Buffer.from(user, 'utf8'), Buffer.from('\r\n')]),
      )
      const sent = await client.read()
      if (!sent.isOk) return { ok: false, ms: 0, text: sent.status }
      const started = Date.now()
      const pass = await client.command(`PASS ${password}`)
      const ms = Date.now() - started
      if (pass.isOk) {
        // QUIT releases the maildrop before the next session wants it.
        await client.command('QUIT')
        await client.closed()
      }
      client.socket.destroy()
      return { ok: pass.isOk, ms, text: pass.status }
    }
  }
}

/** LOGIN with both arguments as literals, so any octets (UTF-8, quotes) go as they are. */
async function imapLogin(
  client: ImapTestClient,
  user: string,
  password: string,
): Promise<ImapResponse> {
  const userBytes = Buffer.from(user, 'utf8')
  const passBytes = Buffer.from(password, 'utf8')
  client.write(Buffer.from(`L1 LOGIN {${userBytes.length}+}\r\n`))
  client.write(
    Buffer.concat([
      userBytes,
      Buffer.from(` {${passBytes.length}+}\r\n`),
      passBytes,
      Buffer.from('\r\n'),
    ]),
  )
  return client.response('L1')
}

/** The throttle's delay before answering the n-th failure (src/auth DEFAULT_THROTTLE). */
function delayFor(failures: number): number {
  return failures < 2 ? 0 : Math.min(250 * 2 ** (failures - 2), 8000)
}

/** A failure answered after its delay, not much later (a password hash and a loaded machine). */
function assertDelay(outcome: Outcome, failures: number, what: string): void {
  const expected = delayFor(failures)
  assert.equal(outcome.ok, false, `${what}: ${outcome.text}`)
  assert.ok(
    outcome.ms >= expected - 20,
    `${what}: answered after ${outcome.ms} ms, before ${expected}`,
  )
  assert.ok(
    outcome.ms <= expected + 2000,
    `${what}: answered after ${outcome.ms} ms, ${expected} due`,
  )
}

test('password guessing: growing delays across SMTP, IMAP and POP3, then the account is locked', async (t) => {
  const lockoutMs = 10_000
  const server = await startFullServer(
    t,
    `[auth]\nmax_account_failures = 3\nmax_ip_failures = 50\nlockout_ms = ${lockoutMs}\n`,
  )
  // Two failures are not a lock: the right password still works, and clears the account's count.
  assertDelay(await attempt(t, server, 'smtp', ALICE.address, 'guess-1'), 1, 'SMTP guess 1')
  assertDelay(await attempt(t, server, 'imap', 'ALICE@EXAMPLE.TEST', 'guess-2'), 2, 'IMAP guess 2')
  const before = await attempt(t, server, 'pop3', ALICE.address, ALICE.password)
  assert.equal(before.ok, true, `under the bound: ${before.text}`)
  // The address keeps its count (2); the account starts again. Delays follow the larger count.
  assertDelay(
    await attempt(t, server, 'imap-authenticate', ALICE.address, 'guess-3'),
    3,
    'IMAP guess 3',
  )
  assertDelay(await attempt(t, server, 'pop3', 'Alice@Example.Test', 'guess-4'), 4, 'POP3 guess 4')
  const lockedAt = Date.now()
  assertDelay(await attempt(t, server, 'smtp', ALICE.address, 'guess-5'), 5, 'SMTP guess 5')
  // Three failures for the account since its last success: locked. The right password is
  // answered exactly as a wrong one, over every protocol, and counts as a failure; the delay
  // reaches its ceiling of 8 s and stays there.
  assertDelay(await attempt(t, server, 'imap', ALICE.address, ALICE.password), 6, 'IMAP, locked')
  const locked = await attempt(t, server, 'smtp', ALICE.address, ALICE.password)
  assertDelay(locked, 7, 'SMTP, locked')
  // The refusal was decided when the password arrived, its answer delayed after that.
  assert.ok(Date.now() - locked.ms - lockedAt < lockoutMs, 'decided within the lockout')
  // The lock is the account's: bob logs in from the same address.
  assert.equal((await attempt(t, server, 'imap', BOB.address, BOB.password)).ok, true)
  // Past lockout_ms the account opens again to its password.
  await sleep(Math.max(0, lockedAt + lockoutMs + 200 - Date.now()))
  const after = await attempt(t, server, 'pop3', ALICE.address, ALICE.password)
  assert.equal(after.ok, true, `after the lockout: ${after.text}`)
  assertNoErrors(server)
})

test('password guessing: one address guessing many accounts is locked out for all of them', async (t) => {
  const server = await startFullServer(
    t,
    '[auth]\nmax_account_failures = 100\nmax_ip_failures = 4\nlockout_ms = 3000\n',
  )
  const protocols = ['smtp', 'imap', 'pop3', 'imap-authenticate'] as const
  for (const [i, protocol] of protocols.entries()) {
    const outcome = await attempt(t, server, protocol, `guess${i}@example.test`, 'guess')
    assertDelay(outcome, i + 1, `${protocol} guess ${i + 1}`)
  }
  const lockedAt = Date.now()
  // Locked: bob's right password is refused at once (before any password is looked at).
  for (const protocol of ['smtp', 'imap', 'pop3'] as const) {
    const outcome = await attempt(t, server, protocol, BOB.address, BOB.password)
    assert.equal(outcome.ok, false, `${protocol} from the locked address: ${outcome.text}`)
    assert.match(outcome.text, /^454 4\.7\.0|\[UNAVAILABLE\]|\[SYS\/TEMP\]/)
    assert.ok(outcome.ms < 1000, `${protocol}: refused after ${outcome.ms} ms`)
  }
  // Another address is not locked.
  assert.equal((await attempt(t, server, 'imap', BOB.address, BOB.password, '127.0.0.2')).ok, true)
  await sleep(Math.max(0, lockedAt + 3000 + 200 - Date.now()))
  assert.equal((await attempt(t, server, 'smtp', BOB.address, BOB.password)).ok, true)
  assertNoErrors(server)
})

// --- mailbox isolation ----------------------------------------------------------------------

const BOB_SECRET = 'BOB-SECRET'

/** Names that try to leave the account's namespace, by path, namespace, encoding or wildcard. */
const HOSTILE_NAMES = [
  '..',
  '../bob',
  '../bob@example.test',
  '../bob@example.test/INBOX',
  '../../bob/INBOX',
  'INBOX/..',
  'INBOX/../',
  'INBOX/../bob',
  'INBOX/../../bob@example.test/Private',
  '/bob',
  '/',
  '//',
  '~bob',
  '~bob/INBOX',
  '~bob@example.test/Private',
  '#shared',
  '#shared/bob',
  '#shared/bob@example.test/Private',
  '#users/bob/INBOX',
  '#public/Private',
  'user/bob',
  'user.bob.Private',
  'Other Users/bob/INBOX',
  'bob@example.test/INBOX',
  'bob@example.test',
  'Private',
  'Private/Deep',
  'PRIVATE',
  'INBOX.Private',
  'INBOX/Private',
  '\\bob',
  '%',
  '*',
  '%/%',
  'Private/%',
  '&AC8-bob',
  '..&AC8-bob',
  '&AC4ALg-&AC8-bob',
  'INBOX&AC8-..&AC8-bob',
  '&AC4ALg-',
  'x'.repeat(2000),
  `${'a/'.repeat(400)}b`,
]

/** The same names as raw octets that only a literal can carry (NUL, CR). */
const HOSTILE_LITERALS = ['INBOX\0../bob', 'Private\0', '\0', '../bob\r', 'INBOX\r\n../bob']

/** A mailbox argument: quoted when it can be, a literal otherwise. */
function mailboxArgument(name: string): string {
  return /^[\x20-\x7e]*$/.test(name) && name.length < 1000
    ? `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`
    : `{${Buffer.byteLength(name)}+}\r\n${name}`
}

test('mailbox isolation: no IMAP command with any mailbox name reaches another account', async (t) => {
  const server = await startFullServer(t, '[imap]\nmax_errors = 1000\n')
  const { store } = server
  // Bob: a secret in INBOX and in Private/Deep, and a message limit of 500; alice: 1000.
  await server.directory.addUser('carol@example.test', 'carol-secret-1')
  const bob = await store.getAccount(BOB.address)
  const alice = await store.getAccount(ALICE.address)
  assert.ok(bob !== null && alice !== null)
  await store.setQuota(BOB.address, { messages: 500 })
  await store.setQuota(ALICE.address, { messages: 1000 })
  const bobPrivate = await store.createMailbox(bob.id, 'Private')
  const bobDeep = await store.createMailbox(bob.id, 'Private/Deep')
  const bobInbox = await store.getMailbox(bob.id, 'INBOX')
  assert.ok(bobInbox !== null)
  for (const mailbox of [bobInbox, bobPrivate, bobDeep]) {
    await store.deliver(
      {
        bytes: Buffer.from(`Subject: ${BOB_SECRET} ${mailbox.name}\r\n\r\n${'b'.repeat(5000)}\r\n`),
      },
      [{ mailboxId: mailbox.id }],
    )
  }
  const aliceInbox = await store.getMailbox(alice.id, 'INBOX')
  assert.ok(aliceInbox !== null)
  await store.deliver({ bytes: Buffer.from('Subject: alice own\r\n\r\nmine\r\n') }, [
    { mailboxId: aliceInbox.id },
  ])
  const bobBefore = await snapshot(store, bob.id)

  const seen: string[] = []
  let isUtf8 = false
  let n = 0
  // Refusals count toward the session's error limit (1000 at most): a new session now and then.
  let client: ImapTestClient | null = null
  let refusals = 0
  const accepted: string[] = []
  const session = async () => {
    if (client !== null && refusals < 900) return client
    client?.socket.destroy()
    client = await ImapTestClient.connect(t, server.ports.imap)
    await client.readLine()
    assert.match(await client.login(ALICE), /^L1 OK /)
    if (isUtf8) await client.command('U1', 'ENABLE UTF8=ACCEPT')
    refusals = 0
    return client
  }
  const run = async (command: string) => {
    n += 1
    const tag = `t${n}`
    let response: ImapResponse
    try {
      response = await sendWithLiterals(await session(), tag, command)
    } catch (error) {
      throw new Error(`${JSON.stringify(command.slice(0, 300))}: ${(error as Error).message}`)
    }
    if (!response.tagged.startsWith(`${tag} OK`)) refusals += 1
    else accepted.push(command.slice(0, 60))
    seen.push(...response.untagged, response.tagged)
    // Every name alice is shown is one of hers (or one she subscribed to) at that moment.
    const names = response.untagged.filter((line) => /^\* (LIST|LSUB|STATUS) /.test(line))
    if (names.length > 0) {
      const own = new Set([
        ...(await store.listMailboxes(alice.id)).map((mailbox) => mailbox.name),
        ...(await store.listSubscriptions(alice.id)),
      ])
      for (const line of names) {
        const name = listedName(line, isUtf8)
        assert.ok(
          name !== null && (own.has(name) || isParentOf(name, own)),
          `${command}: alice was shown a mailbox that is not hers: ${line}`,
        )
      }
    }
    assert.match(
      response.tagged,
      new RegExp(`^${tag} (OK|NO|BAD) `),
      `${command}: ${response.tagged}`,
    )
    return response
  }
  const names = [...HOSTILE_NAMES, ...HOSTILE_LITERALS]
  for (const utf8 of [false, true]) {
    if (utf8) {
      await run('ENABLE UTF8=ACCEPT')
      isUtf8 = true
    }
    for (const [i, name] of names.entries()) {
      const arg = mailboxArgument(name)
      await run(`SELECT ${arg}`)
      await run(`EXAMINE ${arg}`)
      await run(`STATUS ${arg} (MESSAGES UIDNEXT SIZE)`)
      await run(`GETQUOTAROOT ${arg}`)
      await run(`LIST "" ${arg}`)
      await run(`LIST ${arg} "*"`)
      await run(`LIST ${arg} "%"`)
      await run(`LSUB ${arg} "*"`)
      await run(`SUBSCRIBE ${arg}`)
      await run(`UNSUBSCRIBE ${arg}`)
      await run(`CREATE ${arg}`)
      await run(`RENAME ${arg} "taken-${utf8}-${i}"`)
      await run(`APPEND ${arg} ${messageLiteral('appended')}`)
      await run('SELECT INBOX')
      await run(`COPY 1 ${arg}`)
      // A message of alice's own to move: the move either fails or lands in her account.
      const appended = await run(`APPEND INBOX ${messageLiteral('moved')}`)
      const uid = /APPENDUID \d+ (\d+)/.exec(appended.tagged)?.[1]
      await run('NOOP')
      await run(`UID MOVE ${uid} ${arg}`)
      await run('CLOSE')
      await run(`RENAME "INBOX" ${arg}`)
      await run(`DELETE ${arg}`)
    }
  }
  for (const [reference, pattern] of [
    ['""', '"*"'],
    ['"../"', '"*"'],
    ['""', '"../*"'],
    ['"~bob"', '"*"'],
    ['"#shared"', '"*"'],
    ['"/"', '"*"'],
    ['""', '"/*"'],
    ['"INBOX/.."', '"*"'],
    ['""', '"%/%/%"'],
  ]) {
    await run(`LIST (SUBSCRIBED) ${reference} ${pattern} RETURN (STATUS (MESSAGES))`)
    await run(`LIST ${reference} ${pattern}`)
  }
  await run('LOGOUT')

  t.diagnostic(`${n} commands, ${accepted.length} answered OK`)
  // Alice never read bob's secret or saw his quota (a limit of 500).
  const transcript = seen.join('\n')
  assert.ok(!transcript.includes(BOB_SECRET), "bob's message reached alice")
  assert.doesNotMatch(transcript, /MESSAGE \d+ 500\)/, "bob's quota reached alice")
  // Bob's account is as it was.
  assert.deepEqual(await snapshot(store, bob.id), bobBefore)
  assertNoErrors(server)
})

/** An account's mailboxes and their messages, to compare before and after. */
async function snapshot(store: Store, accountId: number) {
  const result: Array<{ name: string; messages: string[] }> = []
  const account = await store.getAccountById(accountId)
  for (const mailbox of await store.listMailboxes(accountId)) {
    result.push({
      name: mailbox.name,
      messages: await subjects(store, account?.address ?? '', mailbox.name),
    })
  }
  return result.sort((a, b) => a.name.localeCompare(b.name))
}

function isParentOf(name: string, names: Set<string>): boolean {
  for (const candidate of names) if (candidate.startsWith(`${name}/`)) return true
  return false
}

/** The mailbox a LIST, LSUB or STATUS line names, decoded as the store keeps names. */
function listedName(line: string, utf8: boolean): string | null {
  const values = parseResponse(line)
  const isStatus = atomOf(values[1]) === 'STATUS'
  const value = isStatus ? values[2] : values[4]
  const wire = stringOrAtom(value)
  if (wire === null) return null
  return utf8 ? Buffer.from(wire, 'latin1').toString('utf8') : decodeMailboxName(wire)
}

function atomOf(value: Sexp | undefined): string | null {
  return value !== null && value !== undefined && !Array.isArray(value) && 'atom' in value
    ? value.atom.toUpperCase()
    : null
}

function stringOrAtom(value: Sexp | undefined): string | null {
  if (value === null || value === undefined || Array.isArray(value)) return null
  return 'string' in value ? value.string : value.atom
}

/** A short message as a LITERAL+ literal, for APPEND. */
function messageLiteral(subject: string): string {
  const message = `Subject: ${subject}\r\n\r\nx\r\n`
  return `{${Buffer.byteLength(message)}+}\r\n${message}`
}

/** Sends a command whose text may hold LITERAL+ literals ("{n+}\r\n" inline). */
async function sendWithLiterals(client: ImapTestClient, tag: string, command: string) {
  client.write(Buffer.from(`${tag} ${command}\r\n`, 'utf8'))
  return client.response(tag)
}

// --- logins spelt oddly ---------------------------------------------------------------------

/** A marker message in each account's INBOX tells whose mailbox a login opened. */
const ACCOUNTS = [
  { address: ALICE.address, password: ALICE.password },
  { address: BOB.address, password: BOB.password },
  { address: 'jos\u00e9@example.test', password: 'jose-accent-pw-1' },
  { address: 'jose@example.test', password: 'jose-plain-pw-1' },
]

/**
 * A login name, the password of one account, and what may come of it: that account (or a
 * refusal), or only a refusal. Never another account.
 */
const LOGIN_SPELLINGS: Array<{ login: string; password: string; may: string | null }> = [
  { login: 'BOB@EXAMPLE.TEST', password: BOB.password, may: BOB.address },
  { login: 'bob@Example.Test', password: BOB.password, may: BOB.address },
  { login: 'BOB@EXAMPLE.TEST', password: ALICE.password, may: null },
  { login: 'bob@example.test.', password: BOB.password, may: BOB.address },
  {
    login: 'bob@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.test',
    password: BOB.password,
    may: BOB.address,
  },
  { login: 'bob\u200b@example.test', password: BOB.password, may: BOB.address },
  { login: 'bob\u200d@example.test', password: BOB.password, may: BOB.address },
  { login: '\uff42\uff4f\uff42@example.test', password: BOB.password, may: BOB.address },
  { login: 'bob+tag@example.test', password: BOB.password, may: BOB.address },
  { login: '"bob"@example.test', password: BOB.password, may: BOB.address },
  { login: 'bob', password: BOB.password, may: BOB.address },
  { login: 'alice@example.test\u0000bob@example.test', password: BOB.password, may: null },
  { login: 'ALI\u0130CE@example.test', password: ALICE.password, may: ALICE.address },
  // NFC and NFD of "josé", and the "jose" without an accent that is another account. Each
  // account's refusals come between its logins (a login clears its count of failures), so the
  // throttle's delays stay short.
  { login: 'jos\u00e9@example.test', password: 'jose-accent-pw-1', may: 'jos\u00e9@example.test' },
  { login: 'jose\u0301@example.test', password: 'jose-plain-pw-1', may: null },
  { login: 'jose\u0301@example.test', password: 'jose-accent-pw-1', may: 'jos\u00e9@example.test' },
  { login: 'jos\u00e9@example.test', password: 'jose-plain-pw-1', may: null },
  { login: 'JOSE\u0301@EXAMPLE.TEST', password: 'jose-accent-pw-1', may: 'jos\u00e9@example.test' },
  { login: 'jose@example.test', password: 'jose-accent-pw-1', may: null },
  { login: 'jose@example.test', password: 'jose-plain-pw-1', may: 'jose@example.test' },
]

test('logins with odd case and UTF-8 open the right account or none, over IMAP and POP3', async (t) => {
  const server = await startFullServer(
    t,
    '[auth]\nmax_account_failures = 1000\nmax_ip_failures = 1000\n',
  )
  const { store, directory } = server
  for (const account of ACCOUNTS.slice(2))
    await directory.addUser(account.address, account.password)
  for (const account of ACCOUNTS) {
    const found = await store.getAccount(account.address)
    const inbox = found === null ? null : await store.getMailbox(found.id, 'INBOX')
    assert.ok(inbox !== null, account.address)
    await store.deliver(
      { bytes: Buffer.from(`Subject: owner ${account.address}\r\n\r\n.\r\n`, 'utf8') },
      [{ mailboxId: inbox.id }],
    )
  }
  const rng = new Rng(TORTURE_SEED ^ 0x10c1)
  const outcomes = new Map<string, string[]>()
  for (const { login, password, may } of LOGIN_SPELLINGS) {
    for (const protocol of ['imap', 'imap-authenticate', 'pop3'] as const) {
      // Each attempt from its own address, so the throttle's delays stay short.
      const from = `127.${rng.range(1, 254)}.${rng.range(0, 255)}.${rng.range(1, 254)}`
      const owner = await whoseMailbox(t, server, protocol, login, password, from)
      const what = `${protocol} login ${JSON.stringify(login)} with ${password}`
      if (owner !== null) assert.equal(owner, may, `${what} opened ${owner}'s mailbox`)
      outcomes.set(`${JSON.stringify(login)} with ${password}`, [
        ...(outcomes.get(`${JSON.stringify(login)} with ${password}`) ?? []),
        `${protocol} ${owner ?? 'refused'}`,
      ])
    }
  }
  for (const [attempt, results] of outcomes) t.diagnostic(`${attempt}: ${results.join(', ')}`)
  // Each account's own spelling opens its own mailbox.
  for (const account of ACCOUNTS) {
    for (const protocol of ['imap', 'pop3'] as const) {
      const owner = await whoseMailbox(
        t,
        server,
        protocol,
        account.address,
        account.password,
        '127.0.0.1',
      )
      assert.equal(owner, account.address, `${protocol} login of ${account.address}`)
    }
  }
  assertNoErrors(server)
})

/** Logs in as `login`; the owner of the mailbox it opened, or null when the login was refused. */
async function whoseMailbox(
  t: TestContext,
  server: Server,
  protocol: 'imap' | 'imap-authenticate' | 'pop3',
  login: string,
  password: string,
  localAddress: string,
): Promise<string | null> {
  if (protocol === 'pop3') {
    const client = new Pop3TestClient(
      await socketFrom(t, server.ports.pop3, localAddress),
      'latin1',
    )
    await client.read()
    client.write(
      Buffer.concat([Buffer.from('USER '), Buffer.from(login, 'utf8'), Buffer.from('\r\n')]),
    )
    const user = await client.read()
    if (!user.isOk) return null
    client.write(
      Buffer.concat([Buffer.from('PASS '), Buffer.from(password, 'utf8'), Buffer.from('\r\n')]),
    )
    if (!(await client.read()).isOk) return null
    const top = await client.multi('TOP 1 0')
    await client.command('QUIT')
    await client.closed()
    return ownerIn(Buffer.from(top.lines.join('\n'), 'latin1').toString('utf8'))
  }
  const client = new ImapTestClient(await socketFrom(t, server.ports.imap, localAddress), 'latin1')
  await client.readLine()
  const plain = Buffer.from(`\0${login}\0${password}`, 'utf8').toString('base64')
  const response =
    protocol === 'imap'
      ? await imapLogin(client, login, password)
      : await client.command('A1', `AUTHENTICATE PLAIN ${plain}`)
  if (!/^\S+ OK /.test(response.tagged)) return null
  await client.command('S1', 'SELECT INBOX')
  const fetched = await client.command('F1', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
  await client.command('Z', 'LOGOUT')
  return ownerIn(Buffer.from(fetched.untagged.join('\n'), 'latin1').toString('utf8'))
}

function ownerIn(text: string): string {
  const owner = /Subject: owner (\S+)/.exec(text)?.[1]
  assert.ok(owner !== undefined, `no owner marker in ${JSON.stringify(text)}`)
  return owner
}
