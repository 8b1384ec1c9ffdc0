import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { SectionText } from '../../mime/sections.ts'
import { CommandReader, ParseError } from './command-reader.ts'
import {
  type FetchItem,
  type FetchPartial,
  type FetchRequest,
  fetchResponseName,
  formatFetchItem,
  parseFetchRequest,
} from './fetch-items.ts'

/** Parses `a FETCH 1 <args>` on one line, as the server would. */
function parse(args: string): FetchRequest {
  const reader = new CommandReader([Buffer.from(`a FETCH 1 ${args}`, 'latin1')])
  reader.tag()
  reader.space()
  reader.keyword()
  reader.space()
  reader.word('a sequence set')
  return parseFetchRequest(reader)
}

/** Parses, requiring that nothing but ParseError is thrown and that it takes no time at all. */
function parseOrRefuse(args: string): FetchRequest | null {
  const started = performance.now()
  try {
    return parse(args)
  } catch (error) {
    assert.ok(error instanceof ParseError, `${JSON.stringify(args)}: ${String(error)}`)
    return null
  } finally {
    assert.ok(performance.now() - started < 1000, `${JSON.stringify(args)} took too long`)
  }
}

const ftext = fc.constantFrom(
  ...Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i)).filter(
    (char) => char !== ':',
  ),
)
const fieldName = fc.oneof(
  fc.constantFrom('From', 'TO', 'subject', 'X-Mailer', 'Message-ID', 'a]b'),
  fc.string({ unit: ftext, minLength: 1, maxLength: 12 }),
)
const path = fc.array(fc.integer({ min: 1, max: 0xffff_ffff }), { maxLength: 5 })
const partial: fc.Arbitrary<FetchPartial | null> = fc.option(
  fc.record(
    {
      offset: fc.oneof(fc.nat(100_000), fc.constant(Number.MAX_SAFE_INTEGER)),
      length: fc.oneof(fc.nat(100_000), fc.constant(Number.MAX_SAFE_INTEGER)),
    },
    { noNullPrototype: true },
  ),
)
const sectionText: fc.Arbitrary<SectionText> = fc.oneof(
  fc.constantFrom<SectionText>({ kind: 'all' }, { kind: 'header' }, { kind: 'text' }),
  fc.record(
    {
      kind: fc.constant('header-fields' as const),
      names: fc.array(fieldName, { minLength: 1, maxLength: 4 }),
      isNot: fc.boolean(),
    },
    { noNullPrototype: true },
  ),
)
const fetchItem: fc.Arbitrary<FetchItem> = fc.oneof(
  fc.constantFrom<FetchItem>(
    { kind: 'flags' },
    { kind: 'uid' },
    { kind: 'internaldate' },
    { kind: 'rfc822.size' },
    { kind: 'envelope' },
    { kind: 'body' },
    { kind: 'bodystructure' },
    { kind: 'modseq' },
    { kind: 'rfc822' },
    { kind: 'rfc822.header' },
    { kind: 'rfc822.text' },
  ),
  fc
    .record({ peek: fc.boolean(), path, text: sectionText, partial })
    // MIME exists only under a part number (RFC 9051 §6.4.5).
    .chain(({ peek, path, text, partial }) =>
      (path.length > 0
        ? fc.oneof(fc.constant(text), fc.constant<SectionText>({ kind: 'mime' }))
        : fc.constant(text)
      ).map((t): FetchItem => ({ kind: 'section', peek, path, text: t, partial })),
    ),
  fc.record(
    { kind: fc.constant('binary' as const), peek: fc.boolean(), path, partial },
    { noNullPrototype: true },
  ),
  fc.record({ kind: fc.constant('binary.size' as const), path }, { noNullPrototype: true }),
)
const request = fc.record({
  items: fc.uniqueArray(fetchItem, { minLength: 1, maxLength: 6, selector: formatFetchItem }),
  bare: fc.boolean(),
  changedSince: fc.option(fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER))),
  vanished: fc.boolean(),
})

/** The command text a client writes for a request: items bare when alone if `bare`. */
function write(r: {
  items: FetchItem[]
  bare: boolean
  changedSince: number | null
  vanished: boolean
}): string {
  const list = r.items.map(formatFetchItem)
  let text = r.bare && list.length === 1 ? (list[0] ?? '') : `(${list.join(' ')})`
  const modifiers: string[] = []
  if (r.changedSince !== null) modifiers.push(`CHANGEDSINCE ${r.changedSince}`)
  if (r.vanished && r.changedSince !== null) modifiers.push('VANISHED')
  if (modifiers.length > 0) text += ` (${modifiers.join(' ')})`
  return text
}

