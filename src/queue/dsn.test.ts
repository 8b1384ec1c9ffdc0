import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'
import { mock, test } from 'node:test'
import { simpleParser } from 'mailparser'
import {
  decodeTransferEncoding,
  type MimePart,
  parseMessage,
  transferEncodingValue,
  unfoldedFieldValue,
} from '../mime/index.ts'
import { buildDsn, type DsnInput, type DsnRecipient } from './dsn.ts'

const ORIGINAL = Buffer.from(
  [
    'From: Alice <alice@example.com>',
    'To: bob@example.org',
    'Subject: Lunch',
    'Message-ID: <lunch@example.com>',
    '',
    'Shall we meet at noon?',
    '',
  ].join('\r\n'),
)

function recipient(overrides: Partial<DsnRecipient> = {}): DsnRecipient {
  return {
    address: 'bob@example.org',
    originalRecipient: 'rfc822;bob@example.org',
    action: 'failed',
    status: '5.1.1',
    remoteMta: 'mx.example.org',
    diagnostic: '550 5.1.1 No such user',
    lastAttemptAt: new Date('2026-03-01T10:05:00Z'),
    willRetryUntil: null,
    ...overrides,
  }
}

function input(overrides: Partial<DsnInput> = {}): DsnInput {
  return {
    reportingMta: 'mail.example.com',
    kind: 'failure',
    to: 'alice@example.com',
    envelopeId: 'QQ314159',
    arrivalDate: new Date('2026-03-01T10:00:00Z'),
    recipients: [recipient()],
    original: ORIGINAL,
    ret: 'full',
    smtputf8: false,
    date: new Date('2026-03-01T10:06:00Z'),
    messageId: '<dsn-1@mail.example.com>',
    ...overrides,
  }
}

interface Report {
  bytes: Buffer
  root: MimePart
  parts: MimePart[]
  /** The delivery-status groups: per-message first, then one per recipient. */
  groups: Array<Map<string, string>>
}

function header(bytes: Buffer, part: MimePart, name: string): string | undefined {
  const found = part.header.fields.find((field) => field.lowerName === name)
  // unfoldedFieldValue gives one char per octet; the header may hold UTF-8 (RFC 6532).
  return found
    ? Buffer.from(unfoldedFieldValue(bytes, found), 'latin1').toString('utf8')
    : undefined
}

function body(bytes: Buffer, part: MimePart): Buffer {
  const encoding = transferEncodingValue(bytes, part.header.fields)
  return decodeTransferEncoding(bytes.subarray(part.bodyStart, part.bodyEnd), encoding)
}

/** Fields of a message/delivery-status body (RFC 3464 §2.1), unfolded, names lower-cased. */
function statusGroups(text: string): Array<Map<string, string>> {
  return text
    .split(/\r\n\r\n/)
    .filter((group) => group.trim() !== '')
    .map((group) => {
      const fields = new Map<string, string>()
      const unfolded = group.replace(/\r\n(?=[ \t])/g, '').replace(/(\r\n)+$/, '')
      for (const line of unfolded.split('\r\n')) {
        const colon = line.indexOf(':')
        assert.ok(colon > 0, `"${line}" is a field`)
        const name = line.slice(0, colon).toLowerCase()
        assert.ok(!fields.has(name), `${name} occurs once`)
        fields.set(name, line.slice(colon + 1).trim())
      }
      return fields
    })
}

function report(dsn: Buffer): Report {
  const parsed = parseMessage(dsn)
  assert.equal(parsed.isTruncated, false)
  const { root } = parsed
  assert.equal(root.contentType.type, 'multipart')
  assert.equal(root.contentType.subtype, 'report')
  const parts = root.children
  assert.equal(parts.length, 3)
  const status = parts[1]
  assert.ok(status)
  return { bytes: dsn, root, parts, groups: statusGroups(body(dsn, status).toString('utf8')) }
}

function assertLines(dsn: Buffer): void {
  let start = 0
  while (start < dsn.length) {
    const lf = dsn.indexOf(0x0a, start)
    const end = lf < 0 ? dsn.length : lf + 1
    assert.ok(end - start <= 1000, 'a line is at most 998 octets and its CRLF')
    start = end
  }
}

