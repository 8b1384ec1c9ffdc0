import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseAddressList } from './address.ts'
import { buildMessage } from './build-message.ts'
import { parseDate } from './date.ts'
import { unfoldedFieldValue } from './header/fields.ts'
import { parseMessage } from './parse-message.ts'
import { decodeHeaderValue, searchText } from './search-text.ts'

function header(bytes: Buffer, name: string): string | undefined {
  const { root } = parseMessage(bytes)
  const field = root.header.fields.find((candidate) => candidate.lowerName === name)
  return field ? unfoldedFieldValue(bytes, field) : undefined
}

test('buildMessage writes the standard fields, encodes non-ASCII and folds long lines', () => {
  const date = new Date('2026-11-26T10:00:00Z')
  const bytes = buildMessage({
    from: { name: 'Jörg Müller', address: 'jorg@example.de' },
    to: [{ address: 'a@example.com' }, { name: 'Smith, Jane', address: 'jane@example.org' }],
    subject: `Grüße ${'and a very long subject that needs folding '.repeat(3)}`,
    date,
    body: { contentType: 'text/plain', content: 'Hallo!\nZweite Zeile äöü\n' },
  })
  const text = bytes.toString('latin1')
  for (const line of text.split('\r\n')) assert.ok(line.length <= 998)
  assert.ok(
    text
      .split('\r\n\r\n')[0]
      ?.split('\r\n')
      .every((line) => line.length <= 78),
    'header lines fold at 78',
  )
  assert.doesNotMatch(text.split('\r\n\r\n')[0] ?? '', /[\x80-\xff]/, 'the header is 7-bit')
  assert.equal(parseDate(header(bytes, 'date') ?? '')?.getTime(), date.getTime())
  assert.match(header(bytes, 'message-id') ?? '', /^<[a-z0-9]+@example\.de>$/)
  assert.equal(header(bytes, 'mime-version'), '1.0')
  const to = parseAddressList(header(bytes, 'to') ?? '')
  assert.deepEqual(
    to.map((entry) => (entry.kind === 'mailbox' ? [entry.name, entry.mailbox, entry.host] : null)),
    [
      [null, 'a', 'example.com'],
      ['Smith, Jane', 'jane', 'example.org'],
    ],
  )
  const parsed = parseMessage(bytes)
  const from = parsed.root.header.fields.find((field) => field.lowerName === 'from')
  assert.ok(from)
  assert.equal(
    decodeHeaderValue(bytes.subarray(from.valueStart, from.end)),
    'Jörg Müller <jorg@example.de>',
  )
  assert.equal(searchText(parsed).body, 'Hallo!\r\nZweite Zeile äöü\r\n')
})

test('buildMessage builds a multipart tree with attachments and RFC 2231 filenames', () => {
  const bytes = buildMessage({
    from: { address: 'a@example.com' },
    body: {
      multipart: 'mixed',
      parts: [
        {
          multipart: 'alternative',
          parts: [
            { contentType: 'text/plain', content: 'plain' },
            { contentType: 'text/html', content: '<p>html</p>' },
          ],
        },
        {
          contentType: 'application/pdf',
          content: new Uint8Array([1, 2, 3]),
          filename: 'Résumé.pdf',
        },
      ],
    },
  })
  const { root } = parseMessage(bytes)
  assert.equal(root.contentType.subtype, 'mixed')
  assert.equal(root.children[0]?.children.length, 2)
  const attachment = root.children[1]
  assert.ok(attachment)
  assert.equal(attachment.contentType.type, 'application')
  const disposition = attachment.header.fields.find(
    (field) => field.lowerName === 'content-disposition',
  )
  assert.ok(disposition)
  assert.match(unfoldedFieldValue(bytes, disposition), /filename\*=utf-8''R%C3%A9sum%C3%A9\.pdf/i)
})

test('buildMessage falls back to localhost for a Message-ID when the sender has no usable domain', () => {
  const bytes = buildMessage({
    from: { address: 'root' },
    body: { contentType: 'text/plain', content: 'x' },
  })
  assert.match(header(bytes, 'message-id') ?? '', /@localhost>$/)
})

test('buildMessage refuses values that would inject header fields', () => {
  const body = { contentType: 'text/plain', content: 'x' } as const
  assert.throws(
    () =>
      buildMessage({
        from: { address: 'a@example.com' },
        inReplyTo: '<x@y>\r\nBcc: victim@example.com',
        body,
      }),
    /In-Reply-To field, its value has a line break/,
  )
  assert.throws(
    () =>
      buildMessage({ from: { address: 'a@example.com' }, headers: [['X-Bad: y\r\nZ', 'v']], body }),
    /Cannot build a field named/,
  )
  assert.throws(
    () =>
      buildMessage({
        from: { address: 'a@example.com' },
        body: { ...body, contentId: 'a\r\nX: y' },
      }),
    /Content-ID has a line break/,
  )
})
