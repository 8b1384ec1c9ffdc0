import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MAX_MAILBOX_DEPTH, type Mailbox, type MailboxRole } from '../../store/index.ts'
import { CommandReader, ParseError } from '../proto/index.ts'
import {
  compilePattern,
  formatListEntry,
  type ListRequest,
  listEntries,
  lsubEntries,
  readListMailbox,
  readListRequest,
} from './list.ts'

// LIST and LSUB without a server: argument parsing (RFC 5258 §6), pattern matching (RFC 9051
// §6.3.9) and what is listed with which attributes (RFC 5258 §3, RFC 6154 §2, RFC 3501 §6.3.9).

/** The arguments as they follow "LIST" (a leading space included), on one line or several. */
function parse(args: string, utf8 = false, literals: string[] = []): ListRequest {
  const lines = args.split('\r\n').map((line) => Buffer.from(line, 'latin1'))
  const data = literals.map((literal) => Buffer.from(literal, 'latin1'))
  return readListRequest(new CommandReader(lines, data), utf8)
}

function request(overrides: Partial<ListRequest>): ListRequest {
  return {
    reference: '',
    patterns: ['*'],
    selectSubscribed: false,
    selectSpecialUse: false,
    recursiveMatch: false,
    returnSubscribed: false,
    returnStatus: null,
    ...overrides,
  }
}

let nextId = 1
function mailboxes(...names: Array<string | [string, MailboxRole]>): Mailbox[] {
  return names.map((entry) => {
    const [name, role] = typeof entry === 'string' ? [entry, null] : entry
    return { id: nextId++, accountId: 1, name, role, uidValidity: 1 }
  })
}

/** The entries as "name attributes [childinfo]" lines, for compact assertions. */
function lines(entries: ReturnType<typeof listEntries>): string[] {
  return entries.map((entry) =>
    [entry.name, ...entry.attributes, ...entry.childInfo.map((info) => `CHILDINFO:${info}`)].join(
      ' ',
    ),
  )
}

test('basic LIST arguments: reference and pattern as atoms, quoted strings and literals', () => {
  assert.deepEqual(parse(' "" %'), request({ patterns: ['%'] }))
  assert.deepEqual(
    parse(' ~/Mail/ foo.*]'),
    request({ reference: '~/Mail/', patterns: ['foo.*]'] }),
  )
  assert.deepEqual(parse(' {0}\r\n *', false, ['']), request({ patterns: ['*'] }))
  assert.deepEqual(parse(' "" {4}\r\n', false, ['a b*']), request({ patterns: ['a b*'] }))
  // Modified UTF-7 (RFC 3501 §5.1.3) is decoded, wildcards and all; UTF-8 once enabled.
  assert.deepEqual(parse(' "" Entw&APw-*').patterns, ['Entwü*'])
  assert.deepEqual(parse(' "" "Entw\xc3\xbc*"', true).patterns, ['Entwü*'])
  assert.throws(() => parse(' "" "&Jjo"'), ParseError)
  for (const bad of [' "" ', ' ""', ' "" (', ' "" %%)', ' "" a b', ' (', ' "" "x', ' "" \\x']) {
    assert.throws(() => parse(bad), ParseError, bad)
  }
})

test('extended LIST arguments: selection options, pattern lists, return options', () => {
  assert.deepEqual(
    parse(
      ' (subscribed REMOTE recursivematch) "" ("INBOX" Sent/% *) RETURN (children STATUS (MESSAGES uidnext))',
    ),
    request({
      patterns: ['INBOX', 'Sent/%', '*'],
      selectSubscribed: true,
      recursiveMatch: true,
      returnSubscribed: true, // RFC 5258 §3.1: implied by the selection option
      returnStatus: ['MESSAGES', 'UIDNEXT'],
    }),
  )
  assert.deepEqual(parse(' () "" % RETURN ()'), request({ patterns: ['%'] }))
  assert.deepEqual(
    parse(' (SPECIAL-USE) "" * RETURN (SPECIAL-USE SUBSCRIBED)'),
    request({ selectSpecialUse: true, returnSubscribed: true }),
  )
  // The cases RFC 5258 §3 and §6 and RFC 5819 §4 make BAD.
  const bad = [
    ' (RECURSIVEMATCH) "" *',
    ' (REMOTE RECURSIVEMATCH) "" *',
    ' (SPECIAL-USE RECURSIVEMATCH) "" *',
    ' (FOO) "" *',
    ' ("SUBSCRIBED") "" *',
    ' (SUBSCRIBED (x)) "" *',
    ' (SUBSCRIBED) ""',
    ' () ("INBOX") *',
    ' "" ()',
    ' "" (("INBOX"))',
    ' "" * RETURN',
    ' "" * RETURN CHILDREN',
    ' "" * RETURNS (CHILDREN)',
    ' "" * RETURN (CHILDREN) x',
    ' "" * RETURN (CHILDREN (x))',
    ' "" * RETURN (FOO)',
    ' "" * RETURN (STATUS)',
    ' "" * RETURN (STATUS ())',
    ' "" * RETURN (STATUS (FOO))',
  ]
  for (const args of bad) assert.throws(() => parse(args), ParseError, args)
})

