import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TextQuery } from '../../store/types.ts'
import {
  CommandReader,
  parseSearchRequest,
  type SearchKey,
  type SearchReturnOption,
} from '../proto/index.ts'
import {
  evaluateSearch,
  formatEsearchResponse,
  formatSearchResponse,
  type SearchCandidate,
  type SearchContext,
  textQueries,
  uidsToSave,
  usesModseq,
} from './search-eval.ts'

const NOW = new Date('2024-06-01T12:00:00Z')

const candidate = (
  seq: number,
  uid: number,
  fields: Partial<Omit<SearchCandidate, 'seq' | 'uid'>>,
): SearchCandidate => ({
  seq,
  uid,
  modseq: 1,
  flags: [],
  isRecent: false,
  internalDate: new Date('2024-01-01T00:00:00Z'),
  sentDate: null,
  size: 100,
  ...fields,
})

/** Five messages that between them tell every key's matches apart. */
const MESSAGES: readonly SearchCandidate[] = [
  candidate(1, 10, {
    modseq: 100,
    flags: ['\\Seen'],
    internalDate: new Date('2024-01-15T23:30:00Z'),
    sentDate: new Date('2024-01-15T10:00:00Z'),
    size: 1000,
  }),
  candidate(2, 11, {
    modseq: 105,
    flags: ['\\Answered', '\\Flagged', '$Junk'],
    internalDate: new Date('2024-02-01T00:00:00Z'),
    sentDate: null,
    size: 5000,
  }),
  candidate(3, 12, {
    modseq: 110,
    flags: ['\\Deleted', '\\Draft'],
    isRecent: true,
    internalDate: new Date('2024-02-10T12:00:00Z'),
    sentDate: new Date('2024-02-09T23:59:59Z'),
    size: 200,
  }),
  candidate(4, 20, {
    modseq: 102,
    flags: [],
    isRecent: true,
    internalDate: new Date('2024-03-01T00:00:00Z'),
    sentDate: new Date('2023-12-31T08:00:00Z'),
    size: 3000,
  }),
  candidate(5, 21, {
    modseq: 130,
    flags: ['\\Seen', 'NonJunk'],
    internalDate: new Date(NOW.getTime() - 30_000),
    sentDate: new Date(NOW.getTime() - 60_000),
    size: 10,
  }),
]

/** What the store would find for each text query, by UID. */
const TEXT_HITS: Record<string, number[]> = {
  'from:smith': [10, 12],
  'subject:report': [11, 12, 20],
  'body:hello': [10],
  'text:hello': [10, 21],
  'message-id:<a@b>': [20],
  'x-spam-flag:': [11, 21],
  'to:': [10, 11, 12, 20, 21],
}

const context = (overrides: Partial<SearchContext> = {}): SearchContext => ({
  maxSeq: 5,
  maxUid: 21,
  savedUids: [11, 20, 999],
  textHits: (query: TextQuery) => new Set(TEXT_HITS[`${query.field}:${query.value}`] ?? []),
  now: NOW,
  ...overrides,
})

const parse = (args: string): SearchKey =>
  parseSearchRequest(new CommandReader([Buffer.from(` ${args}`, 'latin1')]), {
    utf8Enabled: false,
  }).key

/** The sequence numbers that match the search arguments. */
const search = (args: string, overrides: Partial<SearchContext> = {}) =>
  evaluateSearch(parse(args), MESSAGES, context(overrides)).map((message) => message.seq)

