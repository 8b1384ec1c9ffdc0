import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  type DsnNotify,
  decodeXtext,
  encodeXtext,
  type MailParams,
  parseMailParams,
  parseRcptParams,
  type RcptParams,
} from './esmtp-params.ts'
import { MAX_ENVID_OCTETS, MAX_ORCPT_OCTETS } from './limits.ts'
import type { Reply } from './reply.ts'

/** Pieces of parameter lists, so random ones often get past the keyword check. */
const FRAGMENTS = [
  ' ',
  '=',
  ',',
  ';',
  '+',
  '\\',
  'x{',
  '}',
  '+2B',
  '+3D',
  '+C3+A9',
  '\\x{E9}',
  'SIZE',
  'BODY',
  '7BIT',
  '8BITMIME',
  'SMTPUTF8',
  'RET',
  'FULL',
  'HDRS',
  'ENVID',
  'AUTH',
  '<>',
  'NOTIFY',
  'NEVER',
  'SUCCESS',
  'FAILURE',
  'DELAY',
  'ORCPT',
  'rfc822',
  'utf-8',
  'a@b',
  '123',
  '99999999999999999999',
  'é',
  '😀',
  'ſ',
  'ı',
  '\x00',
  '\t',
  '\r',
  '-',
]
const paramSoup = fc.string({ unit: fc.constantFrom(...FRAGMENTS), maxLength: 30 })
const anyText = fc.oneof(paramSoup, fc.string({ unit: 'binary', maxLength: 120 }))

function isReply(value: object): value is Reply {
  return 'code' in value && 'lines' in value
}

function checkRefusal(result: Reply): void {
  assert.ok(result.code === 501 || result.code === 555, String(result.code))
  assert.equal(result.status, '5.5.4')
  assert.equal(result.lines.length, 1)
}

test('parseMailParams and parseRcptParams never throw, and refuse with 501 or 555', () => {
  fc.assert(
    fc.property(anyText, (text) => {
      const mail = parseMailParams(text)
      if (isReply(mail)) checkRefusal(mail)
      else {
        assert.ok(mail.size === null || (Number.isInteger(mail.size) && mail.size >= 0))
        assert.ok(mail.body === '7bit' || mail.body === '8bitmime')
        assert.ok(mail.ret === null || mail.ret === 'full' || mail.ret === 'hdrs')
      }
      const rcpt = parseRcptParams(text)
      if (isReply(rcpt)) checkRefusal(rcpt)
      else if (rcpt.notify !== null) {
        for (const item of rcpt.notify) assert.ok(['success', 'failure', 'delay'].includes(item))
        assert.equal(new Set(rcpt.notify).size, rcpt.notify.length)
      }
    }),
    { numRuns: 2000 },
  )
})

test('decodeXtext never throws', () => {
  const xtextSoup = fc.string({
    unit: fc.constantFrom('+', '\\', 'x', '{', '}', '0', '9', 'A', 'f', 'G', 'é', '😀', ' '),
    maxLength: 40,
  })
  fc.assert(
    fc.property(fc.oneof(xtextSoup, fc.string({ unit: 'binary', maxLength: 80 })), (text) => {
      const decoded = decodeXtext(text)
      assert.ok(decoded === null || typeof decoded === 'string')
    }),
    { numRuns: 2000 },
  )
})

test('decodeXtext(encodeXtext(s)) === s, and encodeXtext writes plain xtext', () => {
  const soup = fc.string({
    unit: fc.constantFrom('+', '=', '\\', 'x', '{', '}', '4', '1', ' ', '\x00', 'é', '😀'),
    maxLength: 40,
  })
  const xtext = /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x5b\x5d-\x7e]|\+[0-9A-F]{2})*$/
  fc.assert(
    fc.property(fc.oneof(soup, fc.string({ unit: 'binary', maxLength: 80 })), (text) => {
      const encoded = encodeXtext(text)
      assert.match(encoded, xtext)
      assert.equal(decodeXtext(encoded), text)
    }),
    { numRuns: 2000 },
  )
})