test('a failure notice is a multipart/report with the status fields and the whole original', async () => {
  const dsn = buildDsn(input())
  assertLines(dsn)
  const { root, parts, groups } = report(dsn)
  assert.equal(root.contentType.params.get('report-type'), 'delivery-status')
  assert.equal(header(dsn, root, 'from'), 'Mail Delivery System <MAILER-DAEMON@mail.example.com>')
  assert.equal(header(dsn, root, 'to'), '<alice@example.com>')
  assert.equal(header(dsn, root, 'subject'), 'Undelivered Mail Returned to Sender')
  assert.equal(header(dsn, root, 'date'), 'Sun, 01 Mar 2026 10:06:00 +0000')
  assert.equal(header(dsn, root, 'message-id'), '<dsn-1@mail.example.com>')
  assert.equal(header(dsn, root, 'auto-submitted'), 'auto-replied')
  assert.equal(header(dsn, root, 'mime-version'), '1.0')
  assert.deepEqual(
    parts.map((part) => `${part.contentType.type}/${part.contentType.subtype}`),
    ['text/plain', 'message/delivery-status', 'message/rfc822'],
  )
  assert.deepEqual(
    [...(groups[0] ?? [])],
    [
      ['original-envelope-id', 'QQ314159'],
      ['reporting-mta', 'dns; mail.example.com'],
      ['arrival-date', 'Sun, 01 Mar 2026 10:00:00 +0000'],
    ],
  )
  assert.deepEqual(
    [...(groups[1] ?? [])],
    [
      ['original-recipient', 'rfc822;bob@example.org'],
      ['final-recipient', 'rfc822; bob@example.org'],
      ['action', 'failed'],
      ['status', '5.1.1'],
      ['remote-mta', 'dns; mx.example.org'],
      ['diagnostic-code', 'smtp; 550 5.1.1 No such user'],
      ['last-attempt-date', 'Sun, 01 Mar 2026 10:05:00 +0000'],
    ],
  )
  const returned = parts[2]
  assert.ok(returned)
  assert.deepEqual(dsn.subarray(returned.bodyStart, returned.bodyEnd), ORIGINAL)
  const text = parts[0] ? body(dsn, parts[0]).toString('utf8') : ''
  assert.match(text, /<bob@example\.org>: host mx\.example\.org said: 550 5\.1\.1 No such user/)

  const mail = await simpleParser(dsn)
  const contentType = mail.headers.get('content-type') as { value: string; params: object }
  assert.equal(contentType.value, 'multipart/report')
  assert.deepEqual(contentType.params, {
    'report-type': 'delivery-status',
    boundary: root.contentType.params.get('boundary'),
  })
  assert.equal(mail.subject, 'Undelivered Mail Returned to Sender')
  assert.match(mail.text ?? '', /Final-Recipient: rfc822; bob@example\.org/)
  assert.match(mail.text ?? '', /Status: 5\.1\.1/)
  const attached = mail.attachments.find((item) => item.contentType === 'message/rfc822')
  assert.ok(attached)
  assert.deepEqual(attached.content, ORIGINAL)
})

test('the original is embedded byte for byte, bare LF, 8-bit octets and a missing last CRLF', () => {
  const original = Buffer.concat([
    Buffer.from('Subject: x\nContent-Type: text/plain; charset=utf-8\n\nGr'),
    Buffer.from([0xc3, 0xbc, 0x0d, 0x0a, 0x0a, 0x2e, 0x20]),
    Buffer.from('--end'),
  ])
  const dsn = buildDsn(input({ original }))
  const { root, parts } = report(dsn)
  const returned = parts[2]
  assert.ok(returned)
  assert.deepEqual(dsn.subarray(returned.bodyStart, returned.bodyEnd), original)
  assert.equal(header(dsn, returned, 'content-transfer-encoding'), '8bit')
  assert.equal(header(dsn, root, 'content-transfer-encoding'), '8bit')
})

