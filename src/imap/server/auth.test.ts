import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { ALICE, ImapTestClient, startImapServer } from '../../../test/support/imap.ts'
import { clientProof } from '../../../test/support/scram-client.ts'
import { AuthThrottle } from '../../auth/index.ts'

// Logging in: LOGIN, AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959) and each mechanism,
// STARTTLS and the plaintext policy, failure throttling and its response codes (RFC 5530).

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')
const OK_LOGIN =
  /^a\d OK \[CAPABILITY IMAP4rev2 IMAP4rev1 LITERAL\+ ID ENABLE [^\]]*\] (LOGIN|AUTHENTICATE) completed$/

test('LOGIN: a wrong password or user is [AUTHENTICATIONFAILED]; the right one logs in', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  const failed = (tag: string) => `${tag} NO [AUTHENTICATIONFAILED] Invalid credentials`
  assert.equal((await client.command('a1', `LOGIN ${ALICE.address} wrong`)).tagged, failed('a1'))
  assert.equal((await client.command('a2', 'LOGIN nobody@example.test x')).tagged, failed('a2'))
  assert.equal((await client.command('a3', 'LOGIN not-an-address x')).tagged, failed('a3'))
  // Any spelling of the address logs in as the account.
  assert.match(
    (await client.command('a4', `LOGIN "Alice@EXAMPLE.test" "${ALICE.password}"`)).tagged,
    OK_LOGIN,
  )
})

test('failures are answered later and later, then the IP is locked out with [UNAVAILABLE]', async (t) => {
  const throttle = new AuthThrottle({ maxIpFailures: 3, baseDelayMs: 100 })
  const { port } = await startImapServer(t, { throttle })
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  const times: number[] = []
  for (let i = 0; i < 3; i += 1) {
    const started = Date.now()
    assert.match(
      (await client.command(`a${i}`, `LOGIN ${ALICE.address} wrong`)).tagged,
      /AUTHENTICATIONFAILED/,
    )
    times.push(Date.now() - started)
  }
  assert.ok((times[2] ?? 0) >= 150, `third failure answered after ${times[2]} ms`)
  // Locked: even the right password is not looked at, by either command.
  assert.equal(
    (await client.command('b1', `LOGIN ${ALICE.address} ${ALICE.password}`)).tagged,
    'b1 NO [UNAVAILABLE] Too many authentication failures, try again later',
  )
  assert.equal(
    (
      await client.command(
        'b2',
        `AUTHENTICATE PLAIN ${b64(`\0${ALICE.address}\0${ALICE.password}`)}`,
      )
    ).tagged,
    'b2 NO [UNAVAILABLE] Too many authentication failures, try again later',
  )
})

test('allow_plaintext "never": LOGINDISABLED and [PRIVACYREQUIRED] until STARTTLS', async (t) => {
  const { port } = await startImapServer(t, { config: { allowPlaintext: 'never' } })
  const client = await ImapTestClient.connect(t, port)
  assert.equal(
    await client.readLine(),
    '* OK [CAPABILITY IMAP4rev2 IMAP4rev1 STARTTLS LOGINDISABLED LITERAL+ ID] imap.example.test Postern IMAP ready',
  )
  assert.equal(
    (await client.command('a1', `LOGIN ${ALICE.address} ${ALICE.password}`)).tagged,
    'a1 NO [PRIVACYREQUIRED] Logging in needs TLS here, use STARTTLS first',
  )
  assert.equal(
    (await client.command('a2', 'AUTHENTICATE PLAIN')).tagged,
    'a2 NO [PRIVACYREQUIRED] Logging in needs TLS here, use STARTTLS first',
  )
  // A command pipelined behind STARTTLS is discarded, never run under TLS.
  client.write('s1 STARTTLS\r\ns2 NOOP\r\n')
  assert.deepEqual(await client.response('s1'), {
    untagged: [],
    tagged: 's1 OK Begin TLS negotiation now',
  })
  await client.handshake()
  assert.deepEqual(await client.command('c1', 'CAPABILITY'), {
    untagged: [
      '* CAPABILITY IMAP4rev2 IMAP4rev1 AUTH=SCRAM-SHA-256 AUTH=PLAIN AUTH=LOGIN SASL-IR LITERAL+ ID',
    ],
    tagged: 'c1 OK CAPABILITY completed',
  })
  assert.equal((await client.command('c2', 'STARTTLS')).tagged, 'c2 BAD TLS is already active')
  assert.match(
    (await client.command('a3', `LOGIN ${ALICE.address} ${ALICE.password}`)).tagged,
    OK_LOGIN,
  )
})