const notifyArb: fc.Arbitrary<DsnNotify[] | null> = fc.oneof(
  fc.constant(null),
  fc.constant<DsnNotify[]>([]),
  fc.uniqueArray(fc.constantFrom<DsnNotify>('success', 'failure', 'delay'), {
    minLength: 1,
    maxLength: 3,
  }),
)

/** Any character but the controls (U+0000-U+001F, U+007F), which ENVID and ORCPT refuse. */
const printable = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 1 })
  // biome-ignore lint/suspicious/noControlCharactersInRegex: excluding them is the point
  .filter((char) => !/[\u0000-\u001f\u007f]/.test(char))

test('parseMailParams reads back any MailParams written the way a client writes them', () => {
  const paramsArb = fc.record({
    size: fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
    body: fc.constantFrom<MailParams['body']>('7bit', '8bitmime'),
    smtputf8: fc.boolean(),
    ret: fc.constantFrom<MailParams['ret']>(null, 'full', 'hdrs'),
    // Control characters are refused in ENVID (see the unit test); anything else round-trips.
    envelopeId: fc.option(fc.string({ unit: printable, minLength: 0, maxLength: 30 })),
    auth: fc.option(fc.oneof(fc.constant('<>'), fc.string({ unit: 'binary', maxLength: 30 }))),
  })
  fc.assert(
    fc.property(
      paramsArb,
      fc.boolean(),
      fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
      (params, isBodyExplicit, order) => {
        const words: string[] = []
        if (params.size !== null) words.push(`SIZE=${params.size}`)
        if (params.body === '8bitmime' || isBodyExplicit) words.push(`BODY=${params.body}`)
        if (params.smtputf8) words.push('SMTPUTF8')
        if (params.ret !== null) words.push(`RET=${params.ret}`)
        let expected: MailParams = { ...params }
        if (params.envelopeId !== null) {
          const encoded = encodeXtext(params.envelopeId)
          if (encoded.length > MAX_ENVID_OCTETS || encoded === '') {
            expected = { ...expected, envelopeId: null }
          } else words.push(`ENVID=${encoded}`)
        }
        if (params.auth !== null) {
          const encoded = params.auth === '<>' ? '<>' : encodeXtext(params.auth)
          if (encoded === '') expected = { ...expected, auth: null }
          else words.push(`AUTH=${encoded}`)
        }
        // Parameters may come in any order.
        const line = words
          .map((word, i) => ({ word, key: order[i] ?? 0 }))
          .sort((a, b) => a.key - b.key)
          .map(({ word }) => ` ${word}`)
          .join('')
        assert.deepEqual(parseMailParams(line), expected, line)
      },
    ),
    { numRuns: 1000 },
  )
})

test('parseRcptParams reads back any RcptParams written the way a client writes them', () => {
  fc.assert(
    fc.property(
      notifyArb,
      fc.option(fc.string({ unit: printable, minLength: 1, maxLength: 60 })),
      fc.constantFrom('rfc822', 'utf-8', 'X-Other'),
      (notify, address, addrType) => {
        const words: string[] = []
        if (notify !== null) {
          words.push(`NOTIFY=${notify.length === 0 ? 'NEVER' : notify.join(',').toUpperCase()}`)
        }
        let expected: RcptParams = { notify, originalRecipient: null }
        if (address !== null) {
          const value = `${addrType};${encodeXtext(address)}`
          if (value.length <= MAX_ORCPT_OCTETS) {
            words.push(`ORCPT=${value}`)
            expected = { ...expected, originalRecipient: `${addrType};${address}` }
          }
        }
        assert.deepEqual(parseRcptParams(words.map((word) => ` ${word}`).join('')), expected)
      },
    ),
    { numRuns: 1000 },
  )
})
