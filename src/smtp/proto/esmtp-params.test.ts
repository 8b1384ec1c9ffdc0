import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  decodeXtext,
  encodeXtext,
  type MailParams,
  parseMailParams,
  parseRcptParams,
  type RcptParams,
  splitParams,
} from './esmtp-params.ts'
import { MAX_ENVID_OCTETS, MAX_ORCPT_OCTETS } from './limits.ts'
import type { Reply } from './reply.ts'

const MAIL_DEFAULTS: MailParams = {
  size: null,
  body: '7bit',
  smtputf8: false,
  ret: null,
  envelopeId: null,
  auth: null,
}
const RCPT_DEFAULTS: RcptParams = { notify: null, originalRecipient: null }

function isReply(value: object): value is Reply {
  return 'code' in value && 'lines' in value
}

function checkRefusals(
  parse: (text: string) => object,
  cases: readonly (readonly [string, number])[],
): void {
  for (const [text, code] of cases) {
    const result = parse(text)
    assert.ok(isReply(result), `${JSON.stringify(text)} was accepted: ${JSON.stringify(result)}`)
    assert.equal(result.code, code, JSON.stringify(text))
    assert.equal(result.status, '5.5.4', JSON.stringify(text))
    assert.ok(result.lines.length === 1 && result.lines[0] !== '', JSON.stringify(text))
  }
}

test('parseMailParams reads every MAIL FROM parameter', () => {
  const cases: [string, Partial<MailParams>][] = [
    ['', {}],
    [' ', {}],
    [' SIZE=1000', { size: 1000 }],
    [' size=0', { size: 0 }],
    [` SIZE=${'9'.repeat(20)}`, { size: Number('9'.repeat(20)) }],
    [' BODY=7BIT', { body: '7bit' }],
    [' BODY=8BITMIME', { body: '8bitmime' }],
    [' body=8BitMime', { body: '8bitmime' }],
    [' SMTPUTF8', { smtputf8: true }],
    [' smtputf8', { smtputf8: true }],
    [' RET=FULL', { ret: 'full' }],
    [' ret=hdrs', { ret: 'hdrs' }],
    [' RET=Full', { ret: 'full' }],
    [' ENVID=QQ314159', { envelopeId: 'QQ314159' }],
    [' ENVID=a+2Bb+3Dc', { envelopeId: 'a+b=c' }],
    [' ENVID=+C3+A9t+C3+A9', { envelopeId: 'été' }],
    [' ENVID=\\x{E9}t\\x{E9}', { envelopeId: 'été' }],
    [' ENVID=été', { envelopeId: 'été' }],
    [` ENVID=${'x'.repeat(MAX_ENVID_OCTETS)}`, { envelopeId: 'x'.repeat(MAX_ENVID_OCTETS) }],
    [' AUTH=<>', { auth: '<>' }],
    [' AUTH=user+40example.com', { auth: 'user@example.com' }],
    [' AUTH=e+3Dmc2', { auth: 'e=mc2' }],
    [
      ' SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1 AUTH=<>',
      {
        size: 10,
        body: '8bitmime',
        smtputf8: true,
        ret: 'hdrs',
        envelopeId: 'id+1',
        auth: '<>',
      },
    ],
    // Several spaces between parameters are tolerated.
    ['   SIZE=10    BODY=7BIT  ', { size: 10, body: '7bit' }],
    ['SIZE=10', { size: 10 }],
  ]
  for (const [text, expected] of cases) {
    assert.deepEqual(parseMailParams(text), { ...MAIL_DEFAULTS, ...expected }, JSON.stringify(text))
  }
})

