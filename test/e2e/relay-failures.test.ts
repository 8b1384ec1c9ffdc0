import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { simpleParser } from 'mailparser'
import {
  decodeQuotedPrintable,
  type MimePart,
  parseMessage,
  unfoldedFieldValue,
} from '../../src/mime/index.ts'
import type { SendRecipient } from '../../src/smtp/client/index.ts'
import type { QueueEntry, QueueRecipient } from '../../src/store/index.ts'
import { type DnsZone, startDnsServer, type TestDnsServer } from '../support/dns-server.ts'
import { DEFAULT_EXTENSIONS, type FakeSmtpOptions, startFakeSmtp } from '../support/fake-smtp.ts'
import { getFreePorts } from '../support/free-port.ts'
import { mailboxMessages } from '../support/mailbox.ts'
import {
  eventually,
  mailboxWith,
  type PosternNode,
  queueDrained,
  type SubmitOptions,
  startNode,
  submit,
} from '../support/postern-node.ts'

// The outbound queue's failure behaviour end to end: node A (mx.a.test on 127.0.0.2, user alice)
// relays to domains whose MX the test's DNS points at scripted SMTP servers on 127.0.0.3 and
// 127.0.0.4 (or at nothing there), and the bounces, delay and success notices come back to
// alice's INBOX on A, which files them locally.

const ALICE = { address: 'alice@a.test', password: 'alice-secret-1' }
const A_HOST = '127.0.0.2'
const FIRST = '127.0.0.3'
const SECOND = '127.0.0.4'

interface Setup {
  port: number
  dns: TestDnsServer
  a: PosternNode
}

interface NodeKeys {
  /** More [queue] keys. */
  queue?: Record<string, number>
  /** [relay] keys over the short timeouts; null removes one. */
  relay?: Record<string, number | null>
  /** Start on this node directory again (a restart). */
  dataDir?: string
}

/** The DNS (a.test plus `zone`) and node A, with short timeouts and a retry after 1 s. */
async function setup(t: TestContext, zone: DnsZone, keys: NodeKeys = {}): Promise<Setup> {
  const [port = 0] = await getFreePorts(1)
  const dns = await startDnsServer(t, {
    'a.test': { MX: [{ exchange: 'mx.a.test', priority: 10 }] },
    'mx.a.test': { A: [A_HOST] },
    ...zone,
  })
  const a = await startA(t, port, dns, keys)
  return { port, dns, a }
}

function startA(
  t: TestContext,
  port: number,
  dns: TestDnsServer,
  keys: NodeKeys = {},
): Promise<PosternNode> {
  const queue = { retry_min_ms: 1000, poll_ms: 50, ...keys.queue }
  const relay = { command_timeout_ms: 300, connect_timeout_ms: 300, ...keys.relay }
  const toml = [
    '[queue]',
    ...Object.entries(queue).map(([key, value]) => `${key} = ${value}`),
    '[relay]',
    `port = ${port}`,
    `source_address = "${A_HOST}"`,
    ...Object.entries(relay).flatMap(([key, value]) => (value === null ? [] : `${key} = ${value}`)),
  ].join('\n')
  return startNode(t, {
    hostname: 'mx.a.test',
    address: A_HOST,
    port,
    relayPort: port,
    dnsPort: dns.port,
    users: [ALICE],
    toml,
    ...(keys.dataDir !== undefined && { dataDir: keys.dataDir }),
  })
}

/** `domain` with one MX per address, preferences 10, 20, …: mx1.<domain>, mx2.<domain>… */
function mxZone(domain: string, ...addresses: string[]): DnsZone {
  const zone: DnsZone = {
    [domain]: {
      MX: addresses.map((_, i) => ({ exchange: `mx${i + 1}.${domain}`, priority: 10 * (i + 1) })),
    },
  }
  addresses.forEach((address, i) => {
    zone[`mx${i + 1}.${domain}`] = { A: [address] }
  })
  return zone
}

function fake(t: TestContext, port: number, host: string, options: Partial<FakeSmtpOptions> = {}) {
  return startFakeSmtp(t, { ...options, host, port })
}

