import assert from 'node:assert/strict'
import { test } from 'node:test'
import iconv from 'iconv-lite'
import { decodeText, isValidUtf8, normalizeCharset } from './charset.ts'

const bytes = (...octets: number[]) => new Uint8Array(octets)

test('normalizeCharset maps the aliases mail uses to one name', () => {
  const cases: Array<[string, string]> = [
    ['utf8', 'utf-8'],
    ['UTF-8', 'utf-8'],
    ['unicode-1-1-utf-8', 'utf-8'],
    ['latin1', 'iso-8859-1'],
    ['iso8859-1', 'iso-8859-1'],
    ['ISO_8859-1:1987', 'iso-8859-1'],
    ['cp1252', 'windows-1252'],
    ['x-sjis', 'shift_jis'],
    ['ks_c_5601-1987', 'euc-kr'],
    ['ansi_x3.4-1968', 'us-ascii'],
    ['us-ascii', 'us-ascii'],
    ['ascii', 'us-ascii'],
    ['unicode-1-1-utf-7', 'utf-7'],
    ['utf-7', 'utf-7'],
    ['cp437', 'cp437'],
    ['ibm437', 'cp437'],
    ['cp850', 'cp850'],
    ['gb2312', 'gbk'],
    ['x-gbk', 'gbk'],
    ['iso-2022-jp', 'iso-2022-jp'],
    ['gb18030', 'gb18030'],
    ['big5', 'big5'],
    ['koi8-r', 'koi8-r'],
    ['windows-1251', 'windows-1251'],
    ['iso-8859-15', 'iso-8859-15'],
    ['x-mac-cyrillic', 'x-mac-cyrillic'],
    ['utf-16', 'utf-16'],
    ['utf-32le', 'utf-32le'],
  ]
  for (const [label, name] of cases) assert.equal(normalizeCharset(label), name, label)
})

test('normalizeCharset trims, strips quotes and ignores case', () => {
  assert.equal(normalizeCharset('  "UTF-8" '), 'utf-8')
  assert.equal(normalizeCharset("'Windows-1252'"), 'windows-1252')
  assert.equal(normalizeCharset('\tShift_JIS\r\n'), 'shift_jis')
})

test('normalizeCharset is null for labels no decoder knows', () => {
  for (const label of ['x-unknown', 'unknown-8bit', '', '  ', '""', 'utf-8x', 'a'.repeat(200)]) {
    assert.equal(normalizeCharset(label), null, label)
  }
})

test('normalizeCharset refuses pseudo-charsets the libraries know but mail never means', () => {
  for (const label of ['base64', 'hex', 'binary', 'x-user-defined']) {
    assert.equal(normalizeCharset(label), null, label)
  }
})

test('normalizeCharset gives names that normalize to themselves', () => {
  for (const label of ['latin1', 'ascii', 'utf7', 'IBM850', 'gb2312', 'mac', 'tis-620', 'utf32']) {
    const name = normalizeCharset(label)
    assert.ok(name !== null, label)
    assert.equal(normalizeCharset(name), name, label)
  }
})

test('decodeText decodes the charsets TextDecoder knows', () => {
  assert.equal(decodeText(Buffer.from('héllo €', 'utf8'), 'utf-8'), 'héllo €')
  assert.equal(decodeText(bytes(0x82, 0xa0), 'shift_jis'), 'あ')
  assert.equal(
    decodeText(bytes(0x1b, 0x24, 0x42, 0x24, 0x22, 0x1b, 0x28, 0x42), 'ISO-2022-JP'),
    'あ',
  )
  assert.equal(decodeText(bytes(0xc4, 0xe3), 'gb2312'), '你')
  assert.equal(decodeText(bytes(0x81, 0x30, 0x81, 0x30), 'gb18030'), '\u0080')
  assert.equal(decodeText(bytes(0xa4, 0x40), 'big5'), '一')
  assert.equal(decodeText(bytes(0xb0, 0xa1), 'ks_c_5601-1987'), '가')
  assert.equal(decodeText(bytes(0xc1), 'koi8-r'), 'а')
  assert.equal(decodeText(bytes(0xe9), 'iso-8859-15'), 'é')
})

test('decodeText reads ISO-8859-1 as windows-1252, its superset', () => {
  assert.equal(decodeText(bytes(0x80, 0xe9), 'iso-8859-1'), '€é')
  assert.equal(decodeText(bytes(0x80, 0xe9), 'latin1'), '€é')
})

test('decodeText decodes the charsets only iconv-lite knows', () => {
  assert.equal(decodeText(Buffer.from('Hi +AOQ-', 'latin1'), 'unicode-1-1-utf-7'), 'Hi ä')
  assert.equal(decodeText(bytes(0x80, 0xb0), 'cp437'), 'Ç░')
  assert.equal(decodeText(bytes(0x9b), 'cp850'), 'ø')
  assert.equal(decodeText(bytes(0, 0, 0, 0x41), 'utf-32be'), 'A')
})

