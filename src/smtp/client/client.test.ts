import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { SmtpClient } from './client.ts'
import { SmtpClientError } from './errors.ts'
import { startFakeServer, TEST_TIMEOUTS } from './fake-server.ts'
import type { ConnectOptions } from './options.ts'

// Short enough that a test stuck on a missing reply fails fast, long enough for a slow CI.

function connect(port: number, options: Partial<ConnectOptions> = {}): Promise<SmtpClient> {
  return SmtpClient.connect({ host: '127.0.0.1', port, timeouts: TEST_TIMEOUTS, ...options })
}

function isClientError(kind: SmtpClientError['kind'], phase: string, code?: number) {
  return (error: unknown) => {
    assert.ok(error instanceof SmtpClientError, String(error))
    assert.equal(error.kind, kind, error.message)
    assert.equal(error.phase, phase)
    if (code !== undefined) assert.equal(error.reply?.code, code)
    return true
  }
}

test('the greeting, a multi-line EHLO and QUIT', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220-mx.example.test ESMTP\r\n220 no UCE\r\n')
    await session.expect('EHLO client.example.org')
    session.write(
      [
        '250-mx.example.test Hello client.example.org',
        '250-PIPELINING',
        '250-SIZE 10240000',
        '250-8BITMIME',
        '250-ENHANCEDSTATUSCODES',
        '250-AUTH PLAIN LOGIN',
        '250 CHUNKING',
        '',
      ].join('\r\n'),
    )
    await session.expect('QUIT')
    session.write('221 2.0.0 Bye\r\n')
    await session.closed()
  })
  const client = await connect(server.port)
  assert.deepEqual(client.greeting, {
    code: 220,
    status: null,
    lines: ['mx.example.test ESMTP', 'no UCE'],
  })
  assert.equal(client.remoteAddress, '127.0.0.1')
  assert.equal(client.isSecure, false)
  const capabilities = await client.hello('client.example.org')
  assert.equal(client.capabilities, capabilities)
  assert.equal(capabilities.esmtp, true)
  assert.equal(capabilities.pipelining, true)
  assert.equal(capabilities.size, 10240000)
  assert.equal(capabilities.eightBitMime, true)
  assert.equal(capabilities.chunking, true)
  assert.equal(capabilities.dsn, false)
  assert.deepEqual(capabilities.auth, ['PLAIN', 'LOGIN'])
  await client.quit()
  assert.equal(client.isUsable, false)
  await server.done()
})

for (const code of [500, 502]) {
  test(`EHLO refused with ${code} falls back to HELO`, async (t) => {
    const server = await startFakeServer(t, async (session) => {
      session.write('220 old.example.test SMTP\r\n')
      await session.expect('EHLO client.example.org')
      session.write(`${code} 5.5.1 Command unrecognized\r\n`)
      await session.expect('HELO client.example.org')
      session.write('250 old.example.test\r\n')
    })
    const client = await connect(server.port)
    const capabilities = await client.hello('client.example.org')
    assert.equal(capabilities.esmtp, false)
    assert.equal(capabilities.pipelining, false)
    await server.done()
    client.close()
  })
}

test('EHLO refused with 4xx rejects with the reply; HELO refused rejects too', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.expect(/^EHLO /)
    session.write('450 4.7.1 come back later\r\n')
    await session.expect(/^EHLO /)
    session.write('550 5.7.1 no EHLO\r\n')
    await session.expect(/^HELO /)
    session.write('550 5.7.1 nor HELO\r\n')
  })
  const client = await connect(server.port)
  await assert.rejects(client.hello('c.example.org'), isClientError('reply', 'EHLO', 450))
  assert.equal(client.isUsable, true)
  await assert.rejects(client.hello('c.example.org'), isClientError('reply', 'HELO', 550))
  client.close()
})

test('a 421 greeting rejects with the reply, and the connection is closed', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('421 4.3.2 mx.example.test busy, try later\r\n')
    session.socket.end()
    await session.closed()
  })
  await assert.rejects(connect(server.port), (error) => {
    assert.ok(isClientError('reply', 'greeting', 421)(error))
    assert.deepEqual((error as SmtpClientError).reply?.lines, ['mx.example.test busy, try later'])
    return true
  })
  await server.done()
})

for (const code of [554, 450]) {
  test(`a ${code} greeting: QUIT is sent politely, then the connect rejects`, async (t) => {
    const server = await startFakeServer(t, async (session) => {
      session.write(`${code} mx.example.test does not want you\r\n`)
      await session.expect('QUIT')
      session.write('221 Bye\r\n')
      await session.closed()
    })
    await assert.rejects(connect(server.port), isClientError('reply', 'greeting', code))
    await server.done()
  })
}

test('no greeting within the timeout rejects kind timeout', async (t) => {
  const server = await startFakeServer(t, (session) => session.closed())
  const started = Date.now()
  await assert.rejects(
    connect(server.port, { timeouts: { greeting: 50 } }),
    isClientError('timeout', 'greeting'),
  )
  assert.ok(Date.now() - started < 2000)
  await server.done()
})