function letter(to: string, subject: string, extra = ''): string {
  return `From: alice@a.test\r\nTo: ${to}\r\nSubject: ${subject}\r\n${extra}\r\nHello.\r\n`
}

async function send(
  { a, port }: Setup,
  to: Array<string | SendRecipient>,
  message: string,
  options: Partial<SubmitOptions> = {},
) {
  return submit({ host: a.address, port: port + 1, user: ALICE, to, message, ...options })
}

function inbox(a: PosternNode): Promise<Buffer[]> {
  return mailboxMessages(a.store, ALICE.address)
}

/** Waits for alice's INBOX to hold `count` messages, and returns them. */
function inboxWith(a: PosternNode, count: number, what = `${count} notice(s)`): Promise<Buffer[]> {
  return mailboxWith(a.store, ALICE.address, count, what)
}

function queueEmpty(a: PosternNode): Promise<true> {
  return queueDrained(a.store)
}

/** The one queue entry's recipient for `address`, once `check` holds for it. */
function recipientWhen(
  a: PosternNode,
  address: string,
  check: (recipient: QueueRecipient) => boolean,
  what: string,
): Promise<{ entry: QueueEntry; recipient: QueueRecipient }> {
  return eventually(
    async () => {
      for (const entry of await a.store.listQueue()) {
        const recipient = entry.recipients.find((r) => r.address === address)
        if (recipient !== undefined && check(recipient)) return { entry, recipient }
      }
      return undefined
    },
    10_000,
    what,
  )
}

interface Notice {
  /** The message as stored, trace fields included. */
  raw: string
  from: string
  subject: string
  contentType: string
  reportType: string | undefined
  /** The per-message fields of the report, names lower case. */
  perMessage: Map<string, string>
  /** One map per recipient block of the report, names lower case. */
  recipients: Array<Map<string, string>>
  /** The third part: its type, and its octets. */
  returnedType: string
  returned: string
}

/** A delivery status notification as filed in the INBOX, taken apart (RFC 3464, RFC 6522). */
async function readNotice(bytes: Buffer): Promise<Notice> {
  const mail = await simpleParser(bytes)
  const parsed = parseMessage(bytes)
  const { contentType } = parsed.root
  const [, statusPart, returnedPart] = parsed.root.children
  assert.ok(statusPart !== undefined && returnedPart !== undefined, 'a report has three parts')
  const blocks = body(bytes, statusPart)
    .split(/\r\n\r\n/)
    .filter((block) => block.trim() !== '')
    .map(fields)
  const [perMessage = new Map<string, string>(), ...recipients] = blocks
  return {
    raw: bytes.toString('utf8'),
    from: mail.from?.text ?? '',
    subject: mail.subject ?? '',
    contentType: `${contentType.type}/${contentType.subtype}`,
    reportType: contentType.params.get('report-type'),
    perMessage,
    recipients,
    returnedType: `${returnedPart.contentType.type}/${returnedPart.contentType.subtype}`,
    returned: body(bytes, returnedPart),
  }
}

function body(bytes: Buffer, part: MimePart): string {
  return bytes.subarray(part.bodyStart, part.bodyEnd).toString('utf8')
}

/** "Name: value" lines, folded lines joined (RFC 5322 §2.2.3). */
function fields(block: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const line of block.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0) map.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim())
  }
  return map
}

test('a temporary failure is retried and delivered once; the entry shows the deferral', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const { a, port } = s
  const c = await fake(t, port, FIRST, {
    onRcpt: (_, attempt) =>
      attempt === 1 ? '451 4.7.1 Greylisted, try again later' : '250 2.1.5 Ok',
  })
  await send(s, ['bob@c.test'], letter('bob@c.test', 'greylisted'))
  const { recipient } = await recipientWhen(
    a,
    'bob@c.test',
    (r) => r.status === 'deferred',
    'the deferral',
  )
  const now = Date.now()
  assert.equal(recipient.attempts, 1)
  assert.match(recipient.lastReply ?? '', /451 4\.7\.1 Greylisted/)
  assert.ok(recipient.nextAttemptAt !== null && recipient.nextAttemptAt.getTime() > now)
  assert.equal(c.transactions.length, 0)

  await eventually(async () => (c.transactions.length > 0 ? true : undefined), 10_000, 'delivery')
  await queueEmpty(a)
  assert.equal(c.transactions.length, 1)
  assert.deepEqual(c.transactions[0]?.to, ['bob@c.test'])
  assert.equal(c.transactions[0]?.from, ALICE.address)
  assert.match(c.transactions[0]?.data.toString() ?? '', /Subject: greylisted\r\n/)
  assert.equal(c.rcpts.length, 2)
  // No notice: the default delay warning is hours away, and success is not asked for.
  assert.equal((await inbox(a)).length, 0)
})

