import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import path from 'node:path'
import { test } from 'node:test'
import { startDnsServer } from '../support/dns-server.ts'
import { getFreePorts } from '../support/free-port.ts'
import { mailboxMessages } from '../support/mailbox.ts'
import {
  eventually,
  mailboxWith,
  queueDrained,
  startNode,
  submit,
} from '../support/postern-node.ts'

const ALICE = { address: 'alice@a.test', password: 'alice-secret-1' }
const CAROL = { address: 'carol@b.test', password: 'carol-secret-1' }

// The whole classic model on loopback: Alice's client submits to her server A, A relays by MX
// to Carol's server B, B files the message, and Carol's client later retrieves it over POP3 and
// deletes it. What Carol downloads is what B stored, octet for octet, ending with what Alice
// wrote.
test('submitted on A, relayed by MX to B, filed in the INBOX, retrieved and deleted over POP3', async (t) => {
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
    'Subject: across',
    '',
    'Hello B.',
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
  const [received] = await mailboxWith(b.store, CAROL.address, 1, 'the message on B')
  const text = received?.toString('latin1') ?? ''
  assert.match(text, /^Return-Path: <alice@a\.test>\r\nDelivered-To: carol@b\.test\r\n/)
  assert.match(
    text,
    /Received: from mx\.a\.test \(\[127\.0\.0\.2\]\)\r\n\tby mx\.b\.test \(Postern\) with ESMTPS/,
  )
  assert.ok(text.endsWith(body))
  await queueDrained(a.store)

  const transcript = await pop3Session('127.0.0.3', pop3Port, [
    `USER ${CAROL.address}`,
    `PASS ${CAROL.password}`,
    'RETR 1',
    'DELE 1',
    'QUIT',
  ])
  const retr = /\+OK (\d+) octets\r\n([\s\S]*?)\r\n\.\r\n\+OK Message 1 deleted/.exec(transcript)
  assert.ok(retr !== null, transcript)
  const downloaded = `${(retr[2] ?? '').replace(/^\./gm, '')}\r\n`
  assert.equal(Number(retr[1]), Buffer.byteLength(text, 'latin1'))
  assert.equal(downloaded, text)
  assert.match(transcript, /\+OK mx\.b\.test POP3 server signing off \(0 messages left\)\r\n$/)
  assert.deepEqual(await mailboxMessages(b.store, CAROL.address), [])
})

test('with a smart host, everything goes there over STARTTLS with AUTH and a checked certificate', async (t) => {
  const [port = 0] = await getFreePorts(1)
  const dns = await startDnsServer(t, { 'mx.b.test': { A: ['127.0.0.3'] } })
  const common = { port, relayPort: port, dnsPort: dns.port }
  // B is the smart host: A authenticates there as alice, who has an account on B too.
  const b = await startNode(t, {
    ...common,
    hostname: 'mx.b.test',
    address: '127.0.0.3',
    users: [CAROL, ALICE],
  })
  const ca = path.join(b.config.dataDir, 'tls', 'self-signed.crt')
  const smartHost = (extra: string) =>
    [
      '[relay]',
      'source_address = "127.0.0.2"',
      '[relay.smart_host]',
      `address = "mx.b.test:${port + 1}"`,
      'tls = "starttls"',
      `username = "${ALICE.address}"`,
      `password = "${ALICE.password}"`,
      extra,
      '[queue]',
      'poll_ms = 50',
    ].join('\n')
  const a = await startNode(t, {
    ...common,
    hostname: 'mx.a.test',
    address: '127.0.0.2',
    users: [ALICE],
    toml: smartHost(`ca_file = "${ca}"`),
  })
  const body = 'From: alice@a.test\r\nTo: carol@b.test\r\nSubject: via smart host\r\n\r\nHi.\r\n'
  await submit({
    host: '127.0.0.2',
    port: port + 1,
    user: ALICE,
    to: [CAROL.address],
    message: body,
  })
  const [received] = await mailboxWith(b.store, CAROL.address, 1, 'the message on B')
  // B took it on its submission listener, authenticated and encrypted.
  assert.match(
    received?.toString() ?? '',
    /Received: from mx\.a\.test \(\[127\.0\.0\.2\]\)\r\n\tby mx\.b\.test \(Postern\) with ESMTPSA/,
  )
  await queueDrained(a.store)
  await a.stop()

  // The same smart host without its CA: the certificate check fails, and the mail waits
  // rather than going out unchecked.
  const unchecked = await startNode(t, {
    ...common,
    hostname: 'mx.a.test',
    address: '127.0.0.2',
    users: [ALICE],
    toml: smartHost(''),
  })
  await submit({
    host: '127.0.0.2',
    port: port + 1,
    user: ALICE,
    to: [CAROL.address],
    message: body,
  })
  const [deferred] = await eventually(
    async () => {
      const [entry] = await unchecked.store.listQueue()
      return entry?.recipients[0]?.status === 'deferred' ? entry.recipients : undefined
    },
    10_000,
    'the deferral',
  )
  assert.match(deferred?.lastReply ?? '', /certificate/i)
  assert.equal((await mailboxMessages(b.store, CAROL.address)).length, 1)
})

/** Sends POP3 commands pipelined (Postern says PIPELINING) and returns all the server said. */
async function pop3Session(host: string, port: number, commands: string[]): Promise<string> {
  const socket = connect(port, host)
  socket.setEncoding('latin1')
  let received = ''
  socket.on('data', (chunk: string) => {
    received += chunk
  })
  await once(socket, 'connect')
  socket.write(commands.map((command) => `${command}\r\n`).join(''))
  await once(socket, 'close')
  return received
}
