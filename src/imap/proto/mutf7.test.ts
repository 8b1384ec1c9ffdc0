import assert from 'node:assert/strict'
import { test } from 'node:test'
import iconv from 'iconv-lite'
import { decodeMailboxName, encodeMailboxName } from './mutf7.ts'

// Pairs that are each other's only encoding, checked in both directions and against iconv-lite.
const PAIRS: Array<[name: string, encoded: string]> = [
  ['INBOX', 'INBOX'],
  ['[Gmail]/Sent Mail', '[Gmail]/Sent Mail'],
  ['', ''],
  // RFC 3501 §5.1.3's example, mixing English, Chinese and Japanese.
  ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
  ['&', '&-'],
  ['Tom & Jerry', 'Tom &- Jerry'],
  ['Entwürfe', 'Entw&APw-rfe'],
  ['Отправленные', '&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-'],
  // An "&" right after a base64 section is "&-", not a second section.
  ['é&', '&AOk-&-'],
  ['&é', '&-&AOk-'],
  // A character outside the BMP is a surrogate pair, both halves in one section.
  ['😀 mail', '&2D3eAA- mail'],
  // Controls and DEL are not printable, so they go in base64 like any other character.
  ['tab\there', 'tab&AAk-here'],
  ['\u007f', '&AH8-'],
  // "-" and "+" are plain characters outside a base64 section.
  ['a-b+c', 'a-b+c'],
  ['ü-', '&APw--'],
]

test('encodeMailboxName and decodeMailboxName map each name to its one encoding and back', () => {
  for (const [name, encoded] of PAIRS) {
    assert.equal(encodeMailboxName(name), encoded, `encode ${JSON.stringify(name)}`)
    assert.equal(decodeMailboxName(encoded), name, `decode ${JSON.stringify(encoded)}`)
  }
})

test('the encodings agree with iconv-lite utf7imap', () => {
  for (const [name, encoded] of PAIRS) {
    assert.equal(iconv.encode(name, 'utf7imap').toString('latin1'), encoded)
    assert.equal(iconv.decode(Buffer.from(encoded, 'latin1'), 'utf7imap'), name)
  }
})

test('encodeMailboxName sends a lone surrogate as U+FFFD, so the output always decodes', () => {
  assert.equal(encodeMailboxName('a\ud800b'), 'a&,,0-b')
  assert.equal(decodeMailboxName(encodeMailboxName('a\ud800b')), 'a\ufffdb')
  assert.equal(decodeMailboxName(encodeMailboxName('\udc00')), '\ufffd')
})

test('decodeMailboxName refuses a base64 section that is not closed by "-"', () => {
  // RFC 3501 §5.1.3: names must end in US-ASCII; there is no implicit shift back.
  assert.equal(decodeMailboxName('&AOk'), null)
  assert.equal(decodeMailboxName('Entw&APwrfe'), null)
  assert.equal(decodeMailboxName('&'), null)
  assert.equal(decodeMailboxName('a&'), null)
})

test('decodeMailboxName refuses base64 that is not modified base64', () => {
  // "/" is what plain base64 has where modified base64 has ",".
  assert.equal(decodeMailboxName('~peter/mail/&U/BTFw-'), null)
  assert.equal(decodeMailboxName('&AOk=-'), null)
  assert.equal(decodeMailboxName('&AO k-'), null)
  assert.equal(decodeMailboxName('&&-'), null)
  assert.equal(decodeMailboxName('&A.k-'), null)
})

test('decodeMailboxName refuses encoded characters that should have been written as themselves', () => {
  assert.equal(decodeMailboxName('&AGE-'), null) // "a"
  assert.equal(decodeMailboxName('&ACY-'), null) // "&", which has "&-"
  assert.equal(decodeMailboxName('&ACA-'), null) // " "
  assert.equal(decodeMailboxName('&AH4-'), null) // "~"
  assert.equal(decodeMailboxName('&AOkAYQ-'), null) // "éa": the "a" is printable
  // The controls around the printable range are not printable, so their encoding stands.
  assert.equal(decodeMailboxName('&AB8-'), '\u001f')
  assert.equal(decodeMailboxName('&AAA-'), '\u0000')
})

test('decodeMailboxName refuses non-zero bits after the last code unit and base64 that is too long', () => {
  // "é" is 00 E9: "AOk" carries two zero bits after it, "AOl" and "AOn" do not.
  assert.equal(decodeMailboxName('&AOk-'), 'é')
  assert.equal(decodeMailboxName('&AOl-'), null)
  assert.equal(decodeMailboxName('&AOn-'), null)
  // Four zero bits after "éé" (00 E9 00 E9): "AOkA6Q" is the only form.
  assert.equal(decodeMailboxName('&AOkA6Q-'), 'éé')
  assert.equal(decodeMailboxName('&AOkA6R-'), null)
  // "ééé" is exactly 8 base64 characters; a ninth adds six zero bits and no octet.
  assert.equal(decodeMailboxName('&AOkA6QDp-'), 'ééé')
  assert.equal(decodeMailboxName('&AOkA6QDpA-'), null)
})

test('decodeMailboxName refuses an odd number of octets', () => {
  assert.equal(decodeMailboxName('&AO-'), null) // 12 bits: 1 octet
  assert.equal(decodeMailboxName('&AOkA6-'), null) // 30 bits: 3 octets
  assert.equal(decodeMailboxName('&A-'), null) // 6 bits: no octet at all
  assert.equal(decodeMailboxName('&AOkA-'), null) // 24 bits: 3 octets
})

test('decodeMailboxName refuses unpaired surrogates', () => {
  assert.equal(decodeMailboxName('&2D0-'), null) // D83D alone
  assert.equal(decodeMailboxName('&3gA-'), null) // DE00 alone
  assert.equal(decodeMailboxName('&3gDYPQ-'), null) // low then high
  assert.equal(decodeMailboxName('&2D0-&3gA-'), null) // a pair split over two sections
  assert.equal(decodeMailboxName('&2D3eAA-'), '😀')
})

test('decodeMailboxName refuses two base64 sections back to back (a null shift)', () => {
  // RFC 3501 §5.1.3: "-&" while in BASE64 is not permitted; "éé" is "&AOkA6Q-".
  assert.equal(decodeMailboxName('&AOk-&AOk-'), null)
  assert.equal(decodeMailboxName('&AOk-&-&AOk-'), 'é&é')
  assert.equal(decodeMailboxName('&AOk-x&AOk-'), 'éxé')
})

test('decodeMailboxName refuses characters outside 0x20-0x7e written as themselves', () => {
  assert.equal(decodeMailboxName('Entwürfe'), null)
  assert.equal(decodeMailboxName('tab\there'), null)
  assert.equal(decodeMailboxName('a\u007f'), null)
  assert.equal(decodeMailboxName('\u0000'), null)
  assert.equal(decodeMailboxName('line\r\n'), null)
  // UTF-8 octets of "ü" as a binary string, as an IMAP4rev1 client might send them.
  assert.equal(decodeMailboxName(Buffer.from('ü', 'utf8').toString('latin1')), null)
  // Inside a base64 section too.
  assert.equal(decodeMailboxName('&AOké-'), null)
})