test('RET=HDRS returns only the header, as text/rfc822-headers', async () => {
  const dsn = buildDsn(input({ ret: 'hdrs' }))
  const { parts } = report(dsn)
  const returned = parts[2]
  assert.ok(returned)
  assert.equal(returned.contentType.type, 'text')
  assert.equal(returned.contentType.subtype, 'rfc822-headers')
  const headerBlock = ORIGINAL.subarray(0, ORIGINAL.indexOf('\r\n\r\n') + 2)
  assert.deepEqual(dsn.subarray(returned.bodyStart, returned.bodyEnd), headerBlock)
  assert.ok(!dsn.includes('Shall we meet'), 'the body is not returned')
  assert.match(body(dsn, parts[0] as MimePart).toString(), /Its header is attached/)
  const mail = await simpleParser(dsn)
  assert.ok(!mail.attachments.some((item) => item.contentType === 'message/rfc822'))
  const returnedHeaders = [
    ...mail.attachments.map((item) => item.content.toString()),
    mail.text ?? '',
  ].join('\n')
  assert.match(returnedHeaders, /Message-ID: <lunch@example\.com>/)
})

test('without RET: a small failure returns the whole message, a large one and a delay the header', () => {
  const returnedType = (dsn: Buffer) => {
    const part = report(dsn).parts[2] as MimePart
    return `${part.contentType.type}/${part.contentType.subtype}`
  }
  assert.equal(returnedType(buildDsn(input({ ret: null }))), 'message/rfc822')
  const large = Buffer.concat([ORIGINAL, Buffer.from(`${'x'.repeat(76)}\r\n`.repeat(1400))])
  assert.ok(large.length > 100 * 1024)
  assert.equal(returnedType(buildDsn(input({ ret: null, original: large }))), 'text/rfc822-headers')
  // RET=FULL is honoured whatever the size.
  assert.equal(returnedType(buildDsn(input({ ret: 'full', original: large }))), 'message/rfc822')
  const delay = buildDsn(
    input({
      kind: 'delay',
      ret: null,
      recipients: [recipient({ action: 'delayed', status: '4.4.1' })],
    }),
  )
  assert.equal(returnedType(delay), 'text/rfc822-headers')
})

test('a hostile diagnostic, address or envelope id cannot add fields or end a part', async () => {
  const first = buildDsn(input())
  const boundary = report(first).root.contentType.params.get('boundary') ?? ''
  const attack = `\r\n--${boundary}\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n--${boundary}--\r\nX-Injected: yes`
  const original = Buffer.from(
    `Subject: x\r\n\r\n--${boundary}\r\nContent-Type: text/html\r\n\r\nfake\r\n--${boundary}--\r\n`,
  )
  const dsn = buildDsn(
    input({
      envelopeId: `id${attack}`,
      original,
      recipients: [
        recipient({
          address: `bob@example.org${attack}`,
          originalRecipient: `rfc822;bob@example.org${attack}`,
          remoteMta: `mx.example.org${attack}`,
          diagnostic: `550 5.1.1 No such user${attack}\u0000\u2028end`,
        }),
      ],
    }),
  )
  assertLines(dsn)
  const { root, parts, groups } = report(dsn)
  assert.notEqual(root.contentType.params.get('boundary'), boundary)
  assert.equal(groups.length, 2)
  for (const group of groups) assert.ok(!group.has('x-injected'))
  const diagnostic = groups[1]?.get('diagnostic-code') ?? ''
  assert.ok(diagnostic.startsWith('smtp; 550 5.1.1 No such user --'))
  assert.ok(diagnostic.endsWith('X-Injected: yes end'))
  for (const char of ['\r', '\n', '\u0000']) assert.ok(!diagnostic.includes(char))
  assert.deepEqual(dsn.subarray(parts[2]?.bodyStart, parts[2]?.bodyEnd), original)
  const mail = await simpleParser(dsn)
  assert.equal(mail.html, false)
  assert.equal(mail.headers.get('x-injected'), undefined)
})

test('a boundary found in the original is replaced by a fresh one', () => {
  const clash = `=_dsn_${'ab'.repeat(12)}`
  const original = Buffer.from(`Subject: x\r\n\r\n--${clash}\r\n`)
  const realRandomBytes = crypto.randomBytes
  let calls = 0
  mock.method(crypto, 'randomBytes', ((size: number) => {
    calls += 1
    return calls === 1 ? Buffer.alloc(size, 0xab) : realRandomBytes(size)
  }) as typeof crypto.randomBytes)
  syncBuiltinESMExports()
  try {
    const dsn = buildDsn(input({ original }))
    assert.ok(calls >= 2, 'a second boundary was drawn')
    const { root, parts } = report(dsn)
    const boundary = root.contentType.params.get('boundary') ?? ''
    assert.notEqual(boundary, clash)
    assert.ok(!original.includes(boundary))
    assert.deepEqual(dsn.subarray(parts[2]?.bodyStart, parts[2]?.bodyEnd), original)
  } finally {
    mock.restoreAll()
    syncBuiltinESMExports()
  }
})

