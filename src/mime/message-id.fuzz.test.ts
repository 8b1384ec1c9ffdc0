import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { generateMessageId, parseMessageIds } from './message-id.ts'

const SPECIALS = [...'<>()"[]\\@,;:. ', '\t', 'a', 'b', 'é', '\u0000']
const charSoup = fc.string({ unit: fc.constantFrom(...SPECIALS), maxLength: 80 })
/** Pieces of real id lists: about half of these soups hold at least one id. */
const FRAGMENTS = [
  ...'<>()"[]\\@,. ',
  '\t',
  'abc',
  'x.example',
  '<a@x>',
  '<b.c@y.example>',
  'id@host',
  '(c)',
  '"q q"',
  '[1.2]',
  'é',
  '\u0000',
  'Re:',
]
const fragmentSoup = fc
  .array(fc.constantFrom(...FRAGMENTS), { maxLength: 20 })
  .map((parts) => parts.join(''))
const anyText = fc.oneof(
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
  { weight: 1, arbitrary: charSoup },
  { weight: 3, arbitrary: fragmentSoup },
)

test('parseMessageIds never throws and returns bracketed ids without whitespace outside quotes', () => {
  fc.assert(
    fc.property(anyText, (text) => {
      for (const id of parseMessageIds(text)) {
        assert.ok(id.length > 2 && id.startsWith('<') && id.endsWith('>'), id)
        if (!id.includes('"') && !id.includes('[')) assert.doesNotMatch(id, /[\s(]/, id)
      }
    }),
    { numRuns: 5000 },
  )
})

test('parseMessageIds finishes on 100k-character adversarial input', () => {
  const n = 100_000
  const inputs = [
    '('.repeat(n) + ')'.repeat(n),
    '('.repeat(n),
    '"'.repeat(n + 1),
    `"${'\\"'.repeat(n)}`,
    '<'.repeat(n),
    '>'.repeat(n),
    '<"'.repeat(n),
    '<['.repeat(n),
    '<a'.repeat(n),
    '<(x)'.repeat(n),
    'a@'.repeat(n),
    'a '.repeat(n),
    '<a@b> '.repeat(n),
    `<${'a '.repeat(n)}>`,
  ]
  for (const input of inputs) assert.ok(parseMessageIds(input).length <= input.length)
})

// A million characters of what the scanner looks ahead through: linear work takes milliseconds,
// while rescanning from each quote or bracket would take many minutes and trip the test
// runner's timeout. That is how this test fails without asserting on time.
test('parseMessageIds finishes on a million characters of unclosed quotes, brackets and comments', () => {
  const n = 1_000_000
  const inputs = [
    `"${'\\"'.repeat(n)}`,
    '<"'.repeat(n),
    '<['.repeat(n),
    `<[${'\\]'.repeat(n)}`,
    `${'('.repeat(n)}${')'.repeat(n)}`,
    '('.repeat(n),
  ]
  for (const input of inputs) assert.ok(parseMessageIds(input).length <= input.length)
})

// id-left = dot-atom-text, id-right = dot-atom-text / no-fold-literal (RFC 5322 §3.6.4)
const atom = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]{1,8}$/)
const dotAtom = fc.array(atom, { minLength: 1, maxLength: 3 }).map((atoms) => atoms.join('.'))
const literal = fc.stringMatching(/^\[[0-9a-z.:]{1,12}\]$/)
const messageId = fc
  .tuple(dotAtom, fc.oneof(dotAtom, literal))
  .map(([left, right]) => `<${left}@${right}>`)
const separator = fc.constantFrom(' ', '\t', ', ', ',', ' (comment) ', '(a (b) c)', '')

test('a list of ids reads back as the same ids, whatever CFWS separates them', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(messageId, separator), { maxLength: 6 }),
      separator,
      (items, leading) => {
        const text = leading + items.map(([id, gap]) => id + gap).join('')
        assert.deepEqual(
          parseMessageIds(text),
          items.map(([id]) => id),
          text,
        )
      },
    ),
    { numRuns: 2000 },
  )
})

test('parsing the ids that parseMessageIds returns gives them back', () => {
  fc.assert(
    fc.property(anyText, (text) => {
      const ids = parseMessageIds(text)
      assert.deepEqual(parseMessageIds(ids.join(' ')), ids)
    }),
    // Found by this property: a bare word with a stray "[" became "<id@host[>", whose "[" then
    // opened a literal that swallowed the next id.
    { numRuns: 5000, examples: [['id@host[ [1.2]id@host']] },
  )
})

test('generated ids parse back whole', () => {
  const domain = fc.constantFrom(
    'example.com',
    'mx.example.org',
    'bücher.example',
    '[192.0.2.1]',
    'localhost',
  )
  fc.assert(
    fc.property(domain, (host) => {
      const id = generateMessageId(host)
      assert.deepEqual(parseMessageIds(id), [id])
      assert.deepEqual(parseMessageIds(`Re: your mail ${id} (thanks)`), [id])
    }),
    { numRuns: 200 },
  )
})
