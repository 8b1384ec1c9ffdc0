import assert from 'node:assert/strict'
import { test } from 'node:test'
import { downgrade8bit } from './downgrade-8bit.ts'
import { transferEncodingValue, unfoldedFieldValue } from './header/fields.ts'
import { type MimePart, parseMessage } from './parse-message.ts'
import { decodeTransferEncoding } from './transfer-encoding/index.ts'

function crlf(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8')
}

interface Leaf {
  type: string
  encoding: string | null
  decoded: Buffer
}

/** Every leaf part in order, with its body decoded by its own Content-Transfer-Encoding. */
function leaves(bytes: Buffer): Leaf[] {
  const parsed = parseMessage(bytes)
  assert.equal(parsed.isTruncated, false)
  const out: Leaf[] = []
  const walk = (part: MimePart) => {
    if (part.message) return walk(part.message)
    if (part.children.length > 0) {
      for (const child of part.children) walk(child)
      return
    }
    const encoding = transferEncodingValue(bytes, part.header.fields)
    out.push({
      type: `${part.contentType.type}/${part.contentType.subtype}`,
      encoding: encoding?.trim() ?? null,
      decoded: decodeTransferEncoding(bytes.subarray(part.bodyStart, part.bodyEnd), encoding),
    })
  }
  walk(parsed.root)
  return out
}

function assertSevenBit(bytes: Buffer): void {
  for (const octet of bytes) assert.ok(octet > 0 && octet < 0x80, `octet ${octet} is not 7-bit`)
}

/** The result is 7-bit and every leaf decodes to what the original's did. */
function assertSameContent(original: Buffer, result: Buffer): Leaf[] {
  assertSevenBit(result)
  const before = leaves(original)
  const after = leaves(result)
  assert.deepEqual(
    after.map((leaf) => [leaf.type, leaf.decoded]),
    before.map((leaf) => [leaf.type, leaf.decoded]),
  )
  return after
}

function headerValue(bytes: Buffer, part: MimePart, name: string): string[] {
  return part.header.fields
    .filter((field) => field.lowerName === name)
    .map((field) => unfoldedFieldValue(bytes, field))
}

test('a 7-bit message comes back as the same Buffer', () => {
  const message = crlf(['Subject: plain', 'Content-Type: text/plain', '', 'Hello.', ''])
  assert.equal(downgrade8bit(message), message)
})

test('an 8bit text body becomes quoted-printable, the rest of the header untouched', () => {
  const message = crlf([
    'From: a@example.com',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    'Subject: greetings',
    '',
    'Grüße aus Köln',
    'Zweite Zeile = gleich',
    '',
  ])
  const result = downgrade8bit(message)
  assert.ok(result)
  const [leaf] = assertSameContent(message, result)
  assert.equal(leaf?.encoding, 'quoted-printable')
  assert.equal(
    result.toString('latin1'),
    [
      'From: a@example.com',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      'Subject: greetings',
      '',
      'Gr=C3=BC=C3=9Fe aus K=C3=B6ln',
      'Zweite Zeile =3D gleich',
      '',
    ].join('\r\n'),
  )
  assert.equal(leaf?.decoded.toString('utf8'), 'Grüße aus Köln\r\nZweite Zeile = gleich\r\n')
})

test('a part without Content-Transfer-Encoding gets one, and a message without MIME-Version too', () => {
  const message = crlf(['Subject: x', '', 'caf\u00e9', ''])
  const result = downgrade8bit(message)
  assert.ok(result)
  assertSameContent(message, result)
  const { root } = parseMessage(result)
  assert.deepEqual(headerValue(result, root, 'content-transfer-encoding'), ['quoted-printable'])
  assert.deepEqual(headerValue(result, root, 'mime-version'), ['1.0'])
  assert.ok(result.toString('latin1').startsWith('Subject: x\r\nMIME-Version: 1.0\r\n'))
})

test('duplicate Content-Transfer-Encoding fields leave one; bare LF line ends are kept', () => {
  const message = Buffer.from(
    'MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\nContent-Transfer-Encoding:\n binary\n\n\u00e9\n',
    'latin1',
  )
  const result = downgrade8bit(message)
  assert.ok(result)
  assertSameContent(message, result)
  assert.equal(
    result.toString('latin1'),
    'MIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\n=E9=0A',
  )
})

test('NUL in a 7bit body is re-encoded too', () => {
  const message = crlf(['MIME-Version: 1.0', '', 'a\u0000b', ''])
  const result = downgrade8bit(message)
  assert.ok(result)
  assert.ok(result.toString('latin1').endsWith('\r\n\r\na=00b\r\n'))
  assertSameContent(message, result)
})

test('in a multipart only the 8bit part changes; a base64 part and the delimiters stay', () => {
  const base64Part = [
    '--outer',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    'AAECAwT/',
  ]
  const message = crlf([
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer"',
    'Content-Transfer-Encoding: 8bit',
    '',
    'This is a preamble.',
    '--outer',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: 8bit',
    '',
    'na\u00efve caf\u00e9',
    ...base64Part,
    '--outer--',
    'epilogue',
    '',
  ])
  // iso-8859-1: one octet per character.
  const latin1Message = Buffer.from(message.toString('utf8'), 'latin1')
  const result = downgrade8bit(latin1Message)
  assert.ok(result)
  const after = assertSameContent(latin1Message, result)
  assert.deepEqual(
    after.map((leaf) => leaf.encoding),
    ['quoted-printable', 'base64'],
  )
  const text = result.toString('latin1')
  assert.ok(text.includes(`\r\n${base64Part.join('\r\n')}\r\n--outer--\r\nepilogue\r\n`))
  assert.ok(text.includes('\r\n\r\nThis is a preamble.\r\n--outer\r\n'))
  // The multipart said 8bit; it holds only 7-bit data now.
  const { root } = parseMessage(result)
  assert.deepEqual(headerValue(result, root, 'content-transfer-encoding'), ['7bit'])
  assert.equal(after[0]?.decoded.toString('latin1'), 'na\u00efve caf\u00e9')
})