test('every kind of key over a fixed mailbox', () => {
  const table: Array<[string, number[]]> = [
    ['ALL', [1, 2, 3, 4, 5]],
    ['SEEN', [1, 5]],
    ['UNSEEN', [2, 3, 4]],
    ['ANSWERED', [2]],
    ['UNANSWERED', [1, 3, 4, 5]],
    ['FLAGGED', [2]],
    ['UNFLAGGED', [1, 3, 4, 5]],
    ['DELETED', [3]],
    ['UNDELETED', [1, 2, 4, 5]],
    ['DRAFT', [3]],
    ['UNDRAFT', [1, 2, 4, 5]],
    ['RECENT', [3, 4]],
    ['OLD', [1, 2, 5]],
    ['NEW', [3, 4]],
    // Keywords compare case-insensitively, as the store keeps them.
    ['KEYWORD $junk', [2]],
    ['KEYWORD nonjunk', [5]],
    ['UNKEYWORD $Junk', [1, 3, 4, 5]],
    ['KEYWORD Absent', []],
    ['2,4:5', [2, 4, 5]],
    ['4:*', [4, 5]],
    ['*', [5]],
    ['*:4', [4, 5]],
    ['6:9', []],
    ['UID 11:12', [2, 3]],
    ['UID *', [5]],
    ['UID 13:19', []],
    ['UID 15:*', [4, 5]],
    ['$', [2, 4]],
    ['UID $', [2, 4]],
    ['BEFORE 1-Feb-2024', [1]],
    ['ON 1-Feb-2024', [2]],
    ['SINCE 1-Feb-2024', [2, 3, 4, 5]],
    ['ON 15-Jan-2024', [1]],
    // No Date header: the internal date stands in (2 was received on 1-Feb-2024).
    ['SENTON 1-Feb-2024', [2]],
    ['SENTBEFORE 1-Jan-2024', [4]],
    ['SENTSINCE 9-Feb-2024', [3, 5]],
    ['SENTON 9-Feb-2024', [3]],
    ['LARGER 1000', [2, 4]],
    ['SMALLER 1000', [3, 5]],
    ['SMALLER 10', []],
    ['FROM smith', [1, 3]],
    ['SUBJECT report', [2, 3, 4]],
    ['BODY hello', [1]],
    ['TEXT hello', [1, 5]],
    ['HEADER Message-ID <a@b>', [4]],
    ['HEADER X-Spam-Flag ""', [2, 5]],
    ['TO ""', [1, 2, 3, 4, 5]],
    ['BCC nobody', []],
    ['MODSEQ 105', [2, 3, 5]],
    ['MODSEQ "/flags/\\\\seen" all 110', [3, 5]],
    ['MODSEQ 0', [1, 2, 3, 4, 5]],
    ['YOUNGER 60', [5]],
    ['OLDER 60', [1, 2, 3, 4]],
    ['YOUNGER 29', []],
  ]
  for (const [args, expected] of table) assert.deepEqual(search(args), expected, args)
})

test('AND, OR and NOT, nested', () => {
  const table: Array<[string, number[]]> = [
    ['SEEN LARGER 100', [1]],
    ['OR SEEN FLAGGED', [1, 2, 5]],
    ['NOT SEEN', [2, 3, 4]],
    ['NOT NOT SEEN', [1, 5]],
    ['OR (SEEN SMALLER 100) (RECENT UID 20)', [4, 5]],
    ['NOT (OR DELETED OR ANSWERED UID 21)', [1, 4]],
    ['OR OR 1 2 OR 3 NOT ALL', [1, 2, 3]],
    ['(OR $ 1,3) SUBJECT report', [2, 3, 4]],
    ['NOT FROM smith NOT UNSEEN', [5]],
    ['ALL ALL (ALL (ALL))', [1, 2, 3, 4, 5]],
  ]
  for (const [args, expected] of table) assert.deepEqual(search(args), expected, args)
})

test('an empty mailbox: "*" matches nothing, nor does any other key', () => {
  const empty = context({ maxSeq: 0, maxUid: 0, savedUids: [] })
  for (const args of ['*', 'UID *', '1:*', 'ALL', '$', 'NOT SEEN']) {
    assert.deepEqual(evaluateSearch(parse(args), [], empty), [], args)
  }
  // An empty "$" is a valid set that matches nothing (RFC 5182 §2.1).
  assert.deepEqual(search('$', { savedUids: [] }), [])
  assert.deepEqual(search('NOT $', { savedUids: [] }), [1, 2, 3, 4, 5])
})

test('results come in sequence order whatever order the candidates are in', () => {
  const shuffled = [MESSAGES[3], MESSAGES[0], MESSAGES[4], MESSAGES[2]] as SearchCandidate[]
  const found = evaluateSearch(parse('NOT 2'), shuffled, context()).map((m) => m.seq)
  assert.deepEqual(found, [1, 3, 4, 5])
})

test('dates: the UTC day of the internal date, whole days', () => {
  const late = [candidate(1, 1, { internalDate: new Date('2024-01-15T23:59:59.999Z') })]
  const early = [candidate(1, 1, { internalDate: new Date('2024-01-16T00:00:00Z') })]
  const seqs = (args: string, messages: SearchCandidate[]) =>
    evaluateSearch(parse(args), messages, context()).map((m) => m.seq)
  assert.deepEqual(seqs('ON 15-Jan-2024', late), [1])
  assert.deepEqual(seqs('BEFORE 16-Jan-2024', late), [1])
  assert.deepEqual(seqs('SINCE 16-Jan-2024', late), [])
  assert.deepEqual(seqs('SINCE 16-Jan-2024', early), [1])
  assert.deepEqual(seqs('BEFORE 16-Jan-2024', early), [])
  // Years compare as numbers, across centuries.
  const old = [candidate(1, 1, { internalDate: new Date('1999-12-31T12:00:00Z') })]
  assert.deepEqual(seqs('BEFORE 1-Jan-2000', old), [1])
  assert.deepEqual(seqs('SINCE 1-Jan-2000', old), [])
})

