import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CommandReader, ParseError } from './command-reader.ts'
import {
  formatSortResponse,
  formatThreadResponse,
  parseSortCriteria,
  parseThreadAlgorithm,
  type ThreadNode,
} from './sort-thread.ts'

const reader = (line: string) => new CommandReader([Buffer.from(line, 'latin1')])

test('sort criteria: every key, REVERSE before one key, any case', () => {
  const r = reader('(REVERSE ARRIVAL cc Date FROM SIZE SUBJECT TO displayfrom REVERSE DisplayTo) x')
  assert.deepEqual(parseSortCriteria(r), [
    { key: 'ARRIVAL', isReverse: true },
    { key: 'CC', isReverse: false },
    { key: 'DATE', isReverse: false },
    { key: 'FROM', isReverse: false },
    { key: 'SIZE', isReverse: false },
    { key: 'SUBJECT', isReverse: false },
    { key: 'TO', isReverse: false },
    { key: 'DISPLAYFROM', isReverse: false },
    { key: 'DISPLAYTO', isReverse: true },
  ])
  // The reader stops after the list: the charset and search keys are the caller's.
  r.space()
  assert.equal(r.atom(), 'x')
  r.end()
  assert.deepEqual(parseSortCriteria(reader('(reverse date)')), [{ key: 'DATE', isReverse: true }])
  assert.deepEqual(parseSortCriteria(reader('(SUBJECT SUBJECT)')), [
    { key: 'SUBJECT', isReverse: false },
    { key: 'SUBJECT', isReverse: false },
  ])
})

test('sort criteria that do not follow the grammar are ParseErrors', () => {
  const bad: Array<[line: string, message: RegExp]> = [
    ['()', /at least one sort criterion/],
    ['DATE', /expected "\("/],
    ['(DATE', /expected "\)"/],
    ['(REVERSE)', /expected a space/],
    ['(REVERSE REVERSE DATE)', /expected a sort key/],
    ['(REVERSE  DATE)', /expected an atom/],
    ['(DATE  SIZE)', /expected an atom/],
    ['(FOO)', /expected a sort key/],
    ['(MODSEQ)', /expected a sort key/],
    ['(DATE )', /expected an atom/],
    ['("DATE")', /expected an atom/],
  ]
  for (const [line, message] of bad) {
    assert.throws(() => parseSortCriteria(reader(line)), ParseError, line)
    assert.throws(() => parseSortCriteria(reader(line)), message, line)
  }
})

test('threading algorithms: ORDEREDSUBJECT and REFERENCES in any case, anything else BAD', () => {
  assert.equal(parseThreadAlgorithm(reader('REFERENCES')), 'REFERENCES')
  assert.equal(parseThreadAlgorithm(reader('references')), 'REFERENCES')
  assert.equal(parseThreadAlgorithm(reader('OrderedSubject')), 'ORDEREDSUBJECT')
  const r = reader('ORDEREDSUBJECT UTF-8 ALL')
  assert.equal(parseThreadAlgorithm(r), 'ORDEREDSUBJECT')
  r.space()
  assert.equal(r.atom(), 'UTF-8')
  assert.throws(() => parseThreadAlgorithm(reader('REFS')), ParseError)
  assert.throws(() => parseThreadAlgorithm(reader('X-FANCY')), /unsupported threading algorithm/)
  assert.throws(() => parseThreadAlgorithm(reader('(REFERENCES)')), /expected an atom/)
  assert.throws(() => parseThreadAlgorithm(reader('')), /expected an atom/)
})

test('the SORT response', () => {
  assert.equal(formatSortResponse([2, 3, 6]), 'SORT 2 3 6')
  assert.equal(formatSortResponse([5]), 'SORT 5')
  assert.equal(formatSortResponse([]), 'SORT')
})

const leaf = (message: number): ThreadNode => ({ message, children: [] })
const node = (message: number | null, ...children: ThreadNode[]): ThreadNode => ({
  message,
  children,
})

test('the THREAD response: RFC 5256 §4 example', () => {
  // (2)(3 6 (4 23)(44 7 96)): 3 has one child, 6, which has two, 4 and 44; 4 has 23, and 44 a
  // chain 7 → 96.
  const threads = [leaf(2), node(3, node(6, node(4, leaf(23)), node(44, node(7, leaf(96)))))]
  assert.equal(formatThreadResponse(threads), 'THREAD (2)(3 6 (4 23)(44 7 96))')
  assert.equal(formatThreadResponse([]), 'THREAD')
})

test('the THREAD response: dummies are written as their children', () => {
  // A top-level dummy: thread-nested in one thread-list.
  assert.equal(formatThreadResponse([node(null, leaf(3), leaf(5))]), 'THREAD ((3)(5))')
  assert.equal(
    formatThreadResponse([node(null, node(3, leaf(4)), leaf(5)), leaf(9)]),
    'THREAD ((3 4)(5))(9)',
  )
  // A dummy with one message under it is that message; one with none is left out.
  assert.equal(formatThreadResponse([node(null, leaf(3))]), 'THREAD (3)')
  assert.equal(formatThreadResponse([node(null), leaf(1), node(null, node(null))]), 'THREAD (1)')
  // A message whose only child is an empty dummy has no children.
  assert.equal(formatThreadResponse([node(1, node(null))]), 'THREAD (1)')
  // A dummy below the top: its children are the message's.
  assert.equal(formatThreadResponse([node(1, node(null, leaf(2), leaf(3)))]), 'THREAD (1 (2)(3))')
  assert.equal(formatThreadResponse([node(1, node(null, leaf(2)))]), 'THREAD (1 2)')
  assert.equal(
    formatThreadResponse([node(1, node(null, leaf(2), leaf(3)), leaf(4))]),
    'THREAD (1 ((2)(3))(4))',
  )
})

test('the THREAD response of a very deep thread is written without recursion', () => {
  let chain = leaf(100_000)
  for (let n = 99_999; n >= 1; n -= 1) chain = node(n, chain)
  const numbers = Array.from({ length: 100_000 }, (_, i) => i + 1).join(' ')
  assert.equal(formatThreadResponse([chain]), `THREAD (${numbers})`)
  let nested = leaf(0)
  for (let n = 1; n <= 50_000; n += 1) nested = node(n, nested, leaf(n + 1_000_000))
  const text = formatThreadResponse([nested])
  assert.ok(text.startsWith('THREAD (50000 (49999 (49998 '))
  assert.ok(text.includes(' (1 (0)(1000001))(1000002))(1000003))'))
  assert.ok(text.endsWith('(1049999))(1050000))'))
})
