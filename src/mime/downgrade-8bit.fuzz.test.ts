import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { downgrade8bit } from './downgrade-8bit.ts'
import { transferEncodingValue } from './header/fields.ts'
import { type MimePart, parseMessage } from './parse-message.ts'
import { decodeTransferEncoding } from './transfer-encoding/index.ts'

const utf8 = (text: string) => Buffer.from(text, 'utf8')

// Body material biased towards what the conversion must get right: line ends of every kind,
// 8-bit octets, NUL, "=", trailing spaces, lines that look like delimiters, long lines.
const bodyChunk = fc.oneof(
  fc
    .constantFrom(
      '\r\n',
      '\n',
      '\r',
      ' ',
      '\t',
      '=',
      '.',
      'From ',
      '--b1',
      '--b2--',
      'é',
      '日本',
      '\u0000',
      'plain text ',
      'x'.repeat(80),
    )
    .map(utf8),
  fc.uint8Array({ maxLength: 12 }).map((bytes) => Buffer.from(bytes)),
)
const body = fc.array(bodyChunk, { maxLength: 12 }).map((chunks) => Buffer.concat(chunks))
// Preambles and epilogues: 8-bit there cannot be converted, so it comes seldom.
const filler = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('', 'preamble', 'epilogue\r\n').map(utf8) },
  { weight: 1, arbitrary: body },
)

// Mostly fields the conversion can work with; now and then one that makes it give up.
const extraField = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('Subject: hello', 'X-Note: a', 'Content-ID: <x@y>') },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'Content-Transfer-Encoding: 7bit',
      'Content-Transfer-Encoding: 8bit',
      'Content-Transfer-Encoding: binary',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'Subject: Grüße',
      'Content-Transfer-Encoding: base64',
      'Content-Transfer-Encoding: quoted-printable',
      'Content-Transfer-Encoding: x-unknown',
    ),
  },
)
const fields = fc.array(extraField, { maxLength: 3 })
const lineEnd = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n')

const leafType = fc.constantFrom(
  [],
  ['Content-Type: text/plain; charset=utf-8'],
  ['Content-Type: application/octet-stream'],
  ['Content-Type: message/global'],
  ['Content-Type: message/delivery-status'],
)

/** One entity (a header, a blank line, a body) built from a small grammar. */
const { entity } = fc.letrec<{ entity: Buffer; leaf: Buffer; multipart: Buffer; message: Buffer }>(
  (tie) => ({
    entity: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      tie('leaf'),
      tie('multipart'),
      tie('message'),
    ),
    leaf: fc
      .tuple(leafType, fields, lineEnd, body)
      .map(([type, extra, eol, content]) =>
        Buffer.concat([utf8([...type, ...extra, ''].join(eol) + eol), content]),
      ),
    multipart: fc
      .tuple(
        fc.constantFrom('b1', 'b2'),
        fields,
        lineEnd,
        filler,
        fc.array(tie('entity'), { maxLength: 3 }),
        filler,
        fc.boolean(),
      )
      .map(([boundary, extra, eol, preamble, parts, epilogue, closed]) => {
        const header = [`Content-Type: multipart/mixed; boundary=${boundary}`, ...extra, '']
        const chunks: Buffer[] = [utf8(header.join(eol) + eol), preamble]
        for (const part of parts) chunks.push(utf8(`${eol}--${boundary}${eol}`), part)
        if (closed) chunks.push(utf8(`${eol}--${boundary}--${eol}`), epilogue)
        return Buffer.concat(chunks)
      }),
    message: fc
      .tuple(fields, lineEnd, tie('entity'))
      .map(([extra, eol, inner]) =>
        Buffer.concat([
          utf8(['Content-Type: message/rfc822', ...extra, ''].join(eol) + eol),
          inner,
        ]),
      ),
  }),
)

const message = fc
  .tuple(fc.constantFrom('MIME-Version: 1.0\r\n', ''), entity)
  .map(([mimeVersion, rest]) => Buffer.concat([utf8(mimeVersion), rest]))

function decodedLeaves(bytes: Buffer): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = []
  const walk = (part: MimePart) => {
    if (part.message) return walk(part.message)
    if (part.children.length > 0) {
      for (const child of part.children) walk(child)
      return
    }
    const encoding = transferEncodingValue(bytes, part.header.fields)
    out.push([
      `${part.contentType.type}/${part.contentType.subtype}`,
      decodeTransferEncoding(bytes.subarray(part.bodyStart, part.bodyEnd), encoding),
    ])
  }
  walk(parseMessage(bytes).root)
  return out
}

function isSevenBit(bytes: Buffer): boolean {
  return bytes.every((octet) => octet > 0 && octet < 0x80)
}

test('downgrade8bit gives null or a 7-bit message with the same parts and content', () => {
  fc.assert(
    fc.property(message, (input) => {
      const result = downgrade8bit(input)
      if (result === null) return
      assert.ok(isSevenBit(result))
      if (isSevenBit(input)) assert.equal(result, input)
      const parsed = parseMessage(result)
      assert.equal(parsed.isTruncated, false)
      assert.deepEqual(decodedLeaves(result), decodedLeaves(input))
    }),
    { numRuns: 2000 },
  )
})

test('downgrade8bit never throws on arbitrary bytes, and what it returns is 7-bit', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      const input = Buffer.from(bytes)
      const result = downgrade8bit(input)
      if (result !== null) {
        assert.ok(isSevenBit(result))
        parseMessage(result)
      }
    }),
    { numRuns: 2000 },
  )
})

test('8-bit text parts of a multipart always convert', () => {
  // Guards against a conversion that gives up too readily.
  // A body with "--zz" could start a delimiter line of its own.
  const plainBody = body.filter((content) => !content.includes('--zz'))
  const simple = fc
    .array(plainBody, { minLength: 1, maxLength: 4 })
    .map((bodies) =>
      Buffer.concat([
        utf8('MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n'),
        ...bodies.flatMap((content) => [
          utf8('--zz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'),
          content,
          utf8('\r\n'),
        ]),
        utf8('--zz--\r\n'),
      ]),
    )
  fc.assert(
    fc.property(simple, (input) => {
      const result = downgrade8bit(input)
      assert.ok(result !== null)
      assert.ok(isSevenBit(result))
      assert.deepEqual(decodedLeaves(result), decodedLeaves(input))
    }),
    { numRuns: 500 },
  )
})