test('AUTHENTICATE PLAIN with an initial response, with a continuation; cancel and bad base64', async (t) => {
  const { port } = await startImapServer(t)
  const plain = b64(`\0${ALICE.address}\0${ALICE.password}`)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.equal(
    (await client.command('x1', 'AUTHENTICATE CRAM-MD5')).tagged,
    'x1 NO Mechanism CRAM-MD5 is not supported',
  )
  assert.equal(
    (await client.command('x2', 'AUTHENTICATE PLAIN @@@@')).tagged,
    'x2 BAD The initial response is not valid base64',
  )
  assert.equal(
    (await client.command('x3', 'AUTHENTICATE PLAIN abc')).tagged,
    'x3 BAD The initial response is not valid base64',
  )
  client.write('x4 AUTHENTICATE PLAIN\r\n')
  assert.equal(await client.readLine(), '+ ')
  client.write('*\r\n')
  assert.equal((await client.response('x4')).tagged, 'x4 BAD Authentication cancelled')
  client.write('x5 AUTHENTICATE PLAIN\r\n')
  assert.equal(await client.readLine(), '+ ')
  client.write('not base64!\r\n')
  assert.equal((await client.response('x5')).tagged, 'x5 BAD The response is not valid base64')
  client.write('x6 AUTHENTICATE PLAIN\r\n')
  assert.equal(await client.readLine(), '+ ')
  client.write(`${b64(`\0${ALICE.address}\0wrong`)}\r\n`)
  assert.equal(
    (await client.response('x6')).tagged,
    'x6 NO [AUTHENTICATIONFAILED] Invalid credentials',
  )
  assert.match((await client.command('a1', `authenticate plain ${plain}`)).tagged, OK_LOGIN)

  const other = await ImapTestClient.connect(t, port)
  await other.readLine()
  other.write('a2 AUTHENTICATE PLAIN\r\n')
  assert.equal(await other.readLine(), '+ ')
  other.write(`${plain}\r\n`)
  assert.match((await other.response('a2')).tagged, OK_LOGIN)
})

test('AUTHENTICATE LOGIN asks for the user name and the password', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  client.write('a1 AUTHENTICATE LOGIN\r\n')
  assert.equal(await client.readLine(), `+ ${b64('Username:')}`)
  client.write(`${b64(ALICE.address)}\r\n`)
  assert.equal(await client.readLine(), `+ ${b64('Password:')}`)
  client.write(`${b64(ALICE.password)}\r\n`)
  assert.match((await client.response('a1')).tagged, OK_LOGIN)
})

test('AUTHENTICATE SCRAM-SHA-256: the final server message is a challenge answered with an empty line', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  const nonce = randomBytes(18).toString('base64')
  const clientFirstBare = `n=${ALICE.address},r=${nonce}`
  client.write(`a1 AUTHENTICATE SCRAM-SHA-256 ${b64(`n,,${clientFirstBare}`)}\r\n`)
  const first = await client.readLine()
  assert.match(first, /^\+ /)
  const serverFirst = Buffer.from(first.slice(2), 'base64').toString()
  const serverNonce = /r=([^,]+)/.exec(serverFirst)?.[1] ?? ''
  assert.ok(serverNonce.startsWith(nonce))
  const withoutProof = `c=biws,r=${serverNonce}`
  const proof = clientProof(ALICE.password, serverFirst, clientFirstBare, withoutProof)
  client.write(`${b64(`${withoutProof},p=${proof}`)}\r\n`)
  const final = await client.readLine()
  assert.match(Buffer.from(final.slice(2), 'base64').toString(), /^v=/)
  client.write('\r\n')
  assert.match((await client.response('a1')).tagged, OK_LOGIN)
})