test('a permanent failure bounces to the sender with a delivery-status report', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST, {
    onRcpt: (address) => `550 5.1.1 <${address}>: Recipient address rejected: User unknown`,
  })
  const original = letter('bob@c.test', 'doomed', 'X-Test: kept\r\n')
  await send(s, ['bob@c.test'], original)
  const [bounce] = await inboxWith(s.a, 1, 'the bounce')
  await queueEmpty(s.a)
  assert.ok(bounce !== undefined)
  const notice = await readNotice(bounce)
  assert.match(notice.raw, /^Return-Path: <>\r\n/)
  assert.match(notice.from, /MAILER-DAEMON@mx\.a\.test/)
  assert.equal(notice.subject, 'Undelivered Mail Returned to Sender')
  assert.equal(notice.contentType, 'multipart/report')
  assert.equal(notice.reportType, 'delivery-status')
  assert.equal(notice.perMessage.get('reporting-mta'), 'dns; mx.a.test')
  assert.equal(notice.recipients.length, 1)
  const [r] = notice.recipients
  assert.equal(r?.get('final-recipient'), 'rfc822; bob@c.test')
  assert.equal(r?.get('action'), 'failed')
  assert.equal(r?.get('status'), '5.1.1')
  assert.equal(r?.get('remote-mta'), 'dns; mx1.c.test')
  assert.equal(
    r?.get('diagnostic-code'),
    'smtp; 550 5.1.1 <bob@c.test>: Recipient address rejected: User unknown',
  )
  // The original comes back whole (small, no RET): its header fields and its body.
  assert.equal(notice.returnedType, 'message/rfc822')
  assert.match(notice.returned, /\r\nSubject: doomed\r\nX-Test: kept\r\n/)
  assert.match(notice.returned, /\r\n\r\nHello\.\r\n$/)
  assert.equal(c.transactions.length, 0)
})

test('one message, three recipients: delivered, bounced and deferred each on its own', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const replies: Record<string, string> = {
    'ok@c.test': '250 2.1.5 Ok',
    'gone@c.test': '550 5.1.1 No such user',
    'later@c.test': '451 4.3.0 Try again later',
  }
  const c = await fake(t, s.port, FIRST, {
    onRcpt: (address) => replies[address] ?? '550 5.1.1 Unexpected',
  })
  const to = Object.keys(replies)
  await send(s, to, letter(to.join(', '), 'mixed'))
  const [bounce] = await inboxWith(s.a, 1, 'the bounce')
  assert.ok(bounce !== undefined)
  const notice = await readNotice(bounce)
  assert.deepEqual(
    notice.recipients.map((r) => [r.get('final-recipient'), r.get('action'), r.get('status')]),
    [['rfc822; gone@c.test', 'failed', '5.1.1']],
  )
  assert.doesNotMatch(body(bounce, parseMessage(bounce).root.children[0] as MimePart), /ok@|later@/)
  assert.equal(c.transactions.length, 1)
  assert.deepEqual(c.transactions[0]?.to, ['ok@c.test'])
  // The bounce's own entry goes just after it is filed; then only the original is left.
  const [entry, ...others] = await eventually(async () => {
    const entries = await s.a.store.listQueue()
    return entries.every((e) => e.sender !== '') ? entries : undefined
  })
  assert.equal(others.length, 0)
  const status = Object.fromEntries(entry?.recipients.map((r) => [r.address, r.status]) ?? [])
  assert.deepEqual(status, {
    'ok@c.test': 'delivered',
    'gone@c.test': 'bounced',
    'later@c.test': 'deferred',
  })
})

