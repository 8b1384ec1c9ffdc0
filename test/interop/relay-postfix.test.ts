import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { simpleParser } from 'mailparser'
import { startDnsServer } from '../support/dns-server.ts'
import { getFreePorts } from '../support/free-port.ts'
import {
  eventually,
  mailboxWith,
  queueDrained,
  startNode,
  submit,
} from '../support/postern-node.ts'
import { postfixUnavailable, startPostfix } from '../support/postfix.ts'

// Postfix (Debian) as the receiving MX: Postern finds it by MX in a loopback DNS, delivers what
// it accepts, and bounces what it refuses with Postfix's own reply in the notice.

const ALICE = { address: 'alice@a.test', password: 'alice-secret-1' }

test('Postern relays by MX to Postfix, and bounces what Postfix refuses', {
  skip: postfixUnavailable() ?? false,
}, async (t) => {
  const postfix = await startPostfix({
    mode: 'maildir',
    domain: 'pf.test',
    users: ['dave@pf.test'],
    hostname: 'mx.pf.test',
  })
  t.after(() => postfix.stop())
  const dns = await startDnsServer(t, {
    'pf.test': { MX: [{ exchange: 'mx.pf.test', priority: 10 }] },
    'mx.pf.test': { A: ['127.0.0.1'] },
  })
  const [port = 0] = await getFreePorts(1)
  const a = await startNode(t, {
    hostname: 'mx.a.test',
    address: '127.0.0.2',
    port,
    relayPort: postfix.port,
    dnsPort: dns.port,
    users: [ALICE],
    toml: '[queue]\npoll_ms = 50\n',
  })
  const message =
    'From: alice@a.test\r\nTo: dave@pf.test\r\nSubject: to postfix\r\n\r\nHello Postfix.\r\n'
  await submit({ host: '127.0.0.2', port: port + 1, user: ALICE, to: ['dave@pf.test'], message })
  const [file] = await eventually(
    async () => {
      const files = postfix.deliveredFiles()
      return files.length > 0 ? files : undefined
    },
    20_000,
    `delivery into Postfix's Maildir\n${postfix.logTail()}`,
  )
  const delivered = readFileSync(file ?? '', 'latin1')
  assert.match(delivered, /Received: from mx\.a\.test \(.*\[127\.0\.0\.2\]\)/)
  // Postfix's Maildir keeps lines with LF only.
  assert.ok(delivered.replaceAll('\r\n', '\n').endsWith('Subject: to postfix\n\nHello Postfix.\n'))

  // Postfix refuses an unknown user at RCPT (550 5.1.1): the sender gets a bounce.
  await submit({
    host: '127.0.0.2',
    port: port + 1,
    user: ALICE,
    to: ['nobody@pf.test'],
    message: 'From: alice@a.test\r\nTo: nobody@pf.test\r\nSubject: unknown\r\n\r\nLost.\r\n',
  })
  const [bounce] = await mailboxWith(a.store, ALICE.address, 1, 'the bounce')
  const parsed = await simpleParser(bounce ?? Buffer.alloc(0))
  const contentType = parsed.headers.get('content-type') as {
    value: string
    params: Record<string, string>
  }
  assert.equal(contentType.value, 'multipart/report')
  assert.equal(contentType.params['report-type'], 'delivery-status')
  const text = bounce?.toString('latin1') ?? ''
  assert.match(text, /^Return-Path: <>\r\n/)
  assert.match(text, /Final-Recipient: rfc822; ?nobody@pf\.test/)
  assert.match(text, /Action: failed/)
  assert.match(text, /Status: 5\.1\.1/)
  assert.match(text, /Remote-MTA: dns; ?mx\.pf\.test/)
  assert.match(text, /Diagnostic-Code: smtp; ?550 5\.1\.1 /)
  await queueDrained(a.store)
})