test('decodeText reads UTF-16 by its byte order mark, either way round', () => {
  assert.equal(decodeText(bytes(0xfe, 0xff, 0x00, 0x41), 'utf-16'), 'A')
  assert.equal(decodeText(bytes(0xff, 0xfe, 0x41, 0x00), 'utf-16'), 'A')
  assert.equal(decodeText(bytes(0x00, 0x41, 0x00, 0x42), 'UTF-16'), 'AB')
})

test('decodeText without a charset reads valid UTF-8 as UTF-8', () => {
  assert.equal(decodeText(Buffer.from('naïve ✓', 'utf8')), 'naïve ✓')
  assert.equal(decodeText(Buffer.from('naïve ✓', 'utf8'), null), 'naïve ✓')
})

test('decodeText without a charset reads anything else as windows-1252', () => {
  assert.equal(decodeText(bytes(0x6e, 0x61, 0xef, 0x76, 0x65, 0x80)), 'naïve€')
})

test('decodeText treats an unknown charset as no charset', () => {
  assert.equal(decodeText(Buffer.from('é', 'utf8'), 'x-unknown'), 'é')
  assert.equal(decodeText(bytes(0xe9), 'x-unknown'), 'é')
  assert.equal(decodeText(bytes(0xe9), 'base64'), 'é')
})

test('decodeText does not believe us-ascii over 8-bit octets', () => {
  assert.equal(decodeText(Buffer.from('plain', 'latin1'), 'us-ascii'), 'plain')
  assert.equal(decodeText(Buffer.from('café', 'utf8'), 'us-ascii'), 'café')
  assert.equal(decodeText(bytes(0x63, 0x61, 0x66, 0xe9), 'US-ASCII'), 'café')
  assert.equal(decodeText(bytes(0xe9), 'ansi_x3.4-1968'), 'é')
})

test('decodeText replaces malformed sequences in a declared charset with U+FFFD', () => {
  assert.equal(decodeText(bytes(0x61, 0xff, 0x62), 'utf-8'), 'a\ufffdb')
  assert.equal(decodeText(bytes(0x82), 'shift_jis'), '\ufffd')
})

test('decodeText drops a leading UTF-8 byte order mark', () => {
  assert.equal(decodeText(bytes(0xef, 0xbb, 0xbf, 0x61), 'utf-8'), 'a')
  assert.equal(decodeText(bytes(0xef, 0xbb, 0xbf, 0x61)), 'a')
})

test('decodeText decodes only the view it is given, in every backend', () => {
  const backing = Buffer.from('xx\u00e9yy', 'latin1')
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 1)
  assert.equal(decodeText(view, 'iso-8859-1'), 'é')
  assert.equal(decodeText(view, 'cp850'), 'Ú')
  assert.equal(decodeText(view), 'é')
})

test('decodeText keeps working after many distinct junk labels fill the label cache', () => {
  for (let i = 0; i < 2000; i += 1) assert.equal(decodeText(bytes(0x41), `x-junk-${i}`), 'A')
  assert.equal(decodeText(bytes(0xe4), 'iso-8859-1'), 'ä')
  assert.equal(decodeText(bytes(0xe4), 'cp437'), 'Σ')
})

test('decodeText round-trips what iconv-lite encodes in a legacy charset', () => {
  const text = 'Grüße, ÀÉÎÕÜ'
  for (const charset of ['windows-1252', 'iso-8859-15', 'cp850', 'utf-7', 'macintosh']) {
    assert.equal(decodeText(iconv.encode(text, charset), charset), text, charset)
  }
})

test('isValidUtf8 refuses overlongs, surrogates, truncated sequences and code points past U+10FFFF', () => {
  assert.equal(isValidUtf8(Buffer.from('ok ✓ 😀', 'utf8')), true)
  assert.equal(isValidUtf8(bytes()), true)
  assert.equal(isValidUtf8(bytes(0xc0, 0x80)), false)
  assert.equal(isValidUtf8(bytes(0xed, 0xa0, 0x80)), false)
  assert.equal(isValidUtf8(bytes(0xe2, 0x82)), false)
  assert.equal(isValidUtf8(bytes(0xf4, 0x90, 0x80, 0x80)), false)
  assert.equal(isValidUtf8(bytes(0xe9)), false)
})

test('one name per charset, and implausible labels are refused without a lookup', () => {
  assert.equal(normalizeCharset('ucs2'), normalizeCharset('utf-16le'))
  assert.equal(normalizeCharset('utf 8 with spaces'), null)
  assert.equal(normalizeCharset(`x${'y'.repeat(100)}`), null)
})