test('each recipient has its own group, in order', () => {
  const dsn = buildDsn(
    input({
      recipients: [
        recipient(),
        recipient({
          address: 'carol@example.net',
          originalRecipient: null,
          status: '5.2.2',
          remoteMta: null,
          diagnostic: '552 5.2.2 Mailbox full',
        }),
        recipient({
          address: 'dave@example.net',
          originalRecipient: null,
          status: '5.4.4',
          remoteMta: null,
          diagnostic: null,
          lastAttemptAt: null,
        }),
      ],
    }),
  )
  const { groups, parts } = report(dsn)
  assert.deepEqual(
    groups.slice(1).map((group) => [group.get('final-recipient'), group.get('status')]),
    [
      ['rfc822; bob@example.org', '5.1.1'],
      ['rfc822; carol@example.net', '5.2.2'],
      ['rfc822; dave@example.net', '5.4.4'],
    ],
  )
  assert.equal(groups[2]?.has('original-recipient'), false)
  assert.equal(groups[2]?.has('remote-mta'), false)
  assert.equal(groups[3]?.has('diagnostic-code'), false)
  assert.equal(groups[3]?.has('last-attempt-date'), false)
  const text = body(dsn, parts[0] as MimePart).toString()
  assert.match(text, /<carol@example\.net>: 552 5\.2\.2 Mailbox full/)
  assert.match(text, /<dave@example\.net>: delivery failed \(5\.4\.4\)/)
})

test('a delay notice says delayed and until when it retries', async () => {
  const until = new Date('2026-03-06T10:00:00Z')
  const dsn = buildDsn(
    input({
      kind: 'delay',
      ret: null,
      recipients: [
        recipient({
          action: 'delayed',
          status: '4.4.1',
          diagnostic: '421 4.4.1 Connection timed out',
          willRetryUntil: until,
        }),
        // Will-Retry-Until belongs to delayed recipients only (RFC 3464 §2.3.9).
        recipient({ address: 'carol@example.net', willRetryUntil: until }),
      ],
    }),
  )
  const { root, groups, parts } = report(dsn)
  assert.equal(header(dsn, root, 'subject'), 'Delayed Mail (still being retried)')
  assert.equal(groups[1]?.get('action'), 'delayed')
  assert.equal(groups[1]?.get('status'), '4.4.1')
  assert.equal(groups[1]?.get('will-retry-until'), 'Fri, 06 Mar 2026 10:00:00 +0000')
  assert.equal(groups[2]?.has('will-retry-until'), false)
  assert.match(body(dsn, parts[0] as MimePart).toString(), /will be retried until Fri, 06 Mar/)
  const mail = await simpleParser(dsn)
  assert.match(mail.text ?? '', /Action: delayed/)
  assert.match(mail.text ?? '', /Will-Retry-Until: Fri, 06 Mar 2026 10:00:00 \+0000/)
})

test('a success notice reports delivered recipients', () => {
  const dsn = buildDsn(
    input({
      kind: 'success',
      ret: null,
      recipients: [recipient({ action: 'delivered', status: '2.0.0', diagnostic: null })],
    }),
  )
  const { root, groups, parts } = report(dsn)
  assert.equal(header(dsn, root, 'subject'), 'Successful Mail Delivery Report')
  assert.equal(groups[1]?.get('action'), 'delivered')
  assert.equal(parts[2]?.contentType.subtype, 'rfc822-headers')
})

