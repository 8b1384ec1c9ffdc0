import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeQuotedPrintable, encodeQuotedPrintable } from './quoted-printable.ts'

const decode = (text: string) =>
  decodeQuotedPrintable(Buffer.from(text, 'latin1')).toString('latin1')
const encode = (text: string, lineLength?: number) =>
  encodeQuotedPrintable(Buffer.from(text, 'latin1'), lineLength)

test('decodeQuotedPrintable turns =XX into octets, in upper or lower case hex', () => {
  assert.equal(decode('caf=E9 =3D =3d =e9'), 'café = = é')
  assert.equal(decode('=00=FF'), '\u0000\u00ff')
})

test('decodeQuotedPrintable removes soft line breaks (RFC 2045 §6.7 rule 5)', () => {
  assert.equal(decode('long =\r\nline'), 'long line')
  assert.equal(decode('long =\nline'), 'long line')
  assert.equal(decode('a=\r\n=\r\nb'), 'ab')
})

test('decodeQuotedPrintable allows transport padding between "=" and the line end', () => {
  assert.equal(decode('soft = \t \r\nbreak'), 'soft break')
  assert.equal(decode('soft =  \nbreak'), 'soft break')
})

test('decodeQuotedPrintable drops "=" at the very end of the data', () => {
  assert.equal(decode('no newline='), 'no newline')
  assert.equal(decode('no newline=  '), 'no newline')
})

test('decodeQuotedPrintable deletes trailing whitespace on a line (RFC 2045 §6.7 rule 3)', () => {
  assert.equal(decode('a  \r\nb\t\r\nc \t'), 'a\r\nb\r\nc')
  assert.equal(decode('a \nb'), 'a\nb')
  assert.equal(decode('a =20 \r\n'), 'a  \r\n')
})

test('decodeQuotedPrintable keeps whitespace that a soft break follows', () => {
  assert.equal(decode('a  =\r\n\r\nb'), 'a  \r\nb')
})

test('decodeQuotedPrintable keeps an "=" that starts no valid sequence', () => {
  assert.equal(decode('a=ZZb'), 'a=ZZb')
  assert.equal(decode('a=4'), 'a=4')
  assert.equal(decode('a=4G'), 'a=4G')
  assert.equal(decode('x = y'), 'x = y')
  assert.equal(decode('=\rx'), '=\rx')
})

test('decodeQuotedPrintable keeps line ends as they are written', () => {
  assert.equal(decode('a\nb\r\nc\rd'), 'a\nb\r\nc\rd')
})

test('decodeQuotedPrintable finishes on a megabyte of hostile input', () => {
  assert.equal(decode('='.repeat(1_000_000)).length, 999_999)
  assert.equal(decode('= '.repeat(500_000)).length, 999_998)
  assert.equal(decode(' '.repeat(1_000_000)), '')
})

test('encodeQuotedPrintable leaves printable ASCII alone and encodes "=" and 8-bit octets', () => {
  assert.equal(encode('Hello, world!'), 'Hello, world!')
  assert.equal(encode('a=b é\u0000'), 'a=3Db =E9=00')
})

test('encodeQuotedPrintable keeps CRLF as a hard break and encodes bare CR and LF', () => {
  assert.equal(encode('a\r\nb'), 'a\r\nb')
  assert.equal(encode('a\nb\rc'), 'a=0Ab=0Dc')
  assert.equal(encode('a\r\r\n'), 'a=0D\r\n')
})

test('encodeQuotedPrintable encodes whitespace that would end a line', () => {
  assert.equal(encode('a \r\nb\t\r\nc '), 'a=20\r\nb=09\r\nc=20')
  assert.equal(encode('a  b  \r\n'), 'a  b =20\r\n')
})

test('encodeQuotedPrintable encodes a leading "." and a leading "From "', () => {
  assert.equal(
    encode('.\r\n..x\r\nFrom me\r\nFromage\r\n a.From x'),
    '=2E\r\n=2E.x\r\n=46rom me\r\nFromage\r\n a.From x',
  )
})

test('encodeQuotedPrintable breaks lines softly at 76 characters', () => {
  const encoded = encode('x'.repeat(200))
  const lines = encoded.split('\r\n')
  assert.deepEqual(
    lines.map((line) => line.length),
    [76, 76, 50],
  )
  assert.ok(lines.slice(0, -1).every((line) => line.endsWith('=')))
  assert.equal(encode('x'.repeat(76)), 'x'.repeat(76))
  assert.equal(encode(`${'x'.repeat(76)}\r\ny`), `${'x'.repeat(76)}\r\ny`)
  assert.equal(encode('x'.repeat(77)), `${'x'.repeat(75)}=\r\nxx`)
})

test('encodeQuotedPrintable never splits an =XX across a soft break', () => {
  const encoded = encode(`${'x'.repeat(73)}éé`)
  assert.equal(encoded, `${'x'.repeat(73)}=\r\n=E9=E9`)
  for (const line of encode('é'.repeat(100)).split('\r\n')) {
    assert.match(line, /^(=[0-9A-F]{2})*=?$/)
    assert.ok(line.length <= 76)
  }
})

test('encodeQuotedPrintable encodes a "." that a soft break brings to the start of a line', () => {
  assert.equal(encode(`${'x'.repeat(75)}.y`), `${'x'.repeat(75)}=\r\n=2Ey`)
  assert.equal(encode(`${'x'.repeat(75)}From y`), `${'x'.repeat(75)}=\r\n=46rom y`)
})

test('encodeQuotedPrintable takes a line length, or Infinity for no soft breaks', () => {
  assert.equal(encode('abcdefgh', 5), 'abcd=\r\nefgh')
  assert.equal(encode('x'.repeat(300), Infinity), 'x'.repeat(300))
  assert.equal(encode('éé', 1), '=E9=\r\n=E9')
})

test('encodeQuotedPrintable of nothing is the empty string', () => {
  assert.equal(encode(''), '')
})