/** Changes the case of every letter at random: keywords are case-insensitive. */
const recase = (text: string, flips: boolean[]) =>
  [...text].map((c, i) => (flips[i % flips.length] ? c.toLowerCase() : c)).join('')

test('formatted items parse back to the same request', () => {
  fc.assert(
    fc.property(request, (r) => {
      assert.deepEqual(parse(write(r)), {
        items: r.items,
        changedSince: r.changedSince,
        vanished: r.vanished && r.changedSince !== null,
      })
    }),
    { numRuns: 3000 },
  )
})

test('keywords read the same in any case', () => {
  const keywordsOnly = fetchItem.filter(
    (item) => item.kind !== 'section' || item.text.kind !== 'header-fields',
  )
  fc.assert(
    fc.property(
      fc.uniqueArray(keywordsOnly, { minLength: 1, maxLength: 6, selector: formatFetchItem }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
      (items, flips) => {
        const wire = `(${items.map(formatFetchItem).join(' ')}) (CHANGEDSINCE 1 VANISHED)`
        assert.deepEqual(parse(recase(wire, flips)).items, items)
      },
    ),
    { numRuns: 2000 },
  )
})

test('response names parse back to the item the response answers', () => {
  fc.assert(
    fc.property(fetchItem, (item) => {
      const name = fetchResponseName(item)
      // The response drops PEEK and gives only a partial's origin: "<n>", which is no request
      // syntax, so it is checked and cut off before the name is read as a request.
      const hasPartial = (item.kind === 'section' || item.kind === 'binary') && item.partial
      const origin = hasPartial ? `<${hasPartial.offset}>` : ''
      assert.ok(name.endsWith(origin))
      const [reread, ...rest] = parse(name.slice(0, name.length - origin.length)).items
      assert.equal(rest.length, 0)
      const answered =
        item.kind === 'section' || item.kind === 'binary'
          ? { ...item, peek: false, partial: null }
          : item
      assert.deepEqual(reread, answered)
      assert.ok(reread !== undefined)
      assert.equal(fetchResponseName(reread) + origin, name)
    }),
    { numRuns: 3000 },
  )
})

const TOKENS = [
  'BODY',
  'BODY.PEEK',
  'BINARY',
  'BINARY.PEEK',
  'BINARY.SIZE',
  'FLAGS',
  'UID',
  'ALL',
  'FAST',
  'FULL',
  'RFC822',
  '.HEADER',
  '.TEXT',
  'HEADER',
  'HEADER.FIELDS',
  'HEADER.FIELDS.NOT',
  'TEXT',
  'MIME',
  'CHANGEDSINCE',
  'VANISHED',
  '[',
  ']',
  '(',
  ')',
  '<',
  '>',
  '.',
  ' ',
  '"',
  '\\',
  '{',
  '}',
  '0',
  '1',
  '2',
  '99999999999999999999',
  'x',
  '\x00',
  '\xff',
]

test('token soup: only ParseError, never a hang', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }), (tokens) => {
      parseOrRefuse(tokens.join(''))
    }),
    { numRuns: 10000 },
  )
})

test('any octets: only ParseError, never a hang', () => {
  const octet = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c))
  fc.assert(
    fc.property(fc.string({ unit: octet, maxLength: 80 }), (args) => {
      parseOrRefuse(args.replace(/[\r\n]/g, ' '))
    }),
    { numRuns: 5000 },
  )
})

test('mutated valid commands: only ParseError, and what parses formats back to itself', () => {
  const mutation = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('delete', 'insert', 'replace', 'duplicate'),
    char: fc.constantFrom(...TOKENS),
    length: fc.integer({ min: 1, max: 8 }),
  })
  fc.assert(
    fc.property(request, fc.array(mutation, { minLength: 1, maxLength: 4 }), (r, mutations) => {
      let text = write(r)
      for (const { at, kind, char, length } of mutations) {
        const i = at % (text.length + 1)
        if (kind === 'delete') text = text.slice(0, i) + text.slice(i + length)
        else if (kind === 'insert') text = text.slice(0, i) + char + text.slice(i)
        else if (kind === 'replace') text = text.slice(0, i) + char + text.slice(i + 1)
        else text = text.slice(0, i + length) + text.slice(i)
      }
      const parsed = parseOrRefuse(text)
      if (parsed === null) return
      // Whatever was accepted is a request that formats to text reading back the same.
      const rewritten = write({ ...parsed, bare: false })
      assert.deepEqual(parse(rewritten), parsed)
    }),
    { numRuns: 5000 },
  )
})