test('a null MX bounces at once with 5.1.10, without a connection', async (t) => {
  const s = await setup(t, {
    'c.test': { MX: [{ exchange: '', priority: 0 }] },
    'mx1.c.test': { A: [FIRST] },
  })
  const c = await fake(t, s.port, FIRST)
  await send(s, ['bob@c.test'], letter('bob@c.test', 'null mx'))
  const [bounce] = await inboxWith(s.a, 1, 'the bounce')
  await queueEmpty(s.a)
  assert.ok(bounce !== undefined)
  const [r] = (await readNotice(bounce)).recipients
  assert.equal(r?.get('action'), 'failed')
  assert.equal(r?.get('status'), '5.1.10')
  assert.match(r?.get('diagnostic-code') ?? '', /null MX/)
  assert.equal(c.connections, 0)
  // Nothing was even looked up to connect to.
  assert.deepEqual(
    s.dns.queries.filter((q) => q.name.endsWith('c.test') && q.type !== 'MX'),
    [],
  )
})

test('a domain that does not exist bounces with 5.1.2', async (t) => {
  const s = await setup(t, {})
  await send(s, ['bob@nowhere.test'], letter('bob@nowhere.test', 'nxdomain'))
  const [bounce] = await inboxWith(s.a, 1, 'the bounce')
  await queueEmpty(s.a)
  assert.ok(bounce !== undefined)
  const [r] = (await readNotice(bounce)).recipients
  assert.equal(r?.get('final-recipient'), 'rfc822; bob@nowhere.test')
  assert.equal(r?.get('action'), 'failed')
  assert.equal(r?.get('status'), '5.1.2')
})

test('a DNS failure (SERVFAIL) defers the message', async (t) => {
  const s = await setup(t, { 'c.test': { servfail: true } })
  await send(s, ['bob@c.test'], letter('bob@c.test', 'servfail'))
  const { recipient } = await recipientWhen(
    s.a,
    'bob@c.test',
    (r) => r.status === 'deferred',
    'the deferral',
  )
  assert.match(recipient.lastReply ?? '', /^DNS lookup for c\.test failed: .*SERVFAIL/)
  assert.equal((await inbox(s.a)).length, 0)
})

test('an MX pointing back at ourselves bounces with 5.4.6', async (t) => {
  const s = await setup(t, { 'c.test': { MX: [{ exchange: 'mx.a.test', priority: 10 }] } })
  await send(s, ['bob@c.test'], letter('bob@c.test', 'loop'))
  const [bounce] = await inboxWith(s.a, 1, 'the bounce')
  await queueEmpty(s.a)
  assert.ok(bounce !== undefined)
  const [r] = (await readNotice(bounce)).recipients
  assert.equal(r?.get('action'), 'failed')
  assert.equal(r?.get('status'), '5.4.6')
  assert.match(r?.get('diagnostic-code') ?? '', /loops back to myself/)
})

test('a refusal after the message: 4xx is retried, 5xx bounces every recipient', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  let dataReplies = 0
  const c = await fake(t, s.port, FIRST, {
    onData: (message) => {
      if (message.includes('Subject: refused\r\n')) return '554 5.7.1 Message rejected as spam'
      dataReplies += 1
      return dataReplies === 1 ? '452 4.3.1 Insufficient system storage' : '250 2.0.0 Ok'
    },
  })
  await send(s, ['bob@c.test', 'carol@c.test'], letter('bob@c.test', 'refused'))
  const [bounce] = await inboxWith(s.a, 1, 'the bounce')
  assert.ok(bounce !== undefined)
  const notice = await readNotice(bounce)
  assert.deepEqual(
    notice.recipients.map((r) => [r.get('final-recipient'), r.get('status')]),
    [
      ['rfc822; bob@c.test', '5.7.1'],
      ['rfc822; carol@c.test', '5.7.1'],
    ],
  )
  assert.match(notice.recipients[0]?.get('diagnostic-code') ?? '', /554 5\.7\.1 Message rejected/)
  await queueEmpty(s.a)

  await send(s, ['dave@c.test'], letter('dave@c.test', 'storage'))
  await queueEmpty(s.a)
  const stored = c.transactions.filter((tr) => tr.data.includes('Subject: storage\r\n'))
  assert.deepEqual(
    stored.map((tr) => tr.reply),
    ['452 4.3.1 Insufficient system storage', '250 2.0.0 Ok'],
  )
  assert.equal((await inbox(s.a)).length, 1)
})

