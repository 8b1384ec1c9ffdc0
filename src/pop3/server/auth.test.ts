import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { ALICE, Pop3TestClient, startPop3Server } from '../../../test/support/pop3.ts'
import { clientProof } from '../../../test/support/scram-client.ts'

// Logging in: USER/PASS, AUTH (RFC 5034) with each mechanism, APOP, STLS and implicit TLS, the
// plaintext policy, and failure throttling.

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')

test('a wrong password is [AUTH] and sends the client back to USER; the right one logs in', async (t) => {
  const { ports } = await startPop3Server(t)
  const client = await Pop3TestClient.connect(t, ports.pop3)
  await client.read()
  await client.command(`USER ${ALICE.address}`)
  assert.equal(
    (await client.command('PASS wrong')).raw,
    '-ERR [AUTH] Invalid login or password\r\n',
  )
  assert.equal((await client.command(`PASS ${ALICE.password}`)).raw, '-ERR Send USER first\r\n')
  await client.command('USER nobody@example.test')
  assert.equal(
    (await client.command('PASS whatever')).raw,
    '-ERR [AUTH] Invalid login or password\r\n',
  )
  assert.equal((await client.command('USER not an address')).raw, '-ERR Usage: USER name\r\n')
  await client.command('USER not-an-address')
  assert.equal((await client.command('PASS x')).raw, '-ERR [AUTH] Invalid login or password\r\n')
  // Any spelling of the address logs in as the account.
  await client.command('USER Alice@EXAMPLE.test')
  assert.equal(
    (await client.command(`PASS ${ALICE.password}`)).status,
    '+OK alice@example.test has 0 messages (0 octets)',
  )
})

test('AUTH PLAIN and LOGIN, with and without an initial response; cancel and bad base64', async (t) => {
  const { ports } = await startPop3Server(t)
  const plain = b64(`\0${ALICE.address}\0${ALICE.password}`)
  const a = await Pop3TestClient.connect(t, ports.pop3)
  await a.read()
  assert.deepEqual((await a.multi('AUTH')).lines, ['SCRAM-SHA-256', 'PLAIN', 'LOGIN'])
  assert.equal(
    (await a.command('AUTH CRAM-MD5')).raw,
    '-ERR Mechanism CRAM-MD5 is not supported\r\n',
  )
  assert.equal(
    (await a.command('AUTH PLAIN @@@@')).raw,
    '-ERR The initial response is not valid base64\r\n',
  )
  assert.equal((await a.command('AUTH PLAIN')).raw, '+ \r\n')
  assert.equal((await a.command('*')).raw, '-ERR Authentication cancelled\r\n')
  assert.equal((await a.command('AUTH PLAIN')).raw, '+ \r\n')
  assert.equal((await a.command('not base64!')).raw, '-ERR The response is not valid base64\r\n')
  assert.equal(
    (await a.command(`AUTH PLAIN ${plain}`)).status,
    '+OK alice@example.test has 0 messages (0 octets)',
  )
  await a.command('QUIT')

  const b = await Pop3TestClient.connect(t, ports.pop3)
  await b.read()
  assert.equal((await b.command('AUTH LOGIN')).raw, `+ ${b64('Username:')}\r\n`)
  assert.equal((await b.command(b64(ALICE.address))).raw, `+ ${b64('Password:')}\r\n`)
  assert.match((await b.command(b64(ALICE.password))).status, /^\+OK alice@example\.test has/)
})

test('AUTH SCRAM-SHA-256: the final server message is a challenge answered with an empty line', async (t) => {
  const { ports } = await startPop3Server(t)
  const client = await Pop3TestClient.connect(t, ports.pop3)
  await client.read()
  const nonce = randomBytes(18).toString('base64')
  const clientFirstBare = `n=${ALICE.address},r=${nonce}`
  const first = await client.command(`AUTH SCRAM-SHA-256 ${b64(`n,,${clientFirstBare}`)}`)
  assert.match(first.status, /^\+ /)
  const serverFirst = Buffer.from(first.status.slice(2), 'base64').toString()
  const serverNonce = /r=([^,]+)/.exec(serverFirst)?.[1] ?? ''
  const withoutProof = `c=biws,r=${serverNonce}`
  const proof = clientProof(ALICE.password, serverFirst, clientFirstBare, withoutProof)
  const final = await client.command(b64(`${withoutProof},p=${proof}`))
  assert.match(Buffer.from(final.status.slice(2), 'base64').toString(), /^v=/)
  assert.match((await client.command('')).status, /^\+OK alice@example\.test has 0 messages/)
})

test('plaintext policy: "never" refuses USER and AUTH before STLS, and STLS lets them in', async (t) => {
  const { ports } = await startPop3Server(t, '[pop3]\nallow_plaintext = "never"\n')
  const client = await Pop3TestClient.connect(t, ports.pop3)
  await client.read()
  const capa = (await client.multi('CAPA')).lines
  assert.ok(capa.includes('STLS'))
  assert.ok(!capa.includes('USER') && !capa.some((line) => line.startsWith('SASL')))
  assert.equal(
    (await client.command(`USER ${ALICE.address}`)).raw,
    '-ERR [AUTH] Plaintext authentication needs TLS here, send STLS first\r\n',
  )
  assert.equal(
    (await client.command('AUTH PLAIN')).raw,
    '-ERR [AUTH] Authentication needs TLS here, send STLS first\r\n',
  )
  await client.startTls()
  const after = (await client.multi('CAPA')).lines
  assert.ok(after.includes('USER') && !after.includes('STLS'))
  assert.equal((await client.command('STLS')).raw, '-ERR TLS is already active\r\n')
  await client.command(`USER ${ALICE.address}`)
  assert.match((await client.command(`PASS ${ALICE.password}`)).status, /^\+OK/)
})

