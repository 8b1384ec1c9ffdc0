import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import { Received, socketPair } from '../../../test/support/socket-pair.ts'
import { Connection } from '../../net/index.ts'
import { silentLogger } from '../../util/index.ts'
import { type CommandInputOptions, readCommand } from './command-input.ts'

// Reading commands with literals over a real socket: continuations, LITERAL+, refusals before
// anything is read, and the bounds.

async function setUp(t: TestContext) {
  const { server, client } = await socketPair(t)
  const connection = new Connection(server, {
    id: 'test',
    listenerName: 'imap',
    log: silentLogger,
    shutdownSignal: new AbortController().signal,
  })
  const received = new Received(client)
  const options = (maxLiteral = 100): CommandInputOptions => ({
    admit: (literal) => (literal.size > maxLiteral ? 'NO [TOOBIG] Literal too large' : null),
    continueLiteral: () => connection.write('+ Ready\r\n'),
  })
  return { connection, client: client as Socket, received, options }
}

const texts = (buffers: Buffer[]) => buffers.map((buffer) => buffer.toString('latin1'))

test('a synchronizing literal is asked for with "+", then the command goes on', async (t) => {
  const { connection, client, received, options } = await setUp(t)
  client.write('a LOGIN {5}\r\n')
  const reading = readCommand(connection, options())
  await received.waitFor('+ Ready\r\n')
  client.write('alice {6}\r\n')
  await received.waitFor(/\+ Ready\r\n\+ Ready\r\n/)
  client.write('secret\r\n')
  const input = await reading
  assert.equal(input.kind, 'command')
  if (input.kind !== 'command') return
  assert.deepEqual(texts(input.lines), ['a LOGIN {5}', ' {6}', ''])
  assert.deepEqual(texts(input.literals), ['alice', 'secret'])
})

test('LITERAL+: the data comes at once and no "+" is sent; CRLF inside a literal is data', async (t) => {
  const { connection, client, received, options } = await setUp(t)
  client.write('a APPEND INBOX {6+}\r\nx\r\ny\r\n\r\nb NOOP\r\n')
  const input = await readCommand(connection, options())
  assert.equal(input.kind, 'command')
  if (input.kind !== 'command') return
  assert.deepEqual(texts(input.literals), ['x\r\ny\r\n'])
  assert.deepEqual(texts(input.lines), ['a APPEND INBOX {6+}', ''])
  const next = await readCommand(connection, options())
  assert.deepEqual(next.kind === 'command' && texts(next.lines), ['b NOOP'])
  assert.equal(received.text, '')
})

test('a literal refused before it is sent: tagged NO, no "+", and the next command is read', async (t) => {
  const { connection, client, received, options } = await setUp(t)
  client.write('a APPEND INBOX {5000}\r\nb NOOP\r\n')
  assert.deepEqual(await readCommand(connection, options()), {
    kind: 'refused',
    response: 'a NO [TOOBIG] Literal too large\r\n',
  })
  const next = await readCommand(connection, options())
  assert.deepEqual(next.kind === 'command' && texts(next.lines), ['b NOOP'])
  assert.equal(received.text, '')
})

test('a refused LITERAL+ is read and dropped when small, and ends the connection when large', async (t) => {
  const { connection, client, options } = await setUp(t)
  client.write('a APPEND INBOX {200+}\r\n')
  client.write(`${'x'.repeat(200)} {3+}\r\nabc\r\nb NOOP\r\n`)
  assert.deepEqual(await readCommand(connection, options()), {
    kind: 'refused',
    response: 'a NO [TOOBIG] Literal too large\r\n',
  })
  const next = await readCommand(connection, options())
  assert.deepEqual(next.kind === 'command' && texts(next.lines), ['b NOOP'])
  client.write('c APPEND INBOX {1000000000+}\r\n')
  assert.deepEqual(await readCommand(connection, options()), {
    kind: 'fatal',
    response: '* BYE [TOOBIG] Literal too large\r\n',
  })
})

test('bounds: a long line and an impossible literal size are BAD; the end of input is closed', async (t) => {
  const { connection, client, options } = await setUp(t)
  client.write(`a SEARCH ${'x'.repeat(70_000)}\r\n`)
  assert.deepEqual(await readCommand(connection, options()), {
    kind: 'refused',
    response: '* BAD Command line longer than 65536 octets\r\n',
  })
  client.write(`t1 LOGIN {${'9'.repeat(20)}}\r\n`)
  assert.deepEqual(await readCommand(connection, options()), {
    kind: 'refused',
    response: 't1 BAD Literal size out of range\r\n',
  })
  client.end()
  assert.deepEqual(await readCommand(connection, options()), { kind: 'closed' })
})