test('message/rfc822 is not encoded; its inner 8bit part is, and its label becomes 7bit', () => {
  const message = crlf([
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary=b1',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'See the attached message.',
    '--b1',
    'Content-Type: message/rfc822',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Subject: inner',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Привет',
    '--b1--',
    '',
  ])
  const result = downgrade8bit(message)
  assert.ok(result)
  const after = assertSameContent(message, result)
  assert.deepEqual(
    after.map((leaf) => leaf.encoding),
    [null, 'quoted-printable'],
  )
  assert.equal(after[1]?.decoded.toString('utf8'), 'Привет')
  const { root } = parseMessage(result)
  const encapsulated = root.children[1]
  assert.ok(encapsulated?.message)
  assert.deepEqual(headerValue(result, encapsulated, 'content-transfer-encoding'), ['7bit'])
  assert.deepEqual(headerValue(result, encapsulated.message, 'subject'), ['inner'])
  // The first part's bytes are untouched.
  assert.ok(result.toString('latin1').includes('--b1\r\nContent-Type: text/plain\r\n\r\nSee the'))
})

test('8-bit octets in a header need SMTPUTF8: null', () => {
  assert.equal(downgrade8bit(crlf(['Subject: Grüße', '', 'body', ''])), null)
  const innerHeader = crlf(['Content-Type: message/rfc822', '', 'Subject: Grüße', '', 'body', ''])
  assert.equal(downgrade8bit(innerHeader), null)
  const partHeader = crlf([
    'Content-Type: multipart/mixed; boundary=b',
    '',
    '--b',
    'Content-Type: text/plain; name="Résumé.txt"',
    '',
    'x',
    '--b--',
    '',
  ])
  assert.equal(downgrade8bit(partHeader), null)
})

test('8-bit octets where no part can be relabelled, or in an encoded part: null', () => {
  const multipart = (preamble: string, epilogue: string, delimiterTail = '') =>
    crlf([
      'Content-Type: multipart/mixed; boundary=b',
      '',
      preamble,
      `--b${delimiterTail}`,
      '',
      'x',
      '--b--',
      epilogue,
    ])
  assert.equal(downgrade8bit(multipart('ok', 'ok', ' caf\u00e9')), null)
  assert.equal(downgrade8bit(multipart('préambule', 'ok')), null)
  assert.equal(downgrade8bit(multipart('ok', 'épilogue')), null)
  for (const encoding of ['base64', 'quoted-printable', 'x-uuencode']) {
    const message = crlf([`Content-Transfer-Encoding: ${encoding}`, '', 'caf\u00e9', ''])
    assert.equal(downgrade8bit(message), null, encoding)
  }
  const global = crlf(['Content-Type: message/global', '', 'Subject: x', '', 'caf\u00e9', ''])
  assert.equal(downgrade8bit(global), null)
  const status = crlf(['Content-Type: message/delivery-status', '', 'X: caf\u00e9', ''])
  assert.equal(downgrade8bit(status), null)
  // A multipart without usable delimiters is all preamble.
  const undelimited = crlf(['Content-Type: multipart/mixed; boundary=zz', '', 'caf\u00e9', ''])
  assert.equal(downgrade8bit(undelimited), null)
})

test('a 7-bit message/global is left alone while another part is converted', () => {
  const message = crlf([
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary=b',
    '',
    '--b',
    'Content-Type: message/global',
    '',
    'Subject: ascii only',
    '',
    'hello',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'caf\u00e9',
    '--b--',
    '',
  ])
  const result = downgrade8bit(message)
  assert.ok(result)
  assertSameContent(message, result)
})

test('a message past the parser limits is refused', () => {
  let nested = 'caf\u00e9\r\n'
  for (let depth = 0; depth < 70; depth += 1) {
    nested = `Content-Type: message/rfc822\r\n\r\n${nested}`
  }
  assert.equal(downgrade8bit(Buffer.from(nested, 'utf8')), null)
})

test('a soft line break never starts a line with an enclosing boundary', () => {
  // At 76 columns the soft break would fall just before "--b1", making a delimiter line.
  const line = `${'a'.repeat(75)}--b1 tail \u00e9`
  const message = crlf([
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary=b1',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    line,
    '--b1',
    'Content-Type: text/plain',
    '',
    'second',
    '--b1--',
    '',
  ])
  const result = downgrade8bit(message)
  assert.ok(result)
  for (const resultLine of result.toString('latin1').split('\r\n')) {
    if (resultLine.startsWith('--b1')) assert.match(resultLine, /^--b1(--)?$/)
  }
  const after = assertSameContent(message, result)
  assert.equal(after.length, 2)
  assert.equal(after[0]?.decoded.toString('utf8'), line)
})