test('STLS discards what was pipelined after it; a USER given before it is forgotten', async (t) => {
  const { ports } = await startPop3Server(t)
  const client = await Pop3TestClient.connect(t, ports.pop3)
  await client.read()
  await client.command(`USER ${ALICE.address}`)
  client.write('STLS\r\nCAPA\r\n')
  assert.equal((await client.read()).raw, '+OK Begin TLS negotiation\r\n')
  // The TLS handshake starts right after; the pipelined CAPA was dropped, not answered.
  const socket = client.socket
  socket.removeAllListeners('data')
  const { connect } = await import('node:tls')
  const secure = connect({ socket, rejectUnauthorized: false })
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', () => resolve())
    secure.once('error', reject)
  })
  secure.setEncoding('latin1')
  let received = ''
  secure.on('data', (chunk: string) => {
    received += chunk
  })
  secure.write(`PASS ${ALICE.password}\r\nQUIT\r\n`)
  await new Promise<void>((resolve) => secure.once('close', () => resolve()))
  assert.equal(received, '-ERR Send USER first\r\n+OK pop.example.test POP3 server signing off\r\n')
})

test('pop3s: implicit TLS from the first octet, no STLS offered', async (t) => {
  const { ports } = await startPop3Server(t, '[pop3]\nallow_plaintext = "never"\n')
  const client = await Pop3TestClient.connect(t, ports.pop3s, { tls: true })
  assert.match((await client.read()).status, /^\+OK pop\.example\.test POP3 Postern ready$/)
  const capa = (await client.multi('CAPA')).lines
  assert.ok(capa.includes('USER') && !capa.includes('STLS'))
  await client.command(`USER ${ALICE.address}`)
  assert.match((await client.command(`PASS ${ALICE.password}`)).status, /^\+OK/)
})

test('APOP: off by default; when on, the greeting has a challenge and the digest logs in', async (t) => {
  const off = await startPop3Server(t)
  const plain = await Pop3TestClient.connect(t, off.ports.pop3)
  assert.doesNotMatch((await plain.read()).status, /</)
  assert.equal(
    (await plain.command(`APOP ${ALICE.address} ${'0'.repeat(32)}`)).raw,
    '-ERR APOP is not offered here\r\n',
  )

  const on = await startPop3Server(t, '[pop3]\napop = true\n')
  const client = await Pop3TestClient.connect(t, on.ports.pop3)
  const greeting = (await client.read()).status
  const challenge = /(<[^>]+@pop\.example\.test>)$/.exec(greeting)?.[1] ?? ''
  assert.notEqual(challenge, '')
  const digest = (secret: string) => createHash('md5').update(`${challenge}${secret}`).digest('hex')
  assert.equal(
    (await client.command(`APOP ${ALICE.address}`)).raw,
    '-ERR Usage: APOP name digest\r\n',
  )
  assert.equal(
    (await client.command(`APOP ${ALICE.address} ${digest('wrong')}`)).raw,
    '-ERR [AUTH] Invalid login or password\r\n',
  )
  assert.equal(
    (await client.command(`APOP nobody@example.test ${digest(ALICE.password)}`)).raw,
    '-ERR [AUTH] Invalid login or password\r\n',
  )
  assert.match(
    (await client.command(`APOP ${ALICE.address} ${digest(ALICE.password)}`)).status,
    /^\+OK alice/,
  )
  // Each connection has its own challenge: a digest cannot be replayed on another.
  const other = await Pop3TestClient.connect(t, on.ports.pop3)
  assert.notEqual((await other.read()).status, greeting)
  assert.equal(
    (await other.command(`APOP ${ALICE.address} ${digest(ALICE.password)}`)).raw,
    '-ERR [AUTH] Invalid login or password\r\n',
  )
})

test('failures are answered later and later, then the IP is locked out with [SYS/TEMP]', async (t) => {
  const { ports } = await startPop3Server(t, '[auth]\nmax_ip_failures = 3\n')
  const client = await Pop3TestClient.connect(t, ports.pop3)
  await client.read()
  const times: number[] = []
  for (let i = 0; i < 3; i += 1) {
    await client.command(`USER ${ALICE.address}`)
    const started = Date.now()
    assert.equal(
      (await client.command('PASS wrong')).raw,
      '-ERR [AUTH] Invalid login or password\r\n',
    )
    times.push(Date.now() - started)
  }
  assert.ok((times[2] ?? 0) >= 400, `third failure answered after ${times[2]} ms`)
  await client.command(`USER ${ALICE.address}`)
  // Locked: even the right password is not looked at.
  assert.equal(
    (await client.command(`PASS ${ALICE.password}`)).raw,
    '-ERR [SYS/TEMP] Too many authentication failures, try again later\r\n',
  )
})

test('failures count for the account however its address is spelt', async (t) => {
  const { ports } = await startPop3Server(
    t,
    '[auth]\nmax_account_failures = 3\nmax_ip_failures = 100\n',
  )
  const client = await Pop3TestClient.connect(t, ports.pop3)
  await client.read()
  for (const spelling of ['alice@example.test.', 'ALICE@Example.Test', 'alice@\uff45xample.test']) {
    await client.command(`USER ${spelling}`)
    assert.equal(
      (await client.command('PASS wrong')).raw,
      '-ERR [AUTH] Invalid login or password\r\n',
    )
  }
  // Three failures under three spellings lock the one account: the right password is refused.
  await client.command(`USER ${ALICE.address}`)
  assert.equal(
    (await client.command(`PASS ${ALICE.password}`)).raw,
    '-ERR [AUTH] Invalid login or password\r\n',
  )
})
