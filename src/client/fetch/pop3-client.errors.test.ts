// Pop3Client against a scripted server: the paths a real server seldom takes (USER/PASS, no
// UIDL, no STLS) and broken or hostile replies (lines past the bounds, a message past the
// limit, a connection cut mid-message, garbage, silence).
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type FakeSession, startFakeServer } from './fake-server.ts'
import { MailClientError } from './mail-socket.ts'
import { Pop3Client } from './pop3-client.ts'

/** A fake POP3 server: greeting, CAPA answered with `capa` (null: -ERR), then `script`. */
async function fakePop3(
  t: TestContext,
  script: (session: FakeSession) => Promise<void>,
  capa: string[] | null = ['UIDL', 'USER'],
) {
  return startFakeServer(t, async (session) => {
    session.write('+OK fake POP3 ready\r\n')
    await session.expect(/^CAPA$/)
    session.write(
      capa === null ? '-ERR unknown command\r\n' : `+OK\r\n${capa.join('\r\n')}\r\n.\r\n`,
    )
    await script(session)
  })
}

async function loggedIn(
  port: number,
  options: { maxMessageOctets?: number; timeoutMs?: number } = {},
) {
  const client = await Pop3Client.connect({ host: '127.0.0.1', port, security: 'none', ...options })
  await client.login('user', 'pass word')
  return client
}

/** USER/PASS answered +OK. */
async function userPass(session: FakeSession): Promise<void> {
  await session.expect(/^USER user$/)
  session.write('+OK\r\n')
  await session.expect(/^PASS pass word$/)
  session.write('+OK maildrop locked\r\n')
}

const isKind = (kind: string, pattern: RegExp) => (error: unknown) =>
  error instanceof MailClientError && error.kind === kind && pattern.test(error.message)

test('without SASL PLAIN in CAPA it logs in with USER and PASS; -ERR at PASS is kind auth', async (t) => {
  const { port, sessions } = await fakePop3(
    t,
    async (session) => {
      await session.expect(/^USER user$/)
      session.write('+OK\r\n')
      await session.expect(/^PASS pass word$/)
      session.write('-ERR [AUTH] go away\r\n')
    },
    null,
  )
  const client = await Pop3Client.connect({ host: '127.0.0.1', port, security: 'none' })
  t.after(() => client.close())
  assert.deepEqual(client.capabilities, [])
  await assert.rejects(client.login('user', 'pass word'), isKind('auth', /\[AUTH\] go away/))
  assert.deepEqual(sessions[0]?.lines, ['CAPA', 'USER user', 'PASS pass word'])
})

test('AUTH PLAIN answers a continuation when the initial response would not fit a line', async (t) => {
  const user = 'u'.repeat(200)
  const expected = Buffer.from(`\0${user}\0secret`).toString('base64')
  const { port } = await fakePop3(
    t,
    async (session) => {
      await session.expect(/^AUTH PLAIN$/)
      session.write('+ \r\n')
      await session.expect(new RegExp(`^${expected.replace(/\+/g, '\\+')}$`))
      session.write('+OK welcome\r\n')
    },
    ['SASL SCRAM-SHA-256 PLAIN'],
  )
  const client = await Pop3Client.connect({ host: '127.0.0.1', port, security: 'none' })
  t.after(() => client.close())
  await client.login(user, 'secret')
})

test('starttls refuses a server that does not offer STLS, before any credentials', async (t) => {
  const { port, sessions } = await fakePop3(t, async () => {})
  await assert.rejects(
    Pop3Client.connect({ host: '127.0.0.1', port, security: 'starttls' }),
    isKind('tls', /does not offer STLS/),
  )
  assert.deepEqual(sessions[0]?.lines, ['CAPA'])
})

test('UIDL refused is kind protocol, saying the server lacks UIDL', async (t) => {
  const { port } = await fakePop3(t, async (session) => {
    await userPass(session)
    await session.expect(/^UIDL$/)
    session.write('-ERR what?\r\n')
  })
  const client = await loggedIn(port)
  t.after(() => client.close())
  await assert.rejects(client.uidl(), isKind('protocol', /does not support UIDL: what\?/))
})

test('a status line over 8 KiB is kind protocol', async (t) => {
  const { port } = await fakePop3(t, async (session) => {
    await userPass(session)
    await session.expect(/^LIST$/)
    session.write(`+OK ${'x'.repeat(9000)}\r\n`)
  })
  const client = await loggedIn(port)
  t.after(() => client.close())
  await assert.rejects(
    client.list(),
    isKind('protocol', /longer than 8192 octets in reply to LIST/),
  )
})