test('a connection lost before the reply to the message: retried (at least once)', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  let messages = 0
  const c = await fake(t, s.port, FIRST, {
    onData: () => {
      messages += 1
      return messages === 1 ? null : '250 2.0.0 Ok'
    },
  })
  await send(s, ['bob@c.test'], letter('bob@c.test', 'dropped'))
  const { recipient } = await recipientWhen(
    s.a,
    'bob@c.test',
    (r) => r.status === 'deferred',
    'the deferral',
  )
  assert.match(
    recipient.lastReply ?? '',
    /mx1\.c\.test\[127\.0\.0\.3\]: Connection closed during DATA/,
  )
  await queueEmpty(s.a)
  // The peer may have kept the first copy: a duplicate rather than a loss (RFC 5321 §6.1).
  assert.deepEqual(
    c.transactions.map((tr) => tr.reply),
    [null, '250 2.0.0 Ok'],
  )
  assert.equal(c.connections, 2)
  assert.equal((await inbox(s.a)).length, 0)
})

test('with the first MX down, the message goes to the second', async (t) => {
  // mx1 (preference 10) on 127.0.0.4 has nothing listening; mx2 (20) is the fake on 127.0.0.3.
  const s = await setup(t, mxZone('c.test', SECOND, FIRST))
  const c = await fake(t, s.port, FIRST)
  await send(s, ['bob@c.test'], letter('bob@c.test', 'second mx'))
  await queueEmpty(s.a)
  assert.equal(c.transactions.length, 1)
  assert.deepEqual(c.transactions[0]?.to, ['bob@c.test'])
  assert.equal((await inbox(s.a)).length, 0)
})

test('a host that never greets: deferred on a timeout, the entry kept', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST, { greeting: null })
  await send(s, ['bob@c.test'], letter('bob@c.test', 'hanging'))
  const { recipient } = await recipientWhen(
    s.a,
    'bob@c.test',
    (r) => r.status === 'deferred',
    'the deferral',
  )
  assert.equal(recipient.attempts, 1)
  assert.match(recipient.lastReply ?? '', /mx1\.c\.test\[127\.0\.0\.3\]/)
  assert.match(recipient.lastReply ?? '', /no greeting reply within 300 ms/i)
  assert.ok(c.connections >= 1)
  assert.equal((await s.a.store.listQueue()).length, 1)
})

test('a host with nothing listening: deferred, connection refused', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  await send(s, ['bob@c.test'], letter('bob@c.test', 'dead'))
  const { recipient } = await recipientWhen(
    s.a,
    'bob@c.test',
    (r) => r.status === 'deferred',
    'the deferral',
  )
  assert.equal(recipient.attempts, 1)
  assert.match(recipient.lastReply ?? '', /mx1\.c\.test\[127\.0\.0\.3\]/)
  assert.match(recipient.lastReply ?? '', /ECONNREFUSED|refused/i)
  assert.equal((await inbox(s.a)).length, 0)
})

test('a 421 greeting on the first MX: delivered on the second', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST, SECOND))
  const busy = await fake(t, s.port, FIRST, { greeting: '421 4.3.2 Service not available' })
  const c = await fake(t, s.port, SECOND)
  await send(s, ['bob@c.test'], letter('bob@c.test', '421 first'))
  await queueEmpty(s.a)
  assert.equal(busy.connections, 1)
  assert.equal(busy.transactions.length, 0)
  assert.equal(c.transactions.length, 1)
})