test('textQueries: distinct, in order written, including those under NOT and OR', () => {
  assert.deepEqual(
    textQueries(parse('FROM a NOT (SUBJECT b OR FROM a BODY "c") HEADER X-A "" FROM A SEEN')),
    [
      { field: 'from', value: 'a' },
      { field: 'subject', value: 'b' },
      { field: 'body', value: 'c' },
      { field: 'x-a', value: '' },
      { field: 'from', value: 'A' },
    ],
  )
  assert.deepEqual(textQueries(parse('ALL')), [])
  // Text hits are asked for once per key, not once per message.
  let calls = 0
  const counting = context({
    textHits: () => {
      calls += 1
      return new Set([10])
    },
  })
  evaluateSearch(parse('FROM x'), MESSAGES, counting)
  assert.equal(calls, 1)
})

test('usesModseq finds a MODSEQ criterion anywhere in the key', () => {
  assert.equal(usesModseq(parse('SEEN')), false)
  assert.equal(usesModseq(parse('MODSEQ 5')), true)
  assert.equal(usesModseq(parse('SEEN (OR 1 NOT MODSEQ 5)')), true)
})

test('SEARCH responses: numbers, UIDs, and MODSEQ when the key asks (RFC 7162 §3.1.5)', () => {
  const matches = evaluateSearch(parse('SINCE 1-Feb-2024'), MESSAGES, context())
  assert.equal(formatSearchResponse(false, matches, parse('ALL')), 'SEARCH 2 3 4 5')
  assert.equal(formatSearchResponse(true, matches, parse('ALL')), 'SEARCH 11 12 20 21')
  assert.equal(formatSearchResponse(false, [], parse('ALL')), 'SEARCH')
  const modseqKey = parse('MODSEQ 105')
  const withModseq = evaluateSearch(modseqKey, MESSAGES, context())
  assert.equal(formatSearchResponse(false, withModseq, modseqKey), 'SEARCH 2 3 5 (MODSEQ 130)')
  // Nothing matched: no MODSEQ (RFC 7162 §7, search-sort-mod-seq follows at least one number).
  assert.equal(formatSearchResponse(true, [], modseqKey), 'SEARCH')
})

/** Candidates with these numbers as both sequence numbers and UIDs, and mod-sequences. */
const numbered = (numbers: number[], modseqs: number[] = []) =>
  numbers.map((n, i) => candidate(n, n, { modseq: modseqs[i] ?? 1 }))
const opts = (...options: SearchReturnOption[]) => new Set(options)

test('ESEARCH responses: the examples of RFC 4731 §3.1 and RFC 9051 §6.4.4', () => {
  const all = parse('ALL')
  const esearch = (
    tag: string,
    isUid: boolean,
    options: Set<SearchReturnOption>,
    numbers: number[],
  ) => formatEsearchResponse(tag, isUid, options, numbered(numbers), all)
  assert.equal(
    esearch('A282', false, opts('MIN', 'COUNT'), [2, 10, 11]),
    'ESEARCH (TAG "A282") MIN 2 COUNT 3',
  )
  assert.equal(esearch('A283', false, opts('ALL'), [2, 10, 11]), 'ESEARCH (TAG "A283") ALL 2,10:11')
  // An empty option set is ALL.
  assert.equal(esearch('A283', false, opts(), [11, 2, 10]), 'ESEARCH (TAG "A283") ALL 2,10:11')
  assert.equal(esearch('A284', false, opts('MIN'), [4, 7]), 'ESEARCH (TAG "A284") MIN 4')
  assert.equal(
    esearch('A285', true, opts('MIN', 'MAX'), [7, 100, 3800]),
    'ESEARCH (TAG "A285") UID MIN 7 MAX 3800',
  )
  assert.equal(esearch('A286', false, opts('COUNT'), [1, 2, 3]), 'ESEARCH (TAG "A286") COUNT 3')
  // RFC 9051 §6.4.4: nothing matched.
  assert.equal(esearch('A284', false, opts('ALL'), []), 'ESEARCH (TAG "A284")')
  assert.equal(esearch('A284', true, opts('MIN', 'MAX', 'ALL'), []), 'ESEARCH (TAG "A284") UID')
  assert.equal(esearch('A284', true, opts('MIN', 'COUNT'), []), 'ESEARCH (TAG "A284") UID COUNT 0')
  assert.equal(esearch('A285', false, opts('ALL'), [43]), 'ESEARCH (TAG "A285") ALL 43')
  // RFC 9051 §6.4.4.4 example 10.
  const found = [2, 10, 11, 12, 13, 14, 15, 21]
  assert.equal(
    esearch('C283', false, opts('ALL', 'SAVE'), found),
    'ESEARCH (TAG "C283") ALL 2,10:15,21',
  )
  assert.equal(esearch('C284', false, opts('SAVE', 'MIN'), found), 'ESEARCH (TAG "C284") MIN 2')
  assert.equal(
    esearch('C285', false, opts('MAX', 'SAVE', 'MIN'), found),
    'ESEARCH (TAG "C285") MIN 2 MAX 21',
  )
  assert.equal(
    esearch('C286', false, opts('MAX', 'SAVE', 'MIN', 'COUNT'), found),
    'ESEARCH (TAG "C286") MIN 2 MAX 21 COUNT 8',
  )
  assert.equal(
    esearch('C286', false, opts('ALL', 'SAVE', 'MIN'), found),
    'ESEARCH (TAG "C286") MIN 2 ALL 2,10:15,21',
  )
  assert.equal(
    esearch('a1', true, opts('MIN', 'MAX', 'COUNT', 'ALL'), [2, 3, 4, 9]),
    'ESEARCH (TAG "a1") UID MIN 2 MAX 9 COUNT 4 ALL 2:4,9',
  )
  // RFC 5182 §2.1 / RFC 9051 §6.4.4: SAVE alone suppresses the response.
  assert.equal(esearch('A282', false, opts('SAVE'), [2, 84, 882]), null)
})

