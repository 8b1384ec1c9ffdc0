import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MAX_SEQUENCE_SET_RANGES } from './limits.ts'
import {
  formatSequenceSet,
  MAX_NZ_NUMBER,
  parseSequenceSet,
  resolveSequenceSet,
  type SequenceNumber,
  type SequenceRange,
  type SequenceRanges,
} from './sequence-set.ts'

const anyNumber = fc.oneof(
  fc.integer({ min: 1, max: MAX_NZ_NUMBER }),
  fc.constantFrom<SequenceNumber>('*', 1, MAX_NZ_NUMBER),
)
// Small numbers, so that ranges overlap and touch often and the naive expansion stays cheap.
const smallNumber = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 1, arbitrary: fc.constant<SequenceNumber>('*') },
)
const rangeOf = (number: fc.Arbitrary<SequenceNumber>) =>
  fc.oneof(
    fc.tuple(number, number).map(([from, to]) => ({ from, to })),
    number.map((n) => ({ from: n, to: n })),
  )
const rangesOf = (number: fc.Arbitrary<SequenceNumber>) =>
  fc
    .array(rangeOf(number), { minLength: 1, maxLength: 20 })
    .map((ranges): SequenceRanges => ({ kind: 'ranges', ranges }))

/** The text a client would send for these ranges. */
function writeRanges(ranges: SequenceRange[]): string {
  return ranges.map(({ from, to }) => (from === to ? `${from}` : `${from}:${to}`)).join(',')
}

/** Every number the ranges name, one by one: RFC 9051 §9 read literally. */
function expandNaively(set: SequenceRanges, largest: number): Set<number> {
  const numbers = new Set<number>()
  for (const { from, to } of set.ranges) {
    const a = from === '*' ? largest : from
    const b = to === '*' ? largest : to
    for (let n = Math.min(a, b); n <= Math.max(a, b); n += 1) if (n >= 1) numbers.add(n)
  }
  return numbers
}

function expandResolved(ranges: Array<[number, number]>): Set<number> {
  const numbers = new Set<number>()
  for (const [low, high] of ranges) for (let n = low; n <= high; n += 1) numbers.add(n)
  return numbers
}

test('parseSequenceSet reads back every set a client can write', () => {
  fc.assert(
    fc.property(rangesOf(anyNumber), (set) => {
      assert.deepEqual(parseSequenceSet(writeRanges(set.ranges)), set)
    }),
    { numRuns: 3000 },
  )
})

test('parseSequenceSet never throws, and what it accepts is exactly the text it was given', () => {
  const setChar = fc.constantFrom('1', '2', '9', '0', ',', ':', '*', '$', ' ', '-', 'x')
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: setChar, maxLength: 30 }), fc.string({ maxLength: 30 })),
      (text) => {
        const set = parseSequenceSet(text)
        if (set === null) return
        if (set.kind === 'saved') {
          assert.equal(text, '$')
          return
        }
        assert.ok(set.ranges.length >= 1 && set.ranges.length <= MAX_SEQUENCE_SET_RANGES)
        for (const { from, to } of set.ranges) {
          for (const n of [from, to]) {
            assert.ok(n === '*' || (Number.isInteger(n) && n >= 1 && n <= MAX_NZ_NUMBER))
          }
        }
        // The grammar has one reading of each text: element for element, the parse is what was
        // written ("n:n" and "n" both being the range n to n).
        const items = text.split(',')
        assert.equal(items.length, set.ranges.length)
        set.ranges.forEach(({ from, to }, i) => {
          const item = items[i]
          assert.ok(item === `${from}:${to}` || (from === to && item === `${from}`), item)
        })
      },
    ),
    { numRuns: 20000 },
  )
})

test('resolveSequenceSet gives sorted ranges that neither overlap nor touch', () => {
  fc.assert(
    fc.property(
      rangesOf(anyNumber),
      fc.oneof(fc.integer({ min: 0, max: MAX_NZ_NUMBER }), fc.constantFrom(0, 1)),
      (set, largest) => {
        const resolved = resolveSequenceSet(set, largest)
        let previousHigh = -1
        for (const [low, high] of resolved) {
          assert.ok(low >= 1 && low <= high && high <= MAX_NZ_NUMBER, `${low}:${high}`)
          assert.ok(low > previousHigh + 1, `${low} follows ${previousHigh}`)
          previousHigh = high
        }
      },
    ),
    { numRuns: 3000 },
  )
})

test('resolveSequenceSet names exactly the numbers of the naive expansion', () => {
  fc.assert(
    fc.property(rangesOf(smallNumber), fc.integer({ min: 0, max: 40 }), (set, largest) => {
      assert.deepEqual(
        expandResolved(resolveSequenceSet(set, largest)),
        expandNaively(set, largest),
      )
    }),
    { numRuns: 5000 },
  )
})

test('format then parse then resolve gives back resolved ranges, one element per range', () => {
  fc.assert(
    fc.property(
      rangesOf(anyNumber),
      fc.integer({ min: 1, max: MAX_NZ_NUMBER }),
      fc.integer({ min: 0, max: MAX_NZ_NUMBER }),
      (set, largest, otherLargest) => {
        const resolved = resolveSequenceSet(set, largest)
        const text = formatSequenceSet(resolved)
        assert.match(text, /^[1-9][0-9]*(:[1-9][0-9]*)?(,[1-9][0-9]*(:[1-9][0-9]*)?)*$/)
        // Resolved ranges neither touch nor overlap, so none can be joined: the form is the shortest.
        assert.equal(text.split(',').length, resolved.length)
        const reparsed = parseSequenceSet(text)
        assert.ok(reparsed !== null && reparsed.kind === 'ranges')
        // The formatted set has no "*", so what "*" stands for no longer matters.
        assert.deepEqual(resolveSequenceSet(reparsed, otherLargest), resolved)
      },
    ),
    { numRuns: 3000 },
  )
})

test('formatSequenceSet of any ranges names the same numbers, in the same order', () => {
  const range = fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }))
  fc.assert(
    fc.property(fc.array(range, { minLength: 1, maxLength: 15 }), (ranges) => {
      const text = formatSequenceSet(ranges)
      const reparsed = parseSequenceSet(text)
      assert.ok(reparsed !== null && reparsed.kind === 'ranges')
      assert.ok(reparsed.ranges.length <= ranges.length)
      // Walking each range from its first end to its second gives the numbers in wire order,
      // which is what COPYUID pairs up (RFC 9051 §7.1).
      const walk = (list: Array<[number, number]>) =>
        list.flatMap(([from, to]) => {
          const step = from <= to ? 1 : -1
          return Array.from({ length: Math.abs(to - from) + 1 }, (_, i) => from + i * step)
        })
      const read = reparsed.ranges.map(({ from, to }): [number, number] => [
        from === '*' ? Number.NaN : from,
        to === '*' ? Number.NaN : to,
      ])
      assert.deepEqual(walk(read), walk(ranges))
    }),
    { numRuns: 3000 },
  )
})

test('a list of UIDs formats to a set that resolves to exactly those UIDs', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 60 }),
      (uids) => {
        const sorted = uids.toSorted((a, b) => a - b)
        const text = formatSequenceSet(sorted.map((uid): [number, number] => [uid, uid]))
        const set = parseSequenceSet(text)
        assert.ok(set !== null && set.kind === 'ranges')
        assert.deepEqual([...expandResolved(resolveSequenceSet(set, 1))], sorted)
      },
    ),
    { numRuns: 2000 },
  )
})