test('parseMailParams refuses malformed, repeated and unknown parameters', () => {
  checkRefusals(parseMailParams, [
    // Malformed esmtp-keyword or esmtp-value: 501.
    [' =x', 501],
    [' -X=1', 501],
    [' K_Y=1', 501],
    [' SIZE=', 501],
    [' SIZE=1=2', 501],
    [' SIZE=a\x01', 501],
    [' SIZE=a\x7f', 501],
    [' ENVID=a\tb', 501],
    // Letters that upper-case to ASCII ("ſ" to "S", "ı" to "I") are not keywords or values.
    [' \u017FIZE=10', 501],
    [' SMTPUTF8 SMTPUTF8', 501],
    [' SIZE=1 SIZE=2', 501],
    [' SIZE=1 size=1', 501],
    [' ENVID=a ENVID=b', 501],
    // Unknown keywords: 555 (RFC 5321 §4.1.1.11).
    [' FOO=bar', 555],
    [' X-THING', 555],
    [' NOTIFY=NEVER', 555],
    [' ORCPT=rfc822;a@b', 555],
    [' SIZE=1 FOO', 555],
    // SIZE: 1*20DIGIT (RFC 1870 §3).
    [' SIZE', 501],
    [' SIZE=abc', 501],
    [' SIZE=-1', 501],
    [' SIZE=+1', 501],
    [' SIZE=1.5', 501],
    [' SIZE=1e3', 501],
    [` SIZE=${'9'.repeat(21)}`, 501],
    [' SIZE=\u0661\u0662', 501],
    // BODY: 7BIT or 8BITMIME only.
    [' BODY', 555],
    [' BODY=BINARYMIME', 555],
    [' BODY=8BIT', 555],
    [' BODY=8B\u0131TMIME', 555],
    [' SMTPUTF8=YES', 501],
    [' SMTPUTF8=', 501],
    [' RET', 501],
    [' RET=NONE', 501],
    [' RET=HDR\u017F', 501],
    // ENVID: at most 100 characters of valid xtext (RFC 3461 §4.4).
    [' ENVID', 501],
    [` ENVID=${'x'.repeat(MAX_ENVID_OCTETS + 1)}`, 501],
    [' ENVID=+', 501],
    [' ENVID=+4', 501],
    [' ENVID=+zz', 501],
    [' ENVID=a+G0', 501],
    [' ENVID=\\x{}', 501],
    [' ENVID=\\x{110000}', 501],
    [' ENVID=\\x{E9', 501],
    [' AUTH', 501],
    [' AUTH=+', 501],
    [' AUTH=a+4', 501],
  ])
})

test('parseMailParams counts ENVID length before decoding', () => {
  // 100 characters of xtext decode to fewer, and that is what the bound is on.
  const encoded = '+41'.repeat(33)
  assert.equal(encoded.length, 99)
  const result = parseMailParams(` ENVID=${encoded}x`)
  assert.ok(!isReply(result))
  assert.equal(result.envelopeId, `${'A'.repeat(33)}x`)
  assert.ok(isReply(parseMailParams(` ENVID=${encoded}xy`)))
})

test('parseRcptParams reads NOTIFY and ORCPT', () => {
  const cases: [string, Partial<RcptParams>][] = [
    ['', {}],
    [' NOTIFY=NEVER', { notify: [] }],
    [' notify=never', { notify: [] }],
    [' NOTIFY=SUCCESS', { notify: ['success'] }],
    [' NOTIFY=FAILURE', { notify: ['failure'] }],
    [' NOTIFY=DELAY', { notify: ['delay'] }],
    [' NOTIFY=SUCCESS,FAILURE,DELAY', { notify: ['success', 'failure', 'delay'] }],
    [' NOTIFY=delay,Success', { notify: ['delay', 'success'] }],
    [' NOTIFY=FAILURE,FAILURE', { notify: ['failure'] }],
    [' ORCPT=rfc822;user@example.com', { originalRecipient: 'rfc822;user@example.com' }],
    [' ORCPT=Rfc822;a+2Bb@example.com', { originalRecipient: 'Rfc822;a+b@example.com' }],
    [' ORCPT=rfc822;a+3Db@example.com', { originalRecipient: 'rfc822;a=b@example.com' }],
    [' ORCPT=utf-8;j\\x{F6}rg@example.com', { originalRecipient: 'utf-8;jörg@example.com' }],
    [' ORCPT=rfc822;a;b@example.com', { originalRecipient: 'rfc822;a;b@example.com' }],
    [
      ` ORCPT=rfc822;${'x'.repeat(MAX_ORCPT_OCTETS - 7)}`,
      { originalRecipient: `rfc822;${'x'.repeat(MAX_ORCPT_OCTETS - 7)}` },
    ],
    [
      ' NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.com',
      { notify: ['success', 'failure'], originalRecipient: 'rfc822;b@example.com' },
    ],
  ]
  for (const [text, expected] of cases) {
    assert.deepEqual(parseRcptParams(text), { ...RCPT_DEFAULTS, ...expected }, JSON.stringify(text))
  }
})