test('ESEARCH MODSEQ: of the MIN/MAX messages, else of all returned (RFC 4731 §3.2)', () => {
  const key = parse('MODSEQ "/flags/\\\\draft" all 620162338')
  const matches = numbered([2, 5, 23], [917162488, 917162500, 907162321])
  const esearch = (tag: string, options: Set<SearchReturnOption>) =>
    formatEsearchResponse(tag, false, options, matches, key)
  assert.equal(esearch('a1', opts('MIN')), 'ESEARCH (TAG "a1") MIN 2 MODSEQ 917162488')
  assert.equal(esearch('a2', opts('MAX')), 'ESEARCH (TAG "a2") MAX 23 MODSEQ 907162321')
  assert.equal(
    esearch('a3', opts('MIN', 'MAX')),
    'ESEARCH (TAG "a3") MIN 2 MAX 23 MODSEQ 917162488',
  )
  assert.equal(
    esearch('a4', opts('MIN', 'COUNT')),
    'ESEARCH (TAG "a4") MIN 2 COUNT 3 MODSEQ 917162500',
  )
  assert.equal(esearch('a5', opts()), 'ESEARCH (TAG "a5") ALL 2,5,23 MODSEQ 917162500')
  // Nothing returned: no MODSEQ, COUNT 0 still there.
  assert.equal(
    formatEsearchResponse('a6', true, opts('COUNT'), [], key),
    'ESEARCH (TAG "a6") UID COUNT 0',
  )
  // No MODSEQ criterion: no MODSEQ.
  assert.equal(
    formatEsearchResponse('a7', false, opts('MIN'), matches, parse('ALL')),
    'ESEARCH (TAG "a7") MIN 2',
  )
})

test('the saved result follows RFC 9051 §6.4.4.1 table 4', () => {
  const matches = [candidate(3, 30, {}), candidate(1, 10, {}), candidate(2, 20, {})]
  assert.deepEqual(uidsToSave(opts('SAVE'), matches), [10, 20, 30])
  assert.deepEqual(uidsToSave(opts('SAVE', 'MIN'), matches), [10])
  assert.deepEqual(uidsToSave(opts('SAVE', 'MAX'), matches), [30])
  assert.deepEqual(uidsToSave(opts('SAVE', 'MIN', 'MAX'), matches), [10, 30])
  assert.deepEqual(uidsToSave(opts('SAVE', 'MIN', 'MAX'), [candidate(1, 10, {})]), [10])
  assert.deepEqual(uidsToSave(opts('SAVE', 'ALL', 'MIN'), matches), [10, 20, 30])
  assert.deepEqual(uidsToSave(opts('SAVE', 'COUNT', 'MAX'), matches), [10, 20, 30])
  assert.deepEqual(uidsToSave(opts('SAVE', 'MIN'), []), [])
})

test('keys nested as deep as the parser allows evaluate without trouble', () => {
  const nots = `${'NOT '.repeat(999)}SEEN`
  assert.deepEqual(search(nots), [2, 3, 4])
  const chain = `${Array.from({ length: 999 }, (_, i) => `OR UID ${i + 1000}`).join(' ')} UID 21`
  assert.deepEqual(search(chain), [5])
})