test('a delay notice after the first deferral, and only one', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST), { queue: { delay_warning_ms: 1 } })
  await send(s, ['bob@c.test'], letter('bob@c.test', 'slow'))
  const [notice] = await inboxWith(s.a, 1, 'the delay notice')
  assert.ok(notice !== undefined)
  const parsed = await readNotice(notice)
  assert.match(parsed.raw, /^Return-Path: <>\r\n/)
  assert.match(parsed.subject, /^Delayed Mail/)
  assert.equal(parsed.reportType, 'delivery-status')
  const [r] = parsed.recipients
  assert.equal(r?.get('final-recipient'), 'rfc822; bob@c.test')
  assert.equal(r?.get('action'), 'delayed')
  assert.match(r?.get('status') ?? '', /^4\./)
  assert.ok(r?.get('will-retry-until') !== undefined, 'Will-Retry-Until')
  // A delay notice returns the header only.
  assert.equal(parsed.returnedType, 'text/rfc822-headers')
  const { recipient } = await recipientWhen(
    s.a,
    'bob@c.test',
    (q) => q.attempts >= 2,
    'a second deferral',
  )
  assert.equal(recipient.delayNotified, true)
  // The notice is filed by the same queue: if a second one had been queued, it would be filed.
  await eventually(async () => {
    const entries = await s.a.store.listQueue()
    return entries.every((entry) => entry.sender !== '') ? true : undefined
  })
  assert.equal((await inbox(s.a)).length, 1)
})

test('a message that outlives its lifetime bounces with 4.4.7', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST), { queue: { lifetime_ms: 1000 } })
  await send(s, ['bob@c.test'], letter('bob@c.test', 'expiring'))
  const [bounce] = await inboxWith(s.a, 1, 'the bounce')
  await queueEmpty(s.a)
  assert.ok(bounce !== undefined)
  const [r] = (await readNotice(bounce)).recipients
  assert.equal(r?.get('action'), 'failed')
  assert.equal(r?.get('status'), '4.4.7')
  assert.match(r?.get('diagnostic-code') ?? '', /127\.0\.0\.3/)
  assert.equal((await inbox(s.a)).length, 1)
})

test('NOTIFY=NEVER: a permanent failure tells nobody', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST, { onRcpt: () => '550 5.1.1 No such user' })
  await send(s, [{ address: 'bob@c.test', notify: [] }], letter('bob@c.test', 'never'))
  await eventually(async () => (c.rcpts.length > 0 ? true : undefined), 10_000, 'the RCPT')
  // A notice would be queued in the same transaction as the outcome, so an empty queue after
  // the attempt means none is on its way.
  await queueEmpty(s.a)
  assert.equal((await inbox(s.a)).length, 0)
})

test('NOTIFY=SUCCESS to a peer without DSN: a success notice, Action relayed', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST)
  await send(s, [{ address: 'bob@c.test', notify: ['success'] }], letter('bob@c.test', 'tell me'))
  const [notice] = await inboxWith(s.a, 1, 'the success notice')
  assert.ok(notice !== undefined)
  const parsed = await readNotice(notice)
  const [r] = parsed.recipients
  assert.equal(r?.get('final-recipient'), 'rfc822; bob@c.test')
  assert.equal(r?.get('action'), 'relayed')
  assert.match(r?.get('status') ?? '', /^2\./)
  assert.equal(c.transactions.length, 1)
  // The peer did not announce DSN: no NOTIFY went to it.
  assert.doesNotMatch(c.commands.join('\n'), /NOTIFY=/)
  await queueEmpty(s.a)
})

test('NOTIFY=SUCCESS to a peer with DSN: passed on, no notice from here', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST, { extensions: [...DEFAULT_EXTENSIONS, 'DSN'] })
  await send(
    s,
    [{ address: 'bob@c.test', notify: ['success', 'failure'] }],
    letter('bob@c.test', 'dsn'),
  )
  await queueEmpty(s.a)
  assert.equal(c.transactions.length, 1)
  assert.match(
    c.commands.find((line) => line.startsWith('RCPT')) ?? '',
    /^RCPT TO:<bob@c\.test> NOTIFY=SUCCESS,FAILURE(?: |$)/,
  )
  assert.equal((await inbox(s.a)).length, 0)
})