test('parseRcptParams refuses NEVER mixed with other values, and malformed ORCPT', () => {
  checkRefusals(parseRcptParams, [
    // RFC 3461 §4.1: NEVER stands alone.
    [' NOTIFY=NEVER,SUCCESS', 501],
    [' NOTIFY=SUCCESS,NEVER', 501],
    [' NOTIFY=NEVER,NEVER', 501],
    [' NOTIFY=never,delay', 501],
    [' NOTIFY', 501],
    [' NOTIFY=', 501],
    [' NOTIFY=SUCCESS,', 501],
    [' NOTIFY=,SUCCESS', 501],
    [' NOTIFY=SUCCESS,,FAILURE', 501],
    [' NOTIFY=NONE', 501],
    [' NOTIFY=\u017FUCCESS', 501],
    [' NOTIFY=SUCCESS NOTIFY=FAILURE', 501],
    [' ORCPT', 501],
    [' ORCPT=rfc822', 501],
    [' ORCPT=;a@example.com', 501],
    [' ORCPT=rfc822;', 501],
    [' ORCPT=rfc822;+zz', 501],
    [' ORCPT=rfc822;a+4', 501],
    [` ORCPT=rfc822;${'x'.repeat(MAX_ORCPT_OCTETS - 6)}`, 501],
    [' ORCPT=rfc822;a ORCPT=rfc822;b', 501],
    [' SIZE=10', 555],
    [' RET=FULL', 555],
    [' X-FOO=1', 555],
  ])
})

test('splitParams keeps the order and upper-cases keywords, not values', () => {
  assert.deepEqual(splitParams(' a=Bc d-1  E'), [
    { keyword: 'A', value: 'Bc' },
    { keyword: 'D-1', value: null },
    { keyword: 'E', value: null },
  ])
  assert.deepEqual(splitParams(''), [])
})

test('decodeXtext reads "+HH" and RFC 6533 "\\x{HEX}"; null when malformed', () => {
  const cases: [string, string | null][] = [
    ['', ''],
    ['abc', 'abc'],
    ['a+2Bb', 'a+b'],
    ['+3D', '='],
    ['+2b', '+'],
    ['+20+09', ' \t'],
    ['+00', '\x00'],
    ['+C3+A9', 'é'],
    ['+F0+9F+98+80', '😀'],
    ['\\x{E9}', 'é'],
    ['\\x{e9}', 'é'],
    ['\\x{1F600}', '😀'],
    ['\\x{10FFFF}', '\u{10FFFF}'],
    ['+41\\x{42}+43', 'ABC'],
    ['+C3\\x{A9}', '\uFFFD©'],
    // A lone octet that is not UTF-8 becomes U+FFFD.
    ['+FF', '\uFFFD'],
    ['\\y', '\\y'],
    ['a\\', 'a\\'],
    ['\\x', '\\x'],
    ['\\x41', '\\x41'],
    ['+', null],
    ['a+', null],
    ['+4', null],
    ['+G0', null],
    ['+ 1', null],
    ['\\x{}', null],
    ['\\x{G}', null],
    ['\\x{1234567}', null],
    ['\\x{110000}', null],
    ['\\x{E9', null],
    ['\\x{E9 }', null],
  ]
  for (const [text, expected] of cases) {
    assert.equal(decodeXtext(text), expected, JSON.stringify(text))
  }
})

test('encodeXtext writes "+", "=", "\\", controls and non-ASCII as "+HH"', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['abc', 'abc'],
    ['a+b', 'a+2Bb'],
    ['a=b', 'a+3Db'],
    ['a b', 'a+20b'],
    ['\x00\x1f\x7f', '+00+1F+7F'],
    ['é', '+C3+A9'],
    ['😀', '+F0+9F+98+80'],
    ['!~<>"', '!~<>"'],
    // A backslash would otherwise read back as the start of "\x{HEX}".
    ['\\x{41}', '+5Cx{41}'],
  ]
  for (const [text, expected] of cases) {
    assert.equal(encodeXtext(text), expected, JSON.stringify(text))
    assert.equal(decodeXtext(expected), text, JSON.stringify(text))
  }
})

test('decodeXtext(encodeXtext(s)) is s', () => {
  for (const text of [
    'plain',
    'a+b=c',
    '+2B',
    '\\x{41}',
    '\\',
    '\\\\x{',
    'user@bücher.example',
    '😀 \r\n\x00',
    '=+\\+=',
  ]) {
    assert.equal(decodeXtext(encodeXtext(text)), text, JSON.stringify(text))
  }
})

test('ENVID and ORCPT refuse control characters, which a DSN could not carry', () => {
  for (const line of [' ENVID=a+00b', ' ENVID=a+0Db', ' ENVID=a+0A+0DX-Forged:+20yes']) {
    const result = parseMailParams(line)
    assert.ok('code' in result && result.code === 501, line)
  }
  for (const line of [' ORCPT=rfc822;a+00b@example.com', ' ORCPT=rfc822;a+0Ab@example.com']) {
    const result = parseRcptParams(line)
    assert.ok('code' in result && result.code === 501, line)
  }
})