test('a message line over 1 MiB, and a message over maxMessageOctets, are kind protocol', async (t) => {
  const { port } = await fakePop3(t, async (session) => {
    await userPass(session)
    await session.expect(/^RETR 1$/)
    session.write(`+OK\r\nSubject: x\r\n\r\n${'y'.repeat(1024 * 1024 + 10)}\r\n.\r\n`)
    await session.readLine()
  })
  const client = await loggedIn(port)
  t.after(() => client.close())
  await assert.rejects(client.retrieve(1), isKind('protocol', /longer than/))
  await assert.rejects(client.list(), isKind('closed', /no longer usable/))

  const small = await fakePop3(t, async (session) => {
    await userPass(session)
    await session.expect(/^RETR 2$/)
    session.write('+OK\r\n')
    for (let i = 0; i < 100; i += 1) session.write(`${'z'.repeat(78)}\r\n`)
    session.write('.\r\n')
  })
  const limited = await loggedIn(small.port, { maxMessageOctets: 1000 })
  t.after(() => limited.close())
  await assert.rejects(limited.retrieve(2), isKind('protocol', /larger than the 1000 octets/))
})

test('a connection closed mid-message is kind closed, never a short message', async (t) => {
  const { port } = await fakePop3(t, async (session) => {
    await userPass(session)
    await session.expect(/^RETR 1$/)
    session.write('+OK\r\nSubject: cut\r\n\r\nhalf a li')
    session.end()
  })
  const client = await loggedIn(port)
  t.after(() => client.close())
  await assert.rejects(client.retrieve(1), isKind('closed', /RETR/))
})

test('garbage is kind protocol: a reply that is not +OK/-ERR, a bad scan listing', async (t) => {
  const { port } = await fakePop3(t, async (session) => {
    await userPass(session)
    await session.expect(/^LIST$/)
    session.write('+OK\r\n1 100\r\ntwo hundred\r\n.\r\n')
    await session.readLine()
  })
  const client = await loggedIn(port)
  t.after(() => client.close())
  await assert.rejects(client.list(), isKind('protocol', /Malformed LIST line "two hundred"/))

  const other = await fakePop3(t, async (session) => {
    await userPass(session)
    await session.expect(/^DELE 1$/)
    session.write('HELLO THERE\r\n')
  })
  const second = await loggedIn(other.port)
  t.after(() => second.close())
  await assert.rejects(second.delete(1), isKind('protocol', /not \+OK or -ERR: "HELLO THERE"/))
})

test('a greeting -ERR is kind connect; silence is kind timeout naming the command', async (t) => {
  const refusing = await startFakeServer(t, async (session) => {
    session.write('-ERR [SYS/TEMP] too busy\r\n')
  })
  await assert.rejects(
    Pop3Client.connect({ host: '127.0.0.1', port: refusing.port, security: 'none' }),
    isKind('connect', /too busy/),
  )
  const silent = await startFakeServer(t, async () => {})
  await assert.rejects(
    Pop3Client.connect({ host: '127.0.0.1', port: silent.port, security: 'none', timeoutMs: 200 }),
    isKind('timeout', /the greeting within 200 ms/),
  )
  const { port } = await fakePop3(t, async (session) => {
    await userPass(session)
    await session.expect(/^RETR 1$/)
    session.write('+OK\r\nSubject: slow\r\n')
  })
  const client = await loggedIn(port, { timeoutMs: 200 })
  t.after(() => client.close())
  await assert.rejects(client.retrieve(1), isKind('timeout', /No reply to RETR within 200 ms/))
})

test('-ERR to QUIT (deletions failed) is kind no; the connection is closed either way', async (t) => {
  const { port, sessions } = await fakePop3(t, async (session) => {
    await userPass(session)
    await session.expect(/^DELE 2$/)
    session.write('+OK marked\r\n')
    await session.expect(/^QUIT$/)
    session.write('-ERR some deleted messages not removed\r\n')
    session.end()
  })
  const client = await loggedIn(port)
  await client.delete(2)
  await assert.rejects(client.quit(), isKind('no', /some deleted messages not removed/))
  assert.deepEqual(sessions[0]?.lines.slice(-2), ['DELE 2', 'QUIT'])
})

test('octets sent after the STLS go-ahead, before the handshake, are refused (injection)', async (t) => {
  const { port } = await fakePop3(
    t,
    async (session) => {
      await session.expect(/^STLS$/)
      session.write('+OK begin TLS\r\n+OK injected\r\n')
      await session.readLine()
    },
    ['STLS', 'USER'],
  )
  await assert.rejects(
    Pop3Client.connect({ host: '127.0.0.1', port, security: 'starttls' }),
    isKind('protocol', /Data received before the STLS handshake/),
  )
})