test('8-bit mail to a peer without 8BITMIME is converted to quoted-printable', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST, {
    extensions: DEFAULT_EXTENSIONS.filter((line) => line !== '8BITMIME'),
  })
  const text = 'Viele Grüße aus A.\r\nÄrger? Keiner.\r\n'
  const message =
    'From: alice@a.test\r\nTo: bob@c.test\r\nSubject: umlauts\r\n' +
    `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}`
  await send(s, ['bob@c.test'], message, { envelope: { body: '8bitmime' } })
  await queueEmpty(s.a)
  const [received] = c.transactions
  assert.ok(received !== undefined)
  assert.ok(
    received.data.every((octet) => octet < 0x80),
    'only 7-bit octets',
  )
  assert.equal(received.body8bit, undefined)
  assert.doesNotMatch(received.mailLine, /BODY=/i)
  const parsed = parseMessage(received.data)
  const cte = parsed.root.header.fields.find((f) => f.lowerName === 'content-transfer-encoding')
  assert.ok(cte !== undefined)
  assert.equal(unfoldedFieldValue(received.data, cte).toLowerCase(), 'quoted-printable')
  const decoded = decodeQuotedPrintable(
    received.data.subarray(parsed.root.bodyStart, parsed.root.bodyEnd),
  )
  assert.equal(decoded.toString('utf8'), text)
  assert.equal((await simpleParser(received.data)).text, text.replaceAll('\r\n', '\n'))
})

test('SMTPUTF8 mail to a peer without SMTPUTF8 bounces with 5.6.7', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST)
  await send(s, ['jürgen@c.test'], letter('jürgen@c.test', 'utf8'), {
    envelope: { smtputf8: true },
  })
  const [bounce] = await inboxWith(s.a, 1, 'the bounce')
  await queueEmpty(s.a)
  assert.ok(bounce !== undefined)
  const notice = await readNotice(bounce)
  // RFC 6533: the report on SMTPUTF8 mail uses the global types.
  assert.equal(notice.reportType, 'global-delivery-status')
  const [r] = notice.recipients
  assert.equal(r?.get('action'), 'failed')
  assert.equal(r?.get('status'), '5.6.7')
  assert.match(r?.get('final-recipient') ?? '', /jürgen@c\.test/)
  assert.equal(c.transactions.length, 0)
  assert.ok(!c.commands.some((line) => line.startsWith('MAIL')), 'no MAIL sent')
})

test('SMTPUTF8 mail that is ASCII after all goes without the flag to a peer that lacks it', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST)
  await send(s, ['bob@c.test'], letter('bob@c.test', 'plain'), { envelope: { smtputf8: true } })
  await queueEmpty(s.a)
  const [received] = c.transactions
  assert.ok(received !== undefined, 'delivered')
  assert.doesNotMatch(received.mailLine, /SMTPUTF8/)
  assert.deepEqual(await mailboxMessages(s.a.store, ALICE.address), [], 'no bounce')
})

test('a message from the null sender that fails gets no bounce', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST, { onRcpt: () => '550 5.1.1 No such user' })
  await send(s, ['x@c.test'], letter('x@c.test', 'from nobody'), { sender: '' })
  await eventually(async () => (c.rcpts.length > 0 ? true : undefined), 10_000, 'the RCPT')
  assert.match(c.commands.find((line) => line.startsWith('MAIL')) ?? '', /^MAIL FROM:<>/)
  await queueEmpty(s.a)
  assert.equal((await inbox(s.a)).length, 0)
})

test('messages to one domain share a connection', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST)
  for (const n of [1, 2, 3]) await send(s, ['bob@c.test'], letter('bob@c.test', `reuse ${n}`))
  await queueEmpty(s.a)
  assert.equal(c.transactions.length, 3)
  const back2back = c.connections
  assert.ok(back2back <= 3)
  t.diagnostic(`three messages submitted back to back: ${back2back} connection(s)`)
  // Once they are through, the idle session is kept (5 s) and carries the next message.
  await send(s, ['bob@c.test'], letter('bob@c.test', 'reuse 4'))
  await queueEmpty(s.a)
  assert.equal(c.transactions.length, 4)
  assert.equal(c.connections, back2back)
  const subjects = c.transactions.map((tr) => /Subject: (.*)\r\n/.exec(tr.data.toString())?.[1])
  assert.deepEqual(subjects.sort(), ['reuse 1', 'reuse 2', 'reuse 3', 'reuse 4'])
})

