import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { startDnsServer } from '../support/dns-server.ts'
import { getFreePorts } from '../support/free-port.ts'
import { mailboxMessages } from '../support/mailbox.ts'
import { mailboxWith, queueDrained, startNode, submit } from '../support/postern-node.ts'

// The whole classic model on loopback: Alice's client submits to her server A, A relays by MX
// to Carol's server B, B files the message, and Carol's client later retrieves it over POP3 and
// deletes it. What Carol downloads is what B stored, octet for octet, and ends with what Alice
// wrote.

const ALICE = { address: 'alice@a.test', password: 'alice-secret-1' }
const CAROL = { address: 'carol@b.test', password: 'carol-secret-1' }

test('submit on A, relay by MX to B, retrieve and delete over POP3 on B', async (t) => {
  const [port = 0, pop3Port = 0] = await getFreePorts(2)
  const dns = await startDnsServer(t, {
    'a.test': { MX: [{ exchange: 'mx.a.test', priority: 10 }] },
    'mx.a.test': { A: ['127.0.0.2'] },
    'b.test': { MX: [{ exchange: 'mx.b.test', priority: 10 }] },
    'mx.b.test': { A: ['127.0.0.3'] },
  })
  const common = { port, relayPort: port, dnsPort: dns.port }
  const a = await startNode(t, {
    ...common,
    hostname: 'mx.a.test',
    address: '127.0.0.2',
    users: [ALICE],
  })
  const b = await startNode(t, {
    ...common,
    hostname: 'mx.b.test',
    address: '127.0.0.3',
    users: [CAROL],
    pop3Port,
  })
  const body = [
    'From: alice@a.test',
    'To: carol@b.test',
    'Subject: the whole way',
    '',
    'Hello Carol,',
    '.this line starts with a dot',
    '.',
    'bye',
    '',
  ].join('\r\n')
  await submit({
    host: '127.0.0.2',
    port: port + 1,
    user: ALICE,
    to: [CAROL.address],
    message: body,
  })
  const [stored] = await mailboxWith(b.store, CAROL.address, 1, 'the message on B')
  await queueDrained(a.store)
  assert.ok(stored !== undefined)

  const transcript = await pop3Session(pop3Port, [
    `USER ${CAROL.address}`,
    `PASS ${CAROL.password}`,
    'LIST',
    'RETR 1',
    'DELE 1',
    'QUIT',
  ])
  const retr = /\+OK (\d+) octets\r\n([\s\S]*?)\r\n\.\r\n\+OK Message 1 deleted/.exec(transcript)
  assert.ok(retr !== null, transcript)
  const downloaded = `${(retr[2] ?? '').replace(/^\./gm, '')}\r\n`
  assert.equal(Number(retr[1]), stored.length)
  assert.equal(downloaded, stored.toString('latin1'))
  assert.ok(downloaded.endsWith(body))
  assert.match(transcript, /\+OK mx\.b\.test POP3 server signing off \(0 messages left\)\r\n$/)
  assert.deepEqual(await mailboxMessages(b.store, CAROL.address), [])
})

/** Sends the commands pipelined (CAPA says PIPELINING) and returns everything the server said. */
async function pop3Session(port: number, commands: string[]): Promise<string> {
  const socket = connect(port, '127.0.0.3')
  socket.setEncoding('latin1')
  let received = ''
  socket.on('data', (chunk: string) => {
    received += chunk
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
  socket.write(commands.map((command) => `${command}\r\n`).join(''))
  await new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return received
}