test('no reply to MAIL within its timeout rejects kind timeout and ends the connection', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.ehlo([])
    await session.expect(/^MAIL FROM:/)
    await session.closed()
  })
  const client = await connect(server.port, { timeouts: { ...TEST_TIMEOUTS, mail: 100 } })
  await client.hello('c.example.org')
  const message = {
    size: 3,
    chunks: async function* () {
      yield Buffer.from('x\r\n')
    },
  }
  await assert.rejects(
    client.send({ sender: 'a@example.org', recipients: [{ address: 'b@example.test' }] }, message),
    isClientError('timeout', 'MAIL'),
  )
  assert.equal(client.isUsable, false)
  await server.done()
  await assert.rejects(client.reset(), isClientError('closed', 'RSET'))
  await client.quit()
})

test('a refused connection rejects kind connect', async () => {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const address = probe.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  await assert.rejects(connect(port), (error) => {
    assert.ok(isClientError('connect', 'connect')(error))
    assert.match((error as Error).message, /ECONNREFUSED/)
    return true
  })
})

test('a connection closed mid-reply rejects kind closed', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.expect(/^EHLO /)
    session.write('250-mx Hello\r\n250-PIPELI')
    session.socket.end()
  })
  const client = await connect(server.port)
  await assert.rejects(client.hello('c.example.org'), isClientError('closed', 'EHLO'))
  assert.equal(client.isUsable, false)
  await client.quit()
})

test('a reply that is not SMTP rejects kind protocol and ends the connection', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.expect(/^EHLO /)
    session.write('HTTP/1.1 400 Bad Request\r\n\r\n')
    await session.closed()
  })
  const client = await connect(server.port)
  await assert.rejects(client.hello('c.example.org'), isClientError('protocol', 'EHLO'))
  assert.equal(client.isUsable, false)
  await server.done()
})

test('RSET returns the reply; a 421 to any command makes the client unusable', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.expect('RSET')
    session.write('250 2.0.0 Ok\r\n')
    await session.expect('RSET')
    session.write('421 4.4.2 Timeout, closing\r\n')
    await session.closed()
  })
  const client = await connect(server.port)
  assert.deepEqual(await client.reset(), { code: 250, status: '2.0.0', lines: ['Ok'] })
  assert.equal((await client.reset()).code, 421)
  assert.equal(client.isUsable, false)
  await client.quit()
  await server.done()
})

test('AUTH PLAIN puts the initial response on the AUTH line', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.ehlo(['AUTH LOGIN PLAIN'])
    const line = await session.expect(/^AUTH PLAIN /)
    const token = Buffer.from(line.slice('AUTH PLAIN '.length), 'base64').toString()
    session.write(token === '\0usér\0pässword' ? '235 2.7.0 Ok\r\n' : '535 5.7.8 No\r\n')
  })
  const client = await connect(server.port)
  await client.hello('c.example.org')
  await client.authenticate('usér', 'pässword')
  await server.done()
  client.close()
})

test('AUTH LOGIN when PLAIN is not offered', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.ehlo(['AUTH=LOGIN'])
    await session.expect('AUTH LOGIN')
    session.write('334 VXNlcm5hbWU6\r\n')
    await session.expect(Buffer.from('user').toString('base64'))
    session.write('334 UGFzc3dvcmQ6\r\n')
    await session.expect(Buffer.from('secret').toString('base64'))
    session.write('235 2.7.0 Authentication successful\r\n')
  })
  const client = await connect(server.port)
  await client.hello('c.example.org')
  await client.authenticate('user', 'secret')
  await server.done()
  client.close()
})

test('AUTH refused rejects with the reply; no common mechanism rejects kind protocol', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.ehlo(['AUTH PLAIN'])
    await session.expect(/^AUTH PLAIN /)
    session.write('535 5.7.8 Authentication credentials invalid\r\n')
    await session.ehlo(['AUTH CRAM-MD5 SCRAM-SHA-256'])
  })
  const client = await connect(server.port)
  await client.hello('c.example.org')
  await assert.rejects(client.authenticate('u', 'p'), isClientError('reply', 'AUTH', 535))
  await client.hello('c.example.org')
  await assert.rejects(client.authenticate('u', 'p'), isClientError('protocol', 'AUTH'))
  await server.done()
  client.close()
})

test('an unexpected challenge is cancelled with "*"', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.ehlo(['AUTH PLAIN'])
    await session.expect(/^AUTH PLAIN /)
    session.write('334 \r\n')
    await session.expect('*')
    session.write('501 5.7.0 Authentication cancelled\r\n')
  })
  const client = await connect(server.port)
  await client.hello('c.example.org')
  await assert.rejects(client.authenticate('u', 'p'), isClientError('reply', 'AUTH', 501))
  assert.equal(client.isUsable, true)
  await server.done()
  client.close()
})

test('quit never throws, even when the server is gone', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    session.socket.destroy()
  })
  const client = await connect(server.port)
  await server.done()
  await client.quit()
  await client.quit()
  assert.equal(client.isUsable, false)
})

test('one command at a time', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    session.write('220 mx\r\n')
    await session.expect('RSET')
    session.write('250 Ok\r\n')
  })
  const client = await connect(server.port)
  const first = client.reset()
  await assert.rejects(client.reset(), /already running/)
  assert.equal((await first).code, 250)
  client.close()
})