test('an SMTPUTF8 original gets the global media types and the utf-8 address type', async () => {
  const original = Buffer.from('From: jörg@example.de\r\nSubject: Grüße\r\n\r\nHallo\r\n')
  const dsn = buildDsn(
    input({
      smtputf8: true,
      to: 'jörg@example.de',
      original,
      recipients: [
        recipient({
          address: '用户@example.net',
          originalRecipient: 'utf-8;用户@example.net',
          diagnostic: '550 5.1.1 用户不存在',
        }),
      ],
    }),
  )
  assertLines(dsn)
  const { root, parts, groups } = report(dsn)
  assert.equal(root.contentType.params.get('report-type'), 'global-delivery-status')
  assert.equal(parts[1]?.contentType.subtype, 'global-delivery-status')
  assert.equal(parts[2]?.contentType.subtype, 'global')
  assert.deepEqual(dsn.subarray(parts[2]?.bodyStart, parts[2]?.bodyEnd), original)
  assert.equal(groups[1]?.get('original-recipient'), 'utf-8;用户@example.net')
  assert.equal(groups[1]?.get('final-recipient'), 'utf-8; 用户@example.net')
  assert.equal(groups[1]?.get('diagnostic-code'), 'smtp; 550 5.1.1 用户不存在')
  const text = body(dsn, parts[0] as MimePart).toString('utf8')
  assert.match(text, /<用户@example\.net>: host mx\.example\.org said: 550 5\.1\.1 用户不存在/)
  assert.equal(header(dsn, root, 'to'), '<jörg@example.de>')
  const headersOnly = report(buildDsn(input({ smtputf8: true, original, ret: 'hdrs' })))
  assert.equal(headersOnly.parts[2]?.contentType.subtype, 'global-headers')
  const mail = await simpleParser(dsn)
  assert.equal(
    (mail.headers.get('content-type') as { params: Record<string, string> }).params['report-type'],
    'global-delivery-status',
  )
})

test('an ASCII report stays 7-bit: utf-8-addr-xtext addresses, "?" in the diagnostic', () => {
  const dsn = buildDsn(
    input({
      recipients: [
        recipient({
          address: 'jörg+x@example.de',
          originalRecipient: 'utf-8;jörg+x@example.de',
          diagnostic: '550 Benutzer unbekannt – jörg',
        }),
      ],
    }),
  )
  for (const octet of dsn) assert.ok(octet < 0x80)
  const { groups, parts } = report(dsn)
  assert.equal(groups[1]?.get('final-recipient'), 'utf-8; j\\x{F6}rg\\x{2B}x@example.de')
  assert.equal(groups[1]?.get('original-recipient'), 'utf-8;j\\x{F6}rg\\x{2B}x@example.de')
  assert.equal(groups[1]?.get('diagnostic-code'), 'smtp; 550 Benutzer unbekannt ? j?rg')
  assert.equal(parts[0]?.contentType.params.get('charset'), 'us-ascii')
})

test('long diagnostics fold at spaces to 78 columns; a long word still fits in 998', () => {
  const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ')
  const long = `550 5.7.1 ${words} ${'x'.repeat(3000)} tail`
  const dsn = buildDsn(input({ recipients: [recipient({ diagnostic: long })] }))
  assertLines(dsn)
  const status = report(dsn).parts[1] as MimePart
  const lines = body(dsn, status).toString().split('\r\n')
  const start = lines.findIndex((line) => line.startsWith('Diagnostic-Code:'))
  const folded = [lines[start] ?? '']
  for (let i = start + 1; lines[i]?.startsWith(' '); i += 1) folded.push(lines[i] ?? '')
  const short = folded.filter((line) => !line.includes('xxxx'))
  assert.ok(short.length > 5)
  for (const line of short) assert.ok(line.length <= 78, line)
  const unfolded = folded.join('')
  assert.ok(unfolded.startsWith(`Diagnostic-Code: smtp; 550 5.7.1 ${words} x`))
  assert.ok(unfolded.endsWith('x tail'))
  assert.equal(
    unfolded.replace(/ /g, '').length,
    `Diagnostic-Code:smtp;${long}`.replace(/ /g, '').length,
  )
})

test('a notice that cannot be written is refused', () => {
  assert.throws(() => buildDsn(input({ to: '' })), TypeError)
  assert.throws(() => buildDsn(input({ to: 'a@example.com\r\nBcc: x@y' })), TypeError)
  assert.throws(() => buildDsn(input({ recipients: [] })), TypeError)
  assert.throws(() => buildDsn(input({ messageId: '<a@b>\r\nX: y' })), TypeError)
  assert.throws(() => buildDsn(input({ reportingMta: 'not a host' })), RangeError)
  assert.throws(() => buildDsn(input({ arrivalDate: new Date(Number.NaN) })), RangeError)
})

test('a malformed status falls back to the default of the action', () => {
  const dsn = buildDsn(input({ recipients: [recipient({ status: '5.1.1\r\nX-Evil: 1' })] }))
  assert.equal(report(dsn).groups[1]?.get('status'), '5.0.0')
})
