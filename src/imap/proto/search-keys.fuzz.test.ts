import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { CommandReader, ParseError } from './command-reader.ts'
import { MAX_COMMAND_LINE_OCTETS } from './limits.ts'
import { BadCharsetError, parseSearchRequest, type SearchKey } from './search-keys.ts'

/** Parses the arguments; anything but ParseError or BadCharsetError fails the property. */
function tryParse(line: Buffer, literals: Buffer[] = [], utf8Enabled = false): SearchKey | null {
  const lines = literals.length === 0 ? [line] : [line, ...literals.map(() => Buffer.alloc(0))]
  try {
    return parseSearchRequest(new CommandReader(lines, literals), { utf8Enabled }).key
  } catch (error) {
    assert.ok(
      error instanceof ParseError || error instanceof BadCharsetError,
      `${String(error)} for ${JSON.stringify(line.toString('latin1'))}`,
    )
    return null
  }
}

const latin1 = (text: string) => Buffer.from(text, 'latin1')

/** Tokens of the grammar and near misses, so random joins often get deep into the parser. */
const TOKENS = [
  'ALL',
  'ANSWERED',
  'BCC',
  'BEFORE',
  'BODY',
  'CC',
  'DELETED',
  'DRAFT',
  'FLAGGED',
  'FROM',
  'HEADER',
  'KEYWORD',
  'LARGER',
  'NEW',
  'NOT',
  'OLD',
  'ON',
  'OR',
  'RECENT',
  'SEEN',
  'SENTBEFORE',
  'SENTON',
  'SENTSINCE',
  'SINCE',
  'SMALLER',
  'SUBJECT',
  'TEXT',
  'TO',
  'UID',
  'UNANSWERED',
  'UNDELETED',
  'UNDRAFT',
  'UNFLAGGED',
  'UNKEYWORD',
  'UNSEEN',
  'MODSEQ',
  'OLDER',
  'YOUNGER',
  'RETURN',
  'CHARSET',
  'UTF-8',
  'KOI8-R',
  'X-NOPE',
  'MIN',
  'MAX',
  'COUNT',
  'SAVE',
  'priv',
  'all',
  '(',
  ')',
  '()',
  '"',
  '"x"',
  '""',
  '"/flags/\\\\seen"',
  '\\',
  '{3}',
  '$',
  '*',
  '1',
  '0',
  '2:*',
  '1,3:5',
  '4294967296',
  '99999999999999999999',
  '1-Feb-1994',
  '"31-Dec-2020"',
  '30-Feb-2021',
  'x',
  'Message-ID',
  ':',
  ']',
  '%',
  '\x00',
  '\xff',
  '\t',
]

const tokenLine = fc
  .array(fc.tuple(fc.constantFrom(...TOKENS), fc.constantFrom(' ', ' ', ' ', '', '  ')), {
    maxLength: 40,
  })
  .map((parts) => ` ${parts.map(([token, gap]) => token + gap).join('')}`)

const VALID = [
  ' ALL',
  ' RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"',
  ' RETURN () CHARSET UTF-8 (OR $ 1,3000:3021) TEXT "x"',
  ' OR (SEEN UNFLAGGED) NOT (OR 1:* UID 9) HEADER Message-ID "<a@b>" LARGER 10',
  ' MODSEQ "/flags/\\\\draft" all 620162338 SENTON "5-Jul-1999" OLDER 60 KEYWORD $Junk',
  ' CHARSET ISO-8859-1 NOT NOT NOT (BCC a CC b TO c SUBJECT d BODY e) SMALLER 4096',
]

test('random octets: the parser answers ParseError or BadCharsetError, nothing else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, utf8Enabled) => {
      tryParse(Buffer.from(bytes.filter((b) => b !== 0x0a && b !== 0x0d)), [], utf8Enabled)
    }),
    { numRuns: 5000 },
  )
})

test('random joins of grammar tokens: parsed or refused with ParseError/BadCharsetError', () => {
  fc.assert(
    fc.property(tokenLine, fc.boolean(), (line, utf8Enabled) => {
      tryParse(latin1(line), [], utf8Enabled)
    }),
    { numRuns: 10_000 },
  )
})

test('mutations of valid arguments: parsed or refused, never anything else', () => {
  for (const valid of VALID) assert.notEqual(tryParse(latin1(valid)), null, valid)
  const mutation = fc.record({
    at: fc.nat(),
    cut: fc.integer({ min: 0, max: 4 }),
    insert: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 3 })),
  })
  fc.assert(
    fc.property(
      fc.constantFrom(...VALID),
      fc.array(mutation, { minLength: 1, maxLength: 5 }),
      (valid, mutations) => {
        let text = valid
        for (const { at, cut, insert } of mutations) {
          const position = at % (text.length + 1)
          text = text.slice(0, position) + insert + text.slice(position + cut)
        }
        tryParse(latin1(text.replace(/[\r\n]/g, '')))
      },
    ),
    { numRuns: 10_000 },
  )
})

test('literals of any octets in any key, announced right or wrong', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(' TEXT', ' CHARSET KOI8-R BODY', ' HEADER', ' OR SUBJECT', ' CHARSET X BCC'),
      fc.uint8Array({ maxLength: 50 }),
      fc.integer({ min: -1, max: 1 }),
      (prefix, bytes, skew) => {
        const literal = Buffer.from(bytes)
        tryParse(latin1(`${prefix} {${literal.length + skew}}`), [literal])
      },
    ),
    { numRuns: 3000 },
  )
})

test('deep nesting of NOT, OR and lists up to a whole command line: refused, no stack overflow', () => {
  const opener = fc.constantFrom('NOT ', 'OR ALL ', 'OR ', '(', '( ', 'NOT (')
  fc.assert(
    fc.property(opener, fc.integer({ min: 1, max: 20_000 }), (open, depth) => {
      const line = ` ${open.repeat(depth)}ALL`.slice(0, MAX_COMMAND_LINE_OCTETS)
      tryParse(latin1(line))
    }),
    { numRuns: 200 },
  )
  // The worst case in full: a 64 KiB line of NOT.
  const nots = ` ${'NOT '.repeat(MAX_COMMAND_LINE_OCTETS / 4 - 1)}ALL`
  assert.equal(tryParse(latin1(nots)), null)
})
