import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  envelope,
  MESSAGE,
  readData,
  ready,
  messageSource as source,
  startFakeServer,
} from './fake-server.ts'

// The mail transaction: which commands go out when, and what send() makes of the replies.

test('with PIPELINING, MAIL, every RCPT and DATA go out before any reply', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    await session.greet(['PIPELINING', 'SIZE 1000000'])
    const before = session.chunks.length
    // Nothing is answered until the whole group is in.
    const group = await session.readUntil('DATA\r\n')
    assert.equal(
      group.toString(),
      `MAIL FROM:<a@example.org> SIZE=${MESSAGE.length}\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n`,
    )
    // Written with one write: on loopback that arrives as one chunk.
    assert.equal(session.chunks.length - before, 1)
    session.write(
      '250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n',
    )
    assert.equal(await readData(session), MESSAGE)
    session.write('250 2.0.0 Ok: queued as ABC\r\n')
  })
  const client = await ready(server.port)
  const result = await client.send(envelope('b@example.test', 'c@example.test'), source(MESSAGE))
  assert.deepEqual(result.mail, { code: 250, status: '2.1.0', lines: ['Ok'] })
  assert.deepEqual(
    result.recipients.map((reply) => reply.code),
    [250, 250],
  )
  assert.deepEqual(result.data, { code: 250, status: '2.0.0', lines: ['Ok: queued as ABC'] })
  assert.equal(client.isUsable, true)
  await server.done()
  client.close()
})

test('without PIPELINING, each command waits for its reply', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    await session.greet([])
    for (const [command, answer] of [
      ['MAIL FROM:<a@example.org>', '250 Ok'],
      ['RCPT TO:<b@example.test>', '250 Ok'],
      ['RCPT TO:<c@example.test>', '550 No such user'],
      ['DATA', '354 Go ahead'],
    ]) {
      await session.expect(command as string)
      // Give an eager client the time to send more; it must not.
      await sleep(30)
      assert.equal(session.pending.length, 0, `sent ahead of the reply to ${command}`)
      session.write(`${answer}\r\n`)
    }
    assert.equal(await readData(session), MESSAGE)
    session.write('250 Queued\r\n')
  })
  const client = await ready(server.port)
  const result = await client.send(envelope('b@example.test', 'c@example.test'), source(MESSAGE))
  assert.deepEqual(
    result.recipients.map((reply) => reply.code),
    [250, 550],
  )
  assert.equal(result.data?.code, 250)
  await server.done()
  client.close()
})

test('without PIPELINING, a refused MAIL stops the transaction', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    await session.greet([])
    await session.expect('MAIL FROM:<a@example.org>')
    session.write('550 5.7.1 Sender refused\r\n')
    await session.expect('RSET')
    session.write('250 Ok\r\n')
  })
  const client = await ready(server.port)
  const result = await client.send(envelope('b@example.test', 'c@example.test'), source(MESSAGE))
  assert.equal(result.mail.code, 550)
  assert.deepEqual(result.recipients, [result.mail, result.mail])
  assert.equal(result.data, null)
  // The next command the server sees is ours, not a stray RCPT.
  assert.equal((await client.reset()).code, 250)
  await server.done()
  client.close()
})

test('per-recipient replies are kept in order: 250, 450, 550', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    await session.greet(['PIPELINING', 'ENHANCEDSTATUSCODES'])
    await session.readUntil('DATA\r\n')
    session.write(
      [
        '250 2.1.0 Ok',
        '250 2.1.5 Ok',
        '450 4.2.1 Mailbox busy',
        '550-5.1.1 No such user',
        '550 5.1.1 Check the address',
        '354 Go ahead',
        '',
      ].join('\r\n'),
    )
    await readData(session)
    session.write('250 2.0.0 Ok\r\n')
  })
  const client = await ready(server.port)
  const result = await client.send(
    envelope('ok@example.test', 'busy@example.test', 'gone@example.test'),
    source(MESSAGE),
  )
  assert.deepEqual(result.recipients, [
    { code: 250, status: '2.1.5', lines: ['Ok'] },
    { code: 450, status: '4.2.1', lines: ['Mailbox busy'] },
    { code: 550, status: '5.1.1', lines: ['No such user', 'Check the address'] },
  ])
  assert.equal(result.data?.code, 250)
  await server.done()
  client.close()
})

