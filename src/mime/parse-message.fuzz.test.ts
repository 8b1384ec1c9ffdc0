import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { buildMessage, type LeafPartInput, type MultipartInput } from './build-message.ts'
import { type MimePart, parseMessage } from './parse-message.ts'
import { bodyStructure } from './structure.ts'
import { decodeTransferEncoding } from './transfer-encoding/index.ts'

/** Every offset lies inside the input, in order, and children nest inside their parent's body. */
function assertSlicesInput(part: MimePart, from: number, to: number): void {
  assert.ok(from <= part.headerStart, 'header starts inside the parent')
  assert.ok(
    part.headerStart <= part.bodyStart && part.bodyStart <= part.bodyEnd && part.bodyEnd <= to,
  )
  for (const field of part.header.fields) {
    assert.ok(
      part.headerStart <= field.start &&
        field.start < field.valueStart &&
        field.valueStart <= field.end,
    )
    assert.ok(field.end <= part.bodyStart)
  }
  let previousEnd = part.bodyStart
  for (const child of part.children) {
    assert.ok(child.headerStart >= previousEnd, 'children do not overlap')
    assertSlicesInput(child, part.bodyStart, part.bodyEnd)
    previousEnd = child.bodyEnd
  }
  if (part.message) {
    assert.equal(part.message.headerStart, part.bodyStart)
    assertSlicesInput(part.message, part.bodyStart, part.bodyEnd)
  }
}

const SEED_MESSAGE = Buffer.from(
  [
    'From: "A" <a@example.com>',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: multipart/alternative; boundary=b2',
    '',
    '--b2',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'caf=C3=A9',
    '--b2--',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    'Subject: inner',
    'Content-Type: multipart/mixed; boundary=b1x',
    '',
    '--b1x',
    '',
    'x',
    '--b1x--',
    '--b1--',
    '',
  ].join('\r\n'),
)

// Inputs biased towards what MIME parsers trip on: delimiters, line ends, colons, headers.
const token = fc.constantFrom(
  '\r\n',
  '\n',
  '\r',
  '--',
  '--b1',
  '--b2--',
  ':',
  ' ',
  '\t',
  'Content-Type: multipart/mixed; boundary=b1\r\n',
  'Content-Type: message/rfc822\r\n',
  'Content-Type: multipart/digest; boundary="b2"\r\n',
  '\r\n\r\n',
  'X: y\r\n',
  '=?utf-8?q?',
  '\u0000',
  'é',
)
const messageText = fc
  .array(fc.oneof(token, fc.string({ maxLength: 8 })), { maxLength: 120 })
  .map((parts) => parts.join(''))

test('any input parses without throwing, and every offset slices the input', () => {
  fc.assert(
    fc.property(messageText, (text) => {
      const bytes = Buffer.from(text, 'latin1')
      const message = parseMessage(bytes)
      assertSlicesInput(message.root, 0, bytes.length)
      assert.equal(message.root.headerStart, 0)
      bodyStructure(message)
    }),
    { numRuns: 2000 },
  )
})

test('mutations of a nested message never throw and still slice the input', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.nat({ max: SEED_MESSAGE.length }),
          fc.nat({ max: 8 }),
          fc.string({ maxLength: 6 }),
        ),
        {
          minLength: 1,
          maxLength: 6,
        },
      ),
      (edits) => {
        let bytes = SEED_MESSAGE
        for (const [at, remove, insert] of edits) {
          const position = Math.min(at, bytes.length)
          bytes = Buffer.concat([
            bytes.subarray(0, position),
            Buffer.from(insert, 'latin1'),
            bytes.subarray(Math.min(bytes.length, position + remove)),
          ])
        }
        const message = parseMessage(bytes)
        assertSlicesInput(message.root, 0, bytes.length)
        bodyStructure(message)
      },
    ),
    { numRuns: 2000 },
  )
})

const leaf: fc.Arbitrary<LeafPartInput> = fc.oneof(
  fc.record({
    contentType: fc.constantFrom('text/plain', 'text/html'),
    content: fc.string({ maxLength: 300, unit: 'grapheme' }),
  }),
  fc.record({
    contentType: fc.constant('application/octet-stream'),
    content: fc.uint8Array({ maxLength: 300 }),
    filename: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
  }),
)
const tree: fc.Arbitrary<LeafPartInput | MultipartInput> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('multipart')),
  leaf,
  multipart: fc.record({
    multipart: fc.constantFrom('mixed', 'alternative', 'related'),
    parts: fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
  }),
})).node as fc.Arbitrary<LeafPartInput | MultipartInput>

function assertMatches(part: MimePart, input: LeafPartInput | MultipartInput, bytes: Buffer): void {
  if ('multipart' in input) {
    assert.equal(part.contentType.type, 'multipart')
    assert.equal(part.contentType.subtype, input.multipart)
    assert.equal(part.children.length, input.parts.length)
    input.parts.forEach((child, i) => {
      assertMatches(part.children[i] as MimePart, child, bytes)
    })
    return
  }
  assert.equal(`${part.contentType.type}/${part.contentType.subtype}`, input.contentType)
  const encoding = part.header.fields.find(
    (field) => field.lowerName === 'content-transfer-encoding',
  )
  const encodingName = encoding
    ? bytes.subarray(encoding.valueStart, encoding.end).toString().trim()
    : null
  const decoded = decodeTransferEncoding(bytes.subarray(part.bodyStart, part.bodyEnd), encodingName)
  if (typeof input.content === 'string') {
    // Text is sent with CRLF line ends, and the builder ends it with one.
    const expected = input.content.replace(/\r?\n|\r/g, '\r\n')
    let text = decoded.toString('utf8')
    if (text.endsWith('\r\n') && !expected.endsWith('\r\n')) text = text.slice(0, -2)
    assert.equal(text, expected)
  } else {
    assert.deepEqual(new Uint8Array(decoded), input.content)
  }
}

test('build → parse gives back the tree and the content that was built', () => {
  fc.assert(
    fc.property(tree, fc.string({ maxLength: 60, unit: 'grapheme' }), (body, subject) => {
      const bytes = buildMessage({
        from: { address: 'a@example.com' },
        to: [{ address: 'b@example.com' }],
        subject,
        body,
      })
      const message = parseMessage(bytes)
      assert.equal(message.isTruncated, false)
      assertSlicesInput(message.root, 0, bytes.length)
      assertMatches(message.root, body, bytes)
      // And parsing is a function of the bytes: the same structure twice.
      assert.deepEqual(bodyStructure(parseMessage(bytes)), bodyStructure(message))
    }),
    { numRuns: 300 },
  )
})