test('150 recipients at one domain go in two transactions of at most 100', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST)
  const recipients = Array.from({ length: 150 }, (_, i) => ({
    address: `r${i}@c.test`,
    originalRecipient: null,
    notify: null,
  }))
  // Past submission's own limit of 100 per message: an alias expansion can queue this many.
  await s.a.store.acceptMessage({
    deliveries: [],
    queue: {
      message: { bytes: Buffer.from(letter('many@c.test', 'many')) },
      entry: {
        sender: ALICE.address,
        recipients,
        envelopeId: null,
        ret: null,
        body: '7bit',
        smtputf8: false,
        submittedBy: null,
      },
    },
  })
  await queueEmpty(s.a)
  // RFC 5321 §4.5.3.1.8: a server must take 100 recipients; more may be refused.
  assert.deepEqual(
    c.transactions.map((tr) => tr.to.length).sort((x, y) => y - x),
    [100, 50],
  )
  assert.deepEqual(
    c.transactions.flatMap((tr) => tr.to).sort(),
    recipients.map((r) => r.address).sort(),
  )
})

test('a deferred message survives a restart and is delivered once', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  await send(s, ['bob@c.test'], letter('bob@c.test', 'restart'))
  await recipientWhen(s.a, 'bob@c.test', (r) => r.status === 'deferred', 'the deferral')
  await s.a.stop()
  const c = await fake(t, s.port, FIRST)
  const a = await startA(t, s.port, s.dns, { dataDir: s.a.dir })
  const [entry] = await a.store.listQueue()
  assert.equal(entry?.recipients[0]?.status, 'deferred')
  // Due now rather than after the retry wait (unless the new run has claimed it already).
  assert.ok([0, 1].includes(await a.store.rescheduleQueue()))
  await queueEmpty(a)
  assert.equal(c.transactions.length, 1)
  assert.match(c.transactions[0]?.data.toString() ?? '', /Subject: restart\r\n/)
})

test('stopping is not held up by an idle connection whose peer went silent', async (t) => {
  // RFC 5321's own timeouts (no command_timeout_ms): QUIT would be waited for 5 minutes.
  const s = await setup(t, mxZone('c.test', FIRST), { relay: { command_timeout_ms: null } })
  const c = await fake(t, s.port, FIRST, { answersQuit: false })
  await send(s, ['bob@c.test'], letter('bob@c.test', 'then stop'))
  await queueEmpty(s.a)
  assert.equal(c.transactions.length, 1)
  // The session now waits in the pool (5 s) for the next message; stopping ends it.
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    s.a.stop().then(() => 'stopped'),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('still stopping after 20 s'), 20_000)
    }),
  ])
  clearTimeout(timer)
  assert.equal(outcome, 'stopped')
  assert.ok(c.commands.includes('QUIT'), 'QUIT was sent')
})

// RFC 5321 §2.3.8: a client sends CR and LF only as CRLF. A message can arrive with bare ones
// (BDAT carries them, and the store keeps a message's bytes as they came); relayed with DATA to
// a host without CHUNKING, they would leave the end of the message to that host's reading of
// "<LF>.<LF>" or "<CR>.<CR>" (SMTP smuggling). They go out as CRLF, dot-stuffed.
test('bare CRs and LFs in a relayed message go out as CRLF: no next hop finds a second message', async (t) => {
  const s = await setup(t, mxZone('c.test', FIRST))
  const c = await fake(t, s.port, FIRST)
  const smuggled = 'MAIL FROM:<evil@c.test>\r\nRCPT TO:<victim@c.test>\r\nDATA\r\nevil\r\n'
  const message =
    `${letter('bob@c.test', 'bare line ends')}one\n.\n${smuggled}` +
    `two\r.\r${smuggled}three\r\n.\n${smuggled}end\n`
  await send(s, ['bob@c.test'], message)
  await eventually(async () => (c.transactions.length > 0 ? true : undefined), 10_000, 'delivery')
  await queueEmpty(s.a)
  assert.equal(c.transactions.length, 1)
  assert.deepEqual(c.transactions[0]?.to, ['bob@c.test'])
  const data = c.transactions[0]?.data.toString('latin1') ?? ''
  assert.doesNotMatch(data, /[^\r]\n|\r[^\n]/, 'no bare line end reached the next hop')
  assert.ok(
    data.endsWith(message.replace(/\r\n|\r|\n/g, '\r\n')),
    'the message, line ends made CRLF, and nothing else changed',
  )
})