for (const pipelining of [true, false]) {
  test(`all recipients refused: RSET, no data (${pipelining ? 'pipelined' : 'lockstep'})`, async (t) => {
    const server = await startFakeServer(t, async (session) => {
      await session.greet(pipelining ? ['PIPELINING'] : [])
      await session.expect('MAIL FROM:<a@example.org>')
      if (!pipelining) session.write('250 Ok\r\n')
      await session.expect('RCPT TO:<b@example.test>')
      if (!pipelining) session.write('550 No\r\n')
      await session.expect('RCPT TO:<c@example.test>')
      if (!pipelining) session.write('450 Later\r\n')
      if (pipelining) {
        await session.expect('DATA')
        session.write('250 Ok\r\n550 No\r\n450 Later\r\n554 5.5.1 No valid recipients\r\n')
      }
      await session.expect('RSET')
      session.write('250 Ok\r\n')
      await session.expect('QUIT')
      session.write('221 Bye\r\n')
    })
    const client = await ready(server.port)
    const result = await client.send(envelope('b@example.test', 'c@example.test'), source(MESSAGE))
    assert.equal(result.mail.code, 250)
    assert.deepEqual(
      result.recipients.map((reply) => reply.code),
      [550, 450],
    )
    assert.equal(result.data, null)
    assert.equal(client.isUsable, true)
    await client.quit()
    await server.done()
  })
}

test('a pipelined DATA that gets 354 with no recipient is ended with a lone dot', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    await session.greet(['PIPELINING'])
    await session.readUntil('DATA\r\n')
    session.write('250 Ok\r\n550 No\r\n354 Go ahead anyway\r\n')
    await session.expect('.')
    session.write('554 No recipients\r\n')
    await session.expect('RSET')
    session.write('250 Ok\r\n')
  })
  const client = await ready(server.port)
  const result = await client.send(envelope('b@example.test'), source(MESSAGE))
  assert.equal(result.data, null)
  await server.done()
  client.close()
})

test("a message over the peer's SIZE gets a synthesized 552 and nothing is sent", async (t) => {
  const server = await startFakeServer(t, async (session) => {
    await session.greet(['PIPELINING', 'SIZE 20'])
    await session.expect('QUIT')
    session.write('221 Bye\r\n')
  })
  const client = await ready(server.port)
  const result = await client.send(envelope('b@example.test', 'c@example.test'), source(MESSAGE))
  assert.equal(result.mail.code, 552)
  assert.equal(result.mail.status, '5.3.4')
  assert.match(result.mail.lines[0] ?? '', /limit of 20 octets/)
  assert.deepEqual(result.recipients, [result.mail, result.mail])
  assert.equal(result.data, null)
  await client.quit()
  await server.done()
})

test('a 421 mid-transaction answers the rest and leaves the client unusable', async (t) => {
  const server = await startFakeServer(t, async (session) => {
    await session.greet(['PIPELINING'])
    await session.readUntil('DATA\r\n')
    session.write('250 Ok\r\n250 Ok\r\n421 4.3.2 Shutting down\r\n')
    session.socket.end()
  })
  const client = await ready(server.port)
  const result = await client.send(
    envelope('b@example.test', 'c@example.test', 'd@example.test'),
    source(MESSAGE),
  )
  assert.deepEqual(
    result.recipients.map((reply) => reply.code),
    [250, 421, 421],
  )
  assert.equal(result.data?.code, 421)
  assert.equal(client.isUsable, false)
  await client.quit()
})
