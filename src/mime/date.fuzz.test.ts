import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { formatDate, parseDate } from './date.ts'

/** Pieces of dates, so random strings get past the first token often enough to matter. */
const PIECES = [
  ...'0123456789+-:./(), \t\\',
  '26',
  '2026',
  '97',
  'Nov',
  'Thu',
  'September',
  'GMT',
  'MET',
  'DST',
  'PM',
  'T',
  'Z',
  '10:00:00',
  '+0100',
  '(CET)',
]
const dateSoup = fc
  .array(fc.constantFrom(...PIECES), { maxLength: 30 })
  .map((parts) => parts.join(''))

function assertValidResult(result: Date | null): void {
  if (result !== null) {
    assert.ok(result instanceof Date)
    assert.ok(!Number.isNaN(result.getTime()), 'a Date that is not a number')
  }
}

test('parseDate never throws and returns null or a valid Date', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), dateSoup), (text) => {
      assertValidResult(parseDate(text))
    }),
    { numRuns: 5000 },
  )
})

test('parseDate finishes on 100k-character adversarial input', () => {
  const n = 100_000
  const inputs = [
    '('.repeat(n) + ')'.repeat(n),
    '('.repeat(n),
    '(\\'.repeat(n),
    '1'.repeat(n),
    `1 Jan ${'9'.repeat(n)}`,
    `1 Jan 2024 ${'1'.repeat(n)}:00`,
    `1 Jan 2024 10:00:00 +${'0'.repeat(n)}`,
    `1 Jan 2024 10:00:00.${'5'.repeat(n)}`,
    'a'.repeat(n),
    'Thu, '.repeat(n),
    '1 Jan 2024 10:00:00 MET '.repeat(n),
    '+-'.repeat(n),
    ':'.repeat(n),
    '1:'.repeat(n),
    '2024-'.repeat(n),
  ]
  for (const input of inputs) assertValidResult(parseDate(input))
})

// A million characters of comments: skipping them is linear, while rescanning from each "("
// would take many minutes and trip the test runner's timeout. That is how this test fails
// without asserting on time.
test('parseDate finishes on a million characters of nested and unclosed comments', () => {
  const n = 1_000_000
  for (const input of [`${'('.repeat(n)}${')'.repeat(n)}`, '('.repeat(n), '(\\'.repeat(n)]) {
    assertValidResult(parseDate(input))
  }
})

// Years 1000-9998 keep four digits in any zone; dates are whole seconds, as the format writes.
const instant = fc
  .integer({ min: Date.UTC(1000, 0, 5), max: Date.UTC(9998, 11, 25) })
  .map((ms) => new Date(ms))
const offset = fc.integer({ min: -5999, max: 5999 })

test('formatDate output reads back as the same instant, to the second', () => {
  fc.assert(
    fc.property(instant, offset, (date, minutes) => {
      const text = formatDate(date, minutes)
      assert.match(
        text,
        /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/,
      )
      assert.equal(parseDate(text)?.getTime(), Math.floor(date.getTime() / 1000) * 1000, text)
    }),
    { numRuns: 3000 },
  )
})

test('CFWS between the tokens of a formatted date does not change what it reads as', () => {
  const cfws = fc.constantFrom(' ', '  ', '\t', ' (comment) ', '(a (nested) one)', ' ( \\) ) ')
  fc.assert(
    fc.property(
      instant,
      offset,
      fc.array(cfws, { minLength: 8, maxLength: 8 }),
      (date, minutes, gaps) => {
        // "Thu, 26 Nov 2026 02:53:00 +0000" → tokens with a gap after each
        const tokens = formatDate(date, minutes)
          .replace(/:/g, ' : ')
          .split(' ')
          .filter((token) => token !== '')
        const text = tokens.map((token, k) => `${token}${gaps[k % gaps.length] ?? ' '}`).join('')
        assert.equal(parseDate(text)?.getTime(), Math.floor(date.getTime() / 1000) * 1000, text)
      },
    ),
    { numRuns: 1000 },
  )
})