test('list-mailbox: wildcards and "]" in atoms, nothing else special', () => {
  const read = (text: string) => {
    const reader = new CommandReader([Buffer.from(text, 'latin1')])
    return [readListMailbox(reader).toString('latin1'), reader.peek()]
  }
  assert.deepEqual(read('a%b*c] rest'), ['a%b*c]', 0x20])
  assert.deepEqual(read('"a b" rest'), ['a b', 0x20])
  assert.deepEqual(read('abc)'), ['abc', 0x29])
  assert.throws(() => read('(abc'), ParseError)
  assert.throws(() => read('\x80'), ParseError)
})

test('patterns: "*" crosses levels, "%" does not, INBOX matches in any case', () => {
  const match = (pattern: string, name: string) => compilePattern(pattern)(name)
  assert.ok(match('*', 'a/b/c'))
  assert.ok(match('%', 'a'))
  assert.ok(!match('%', 'a/b'))
  assert.ok(match('a/%', 'a/b'))
  assert.ok(!match('a/%', 'a/b/c'))
  assert.ok(match('a/*', 'a/b/c'))
  assert.ok(!match('a/*', 'a'))
  assert.ok(match('a*c', 'abc'))
  assert.ok(match('a*c', 'ab/xc'))
  assert.ok(!match('a%c', 'ab/xc'))
  assert.ok(match('%/%', 'a/b'))
  assert.ok(match('*%*%', 'ab'))
  assert.ok(match('', ''))
  assert.ok(!match('', 'a'))
  assert.ok(!match('abc', 'ab'))
  assert.ok(match('Entwü%', 'Entwürfe'))
  assert.ok(match('😀%', '😀x'))
  // RFC 9051 §5.1: INBOX is case-insensitive, other names are not.
  assert.ok(match('inbox', 'INBOX'))
  assert.ok(match('InBoX/%', 'INBOX/Sub'))
  assert.ok(match('inb*', 'INBOX'))
  assert.ok(!match('inbox/sub', 'INBOX/Sub'))
  assert.ok(!match('sent', 'Sent'))
  assert.ok(!match('inboxes', 'INBOXes'))
  // Runs of wildcards cost no more than one: a pattern made to backtrack answers at once.
  const started = performance.now()
  const name = `${'a'.repeat(1000)}b`
  assert.ok(!compilePattern(`${'*a'.repeat(500)}*c`)(name))
  assert.ok(compilePattern(`${'%a'.repeat(500)}%`)(name))
  assert.ok(performance.now() - started < 2000)
})

