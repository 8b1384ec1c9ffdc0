import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MAX_SEQUENCE_SET_RANGES } from './limits.ts'
import {
  formatSequenceSet,
  parseSequenceSet,
  resolveSequenceSet,
  type SequenceRanges,
} from './sequence-set.ts'

/** Parses text that must be a set of numbers and ranges, and resolves it. */
function resolve(text: string, largest: number): Array<[number, number]> {
  const set = parseSequenceSet(text)
  assert.ok(set !== null && set.kind === 'ranges', `"${text}" is a set of ranges`)
  return resolveSequenceSet(set, largest)
}

test('parseSequenceSet keeps numbers, ranges and "*" as written', () => {
  assert.deepEqual(parseSequenceSet('1'), { kind: 'ranges', ranges: [{ from: 1, to: 1 }] })
  assert.deepEqual(parseSequenceSet('*'), { kind: 'ranges', ranges: [{ from: '*', to: '*' }] })
  assert.deepEqual(parseSequenceSet('5:2,*:4,7,3:*'), {
    kind: 'ranges',
    ranges: [
      { from: 5, to: 2 },
      { from: '*', to: 4 },
      { from: 7, to: 7 },
      { from: 3, to: '*' },
    ],
  })
  assert.deepEqual(parseSequenceSet('4294967295'), {
    kind: 'ranges',
    ranges: [{ from: 4294967295, to: 4294967295 }],
  })
})

test('parseSequenceSet reads "$" on its own as the saved search result', () => {
  assert.deepEqual(parseSequenceSet('$'), { kind: 'saved' })
  // Deviation from RFC 9051 §9 (see parseSequenceSet): "$" is not part of a longer set.
  assert.equal(parseSequenceSet('1,$'), null)
  assert.equal(parseSequenceSet('$,1'), null)
  assert.equal(parseSequenceSet('$:1'), null)
  assert.equal(parseSequenceSet('$$'), null)
})

test('parseSequenceSet refuses what is not an nz-number', () => {
  for (const text of ['0', '01', '1:0', '007:9', '4294967296', '99999999999', '-1', '+1', '1.5']) {
    assert.equal(parseSequenceSet(text), null, text)
  }
  // Digits of other scripts are not DIGIT, which is 0-9 only.
  assert.equal(parseSequenceSet('١'), null)
  assert.equal(parseSequenceSet('１'), null)
})

test('parseSequenceSet refuses malformed lists and ranges', () => {
  for (const text of [
    '',
    ',',
    '1,',
    ',1',
    '1,,2',
    ':',
    '1:',
    ':1',
    '1::2',
    '1:2:3',
    '**',
    '*:',
    '1 ',
    ' 1',
    '1, 2',
    'a',
    '1:a',
    '1;2',
  ]) {
    assert.equal(parseSequenceSet(text), null, JSON.stringify(text))
  }
})

test(`parseSequenceSet accepts ${MAX_SEQUENCE_SET_RANGES} numbers and ranges, and refuses one more`, () => {
  const atLimit = Array.from({ length: MAX_SEQUENCE_SET_RANGES }, (_, i) => `${i * 2 + 1}`)
  const parsed = parseSequenceSet(atLimit.join(','))
  assert.equal(parsed?.kind === 'ranges' && parsed.ranges.length, MAX_SEQUENCE_SET_RANGES)
  assert.equal(parseSequenceSet([...atLimit, '1:*'].join(',')), null)
  assert.equal(parseSequenceSet('1,'.repeat(MAX_SEQUENCE_SET_RANGES * 10)), null)
})

test("resolveSequenceSet follows RFC 9051 §9's examples", () => {
  // 2,4:7,9,12:* for a mailbox with 15 messages is 2,4,5,6,7,9,12,13,14,15.
  assert.deepEqual(resolve('2,4:7,9,12:*', 15), [
    [2, 2],
    [4, 7],
    [9, 9],
    [12, 15],
  ])
  // *:4,5:7 for a mailbox with 10 messages may be coalesced to 4,5,6,7,8,9,10.
  assert.deepEqual(resolve('*:4,5:7', 10), [[4, 10]])
  // 2:4 and 4:2 are equivalent.
  assert.deepEqual(resolve('4:2', 10), resolve('2:4', 10))
  // A UID range of 3291:* includes the UID of the last message, even one below 3291.
  assert.deepEqual(resolve('3291:*', 100), [[100, 3291]])
})

test('resolveSequenceSet sorts and merges overlapping and touching ranges', () => {
  assert.deepEqual(resolve('9,1:3,4,7:8,2', 20), [
    [1, 4],
    [7, 9],
  ])
  assert.deepEqual(resolve('5,5,5', 20), [[5, 5]])
  assert.deepEqual(resolve('1:*,*,3', 6), [[1, 6]])
  assert.deepEqual(resolve('10:12,1:2', 5), [
    [1, 2],
    [10, 12],
  ])
})

test('resolveSequenceSet keeps numbers above "*" for the caller to judge', () => {
  // For UIDs these match no message; for sequence numbers the caller answers BAD.
  assert.deepEqual(resolve('5:7', 3), [[5, 7]])
  assert.deepEqual(resolve('4294967295', 1), [[4294967295, 4294967295]])
})

test('resolveSequenceSet with largest 0 lets "*" name no message', () => {
  assert.deepEqual(resolve('*', 0), [])
  assert.deepEqual(resolve('*:*', 0), [])
  assert.deepEqual(resolve('3:*', 0), [[1, 3]])
  assert.deepEqual(resolve('1:2,*', 0), [[1, 2]])
})

test('resolveSequenceSet refuses a largest number that is not one', () => {
  const set: SequenceRanges = { kind: 'ranges', ranges: [{ from: 1, to: '*' }] }
  assert.throws(() => resolveSequenceSet(set, -1), RangeError)
  assert.throws(() => resolveSequenceSet(set, 1.5), RangeError)
  assert.throws(() => resolveSequenceSet(set, 4294967296), RangeError)
  assert.throws(() => resolveSequenceSet(set, Number.NaN), RangeError)
})

test('formatSequenceSet writes ranges compactly, joining those that continue each other', () => {
  assert.equal(
    formatSequenceSet([
      [1, 3],
      [7, 7],
      [9, 10],
    ]),
    '1:3,7,9:10',
  )
  assert.equal(
    formatSequenceSet([
      [1, 1],
      [2, 2],
      [3, 5],
      [6, 6],
    ]),
    '1:6',
  )
  assert.equal(formatSequenceSet([[4294967295, 4294967295]]), '4294967295')
})

test('formatSequenceSet keeps the order it is given, as COPYUID needs', () => {
  // RFC 9051 §7.1: COPYUID pairs source and destination UIDs by position.
  assert.equal(
    formatSequenceSet([
      [5, 5],
      [3, 3],
    ]),
    '5,3',
  )
  assert.equal(formatSequenceSet([[9, 7]]), '9:7')
  // Only an ascending continuation is joined: 9:7 then 6 is not 9:6's order.
  assert.equal(
    formatSequenceSet([
      [9, 7],
      [8, 8],
    ]),
    '9:7,8',
  )
})

test('formatSequenceSet refuses what would be bad syntax on the wire', () => {
  assert.throws(() => formatSequenceSet([]), RangeError)
  assert.throws(() => formatSequenceSet([[0, 1]]), RangeError)
  assert.throws(() => formatSequenceSet([[1, 4294967296]]), RangeError)
  assert.throws(() => formatSequenceSet([[1.5, 2]]), RangeError)
})