test('property: a pattern never throws, "*" matches every name, and a name matches itself', () => {
  const nameChar = fc.oneof(
    fc.constantFrom('a', 'B', '/', '&', '-', 'ü', '😀', 'I', 'N', 'x'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
  )
  const patternChar = fc.oneof(nameChar, fc.constantFrom('*', '%', '*', '%'))
  const name = fc.string({ unit: nameChar, maxLength: 30 })
  const pattern = fc.string({ unit: patternChar, maxLength: 30 })
  fc.assert(
    fc.property(pattern, name, (pattern, name) => {
      const result = compilePattern(pattern)(name)
      assert.equal(typeof result, 'boolean')
      assert.ok(compilePattern('*')(name))
      assert.ok(compilePattern(`${pattern}*`)(name) || !result)
      if (!/[*%]/.test(name)) assert.ok(compilePattern(name)(name))
      // "%" is "*" restricted to one level.
      if (!name.includes('/')) assert.equal(compilePattern('%')(name), true)
    }),
  )
})

test('property: random LIST arguments parse or fail with ParseError only', () => {
  const token = fc.constantFrom(
    ' ',
    '(',
    ')',
    '"',
    '""',
    '%',
    '*',
    'SUBSCRIBED',
    'RECURSIVEMATCH',
    'REMOTE',
    'SPECIAL-USE',
    'RETURN',
    'CHILDREN',
    'STATUS',
    'MESSAGES',
    'INBOX',
    '&',
    '&AOQ-',
    '\\',
    ']',
    '{',
    '\x80',
  )
  fc.assert(
    fc.property(fc.array(token, { maxLength: 16 }), fc.boolean(), (tokens, utf8) => {
      try {
        parse(` ${tokens.join('')}`, utf8)
      } catch (error) {
        if (!(error instanceof ParseError)) throw error
      }
    }),
  )
})

// The account of RFC 5258 §5 example 1: Fruit, Tofu and Vegetable with their children.
const FOOD = mailboxes(
  ['INBOX', 'inbox'],
  'Fruit',
  'Fruit/Apple',
  'Fruit/Banana',
  'Tofu',
  'Vegetable',
  'Vegetable/Broccoli',
  'Vegetable/Corn',
)

test('RFC 5258 §5 examples 1-3: all, % and the SUBSCRIBED selection with \\NonExistent', () => {
  assert.deepEqual(lines(listEntries(request({ patterns: ['%'] }), FOOD, [])), [
    'INBOX \\HasNoChildren',
    'Fruit \\HasChildren',
    'Tofu \\HasNoChildren',
    'Vegetable \\HasChildren',
  ])
  assert.equal(listEntries(request({}), FOOD, []).length, FOOD.length)
  // Fruit/Peach was subscribed and then deleted.
  const subscriptions = ['Fruit/Banana', 'Fruit/Peach', 'Vegetable', 'Vegetable/Broccoli']
  const subscribed = request({ selectSubscribed: true, returnSubscribed: true })
  assert.deepEqual(lines(listEntries(subscribed, FOOD, subscriptions)), [
    'Fruit/Banana \\Subscribed \\HasNoChildren',
    'Fruit/Peach \\NonExistent \\Subscribed \\HasNoChildren',
    'Vegetable \\Subscribed \\HasChildren',
    'Vegetable/Broccoli \\Subscribed \\HasNoChildren',
  ])
  // RETURN (SUBSCRIBED) without the selection: every mailbox, subscribed ones marked.
  assert.deepEqual(
    lines(
      listEntries(request({ patterns: ['Fruit/%'], returnSubscribed: true }), FOOD, subscriptions),
    ),
    ['Fruit/Apple \\HasNoChildren', 'Fruit/Banana \\Subscribed \\HasNoChildren'],
  )
})

test('RFC 5258 §5 example 8: RECURSIVEMATCH and CHILDINFO', () => {
  const tree = mailboxes(['INBOX', 'inbox'], 'Foo', 'Foo/Bar', 'Foo/Baz', 'Moo')
  const recursive = (patterns: string[], subscriptions: string[]) =>
    lines(
      listEntries(
        request({ patterns, selectSubscribed: true, returnSubscribed: true, recursiveMatch: true }),
        tree,
        subscriptions,
      ),
    )
  const plain = (patterns: string[], subscriptions: string[]) =>
    lines(
      listEntries(
        request({ patterns, selectSubscribed: true, returnSubscribed: true }),
        tree,
        subscriptions,
      ),
    )
  // A) Only Foo/Baz is subscribed.
  assert.deepEqual(plain(['*'], ['Foo/Baz']), ['Foo/Baz \\Subscribed \\HasNoChildren'])
  assert.deepEqual(plain(['%'], ['Foo/Baz']), [])
  assert.deepEqual(recursive(['%'], ['Foo/Baz']), ['Foo \\HasChildren CHILDINFO:SUBSCRIBED'])
  // Whether or not the descendant matches the pattern itself.
  assert.deepEqual(recursive(['*'], ['Foo/Baz']), [
    'Foo \\HasChildren CHILDINFO:SUBSCRIBED',
    'Foo/Baz \\Subscribed \\HasNoChildren',
  ])
  // B) Foo/Bar and Foo/Baz: the same.
  assert.deepEqual(recursive(['%'], ['Foo/Bar', 'Foo/Baz']), [
    'Foo \\HasChildren CHILDINFO:SUBSCRIBED',
  ])
  // C) Foo alone.
  assert.deepEqual(recursive(['%'], ['Foo']), ['Foo \\Subscribed \\HasChildren'])
  // D) Foo and Foo/Baz.
  assert.deepEqual(recursive(['%'], ['Foo', 'Foo/Baz']), [
    'Foo \\Subscribed \\HasChildren CHILDINFO:SUBSCRIBED',
  ])
  // A subscribed name under a level that exists nowhere.
  assert.deepEqual(recursive(['%'], ['Gone/Away']), [
    'Gone \\NonExistent \\HasNoChildren CHILDINFO:SUBSCRIBED',
  ])
})

test('RFC 5258 §5 example 7: several patterns, each name once', () => {
  const tree = mailboxes('INBOX', 'Drafts', 'Sent', 'Sent/March2004', 'Sent/December2003', 'Other')
  assert.deepEqual(
    listEntries(request({ patterns: ['INBOX', 'Drafts', 'Sent/%', 'Sent/*'] }), tree, []).map(
      (entry) => entry.name,
    ),
    ['INBOX', 'Drafts', 'Sent/December2003', 'Sent/March2004'],
  )
})

test('RFC 6154: special-use attributes always, the SPECIAL-USE selection, \\NoInferiors', () => {
  const tree = mailboxes(
    ['INBOX', 'inbox'],
    ['Sent', 'sent'],
    ['Drafts', 'drafts'],
    ['Trash', 'trash'],
    ['Junk', 'junk'],
    ['Old/Archive', 'archive'],
    'Old',
  )
  assert.deepEqual(lines(listEntries(request({}), tree, [])), [
    'INBOX \\HasNoChildren',
    'Drafts \\HasNoChildren \\Drafts',
    'Junk \\HasNoChildren \\Junk',
    'Old \\HasChildren',
    'Old/Archive \\HasNoChildren \\Archive',
    'Sent \\HasNoChildren \\Sent',
    'Trash \\HasNoChildren \\Trash',
  ])
  assert.deepEqual(
    listEntries(request({ patterns: ['%'], selectSpecialUse: true }), tree, []).map((e) => e.name),
    ['Drafts', 'Junk', 'Sent', 'Trash'],
  )
  const deep = Array.from({ length: MAX_MAILBOX_DEPTH }, (_, i) => `L${i}`).join('/')
  assert.deepEqual(lines(listEntries(request({ patterns: [deep] }), mailboxes(deep), [])), [
    `${deep} \\NoInferiors`,
  ])
})

test('the reference is prefixed to the pattern; "" asks for the delimiter only', () => {
  const names = (reference: string, pattern: string) =>
    listEntries(request({ reference, patterns: [pattern] }), FOOD, []).map((entry) => entry.name)
  assert.deepEqual(names('Fruit/', '%'), ['Fruit/Apple', 'Fruit/Banana'])
  assert.deepEqual(names('Fruit', '%'), ['Fruit'])
  assert.deepEqual(names('inbox', ''), [''])
  const [root] = listEntries(request({ patterns: [''] }), FOOD, [])
  assert.ok(root)
  assert.equal(formatListEntry('LIST', root, false), 'LIST (\\Noselect) "/" ""')
})

test('LSUB: subscribed names, missing ones and unsubscribed levels under "%" as \\Noselect', () => {
  const subscriptions = ['INBOX', 'Fruit/Banana', 'Fruit/Peach', 'Vegetable', 'Vegetable/Corn']
  const lsub = (pattern: string, reference = '') =>
    lines(lsubEntries(reference, pattern, FOOD, subscriptions))
  assert.deepEqual(lsub('*'), [
    'INBOX',
    'Fruit/Banana',
    'Fruit/Peach \\Noselect',
    'Vegetable',
    'Vegetable/Corn',
  ])
  // RFC 3501 §6.3.9: "Fruit" is not subscribed, but a "%" must show it, as \Noselect.
  assert.deepEqual(lsub('%'), ['INBOX', 'Fruit \\Noselect', 'Vegetable'])
  assert.deepEqual(lsub('%', 'Fruit/'), ['Fruit/Banana', 'Fruit/Peach \\Noselect'])
  assert.deepEqual(lsub('Fru*'), ['Fruit/Banana', 'Fruit/Peach \\Noselect'])
  assert.deepEqual(lsub('inbox'), ['INBOX'])
})

test('response lines: modified UTF-7 or UTF-8 names, quoting, CHILDINFO', () => {
  const entry = {
    name: 'Entwürfe "alt"',
    mailbox: null,
    attributes: ['\\HasNoChildren'],
    childInfo: [],
  }
  assert.equal(
    formatListEntry('LIST', entry, false),
    'LIST (\\HasNoChildren) "/" "Entw&APw-rfe \\"alt\\""',
  )
  assert.equal(
    formatListEntry('LSUB', entry, true),
    'LSUB (\\HasNoChildren) "/" {15}\r\nEntw\xc3\xbcrfe "alt"',
  )
  assert.equal(
    formatListEntry('LIST', { ...entry, name: 'Foo', childInfo: ['SUBSCRIBED'] }, false),
    'LIST (\\HasNoChildren) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))',
  )
})
