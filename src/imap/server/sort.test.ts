import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Envelope, parseAddressList } from '../../mime/index.ts'
import type { SortCriterion, SortKey } from '../proto/sort-thread.ts'
import { compareCodePoints, type SortInput, sentTime, sortMessages } from './sort.ts'

interface Fields {
  subject?: string
  from?: string
  to?: string
  cc?: string
  sent?: string | null
  arrived?: string
  size?: number
}

/** Header values are binary strings of the octets; the tests write them as UTF-8. */
const raw = (text: string) => Buffer.from(text, 'utf8').toString('latin1')

function envelope(fields: Fields): Envelope {
  const addresses = (value: string | undefined) =>
    value === undefined ? null : parseAddressList(raw(value))
  return {
    date: null,
    subject: fields.subject === undefined ? null : raw(fields.subject),
    from: addresses(fields.from),
    sender: null,
    replyTo: null,
    to: addresses(fields.to),
    cc: addresses(fields.cc),
    bcc: null,
    inReplyTo: null,
    messageId: null,
  }
}

/** Messages numbered 1, 2, 3… in the order given (UIDs 101, 102…). */
function mailbox(...list: Fields[]): SortInput[] {
  return list.map((fields, i) => ({
    seq: i + 1,
    uid: 101 + i,
    internalDate: new Date(fields.arrived ?? '2024-01-01T00:00:00Z'),
    sentDate: fields.sent === undefined || fields.sent === null ? null : new Date(fields.sent),
    size: fields.size ?? 1000,
    envelope: envelope(fields),
  }))
}

const by = (...keys: string[]): SortCriterion[] =>
  keys.map((key) => {
    const isReverse = key.startsWith('-')
    return { key: (isReverse ? key.slice(1) : key) as SortKey, isReverse }
  })

const seqs = (messages: SortInput[], criteria: SortCriterion[]) =>
  sortMessages(messages, criteria).map((message) => message.seq)

test('ARRIVAL, DATE and SIZE; ties go to the lower sequence number', () => {
  const messages = mailbox(
    { arrived: '2024-03-01T00:00:00Z', sent: '2024-01-03T00:00:00Z', size: 300 },
    { arrived: '2024-02-01T00:00:00Z', sent: '2024-01-01T00:00:00Z', size: 100 },
    { arrived: '2024-01-01T00:00:00Z', sent: '2024-01-02T00:00:00Z', size: 300 },
    { arrived: '2024-02-01T00:00:00Z', sent: '2024-01-01T00:00:00Z', size: 200 },
  )
  assert.deepEqual(seqs(messages, by('ARRIVAL')), [3, 2, 4, 1])
  assert.deepEqual(seqs(messages, by('DATE')), [2, 4, 3, 1])
  assert.deepEqual(seqs(messages, by('SIZE')), [2, 4, 1, 3])
  assert.deepEqual(seqs(messages, by('-SIZE')), [1, 3, 4, 2])
  assert.deepEqual(seqs(messages, by('SIZE', 'ARRIVAL')), [2, 4, 3, 1])
  assert.deepEqual(seqs(messages, by('-ARRIVAL', '-SIZE')), [1, 4, 2, 3])
})

test('REVERSE turns around its own key only, never the sequence-number tie-break', () => {
  const messages = mailbox({ size: 5 }, { size: 5 }, { size: 7 }, { size: 5 })
  assert.deepEqual(seqs(messages, by('-SIZE')), [3, 1, 2, 4])
  assert.deepEqual(seqs(messages, by('SIZE')), [1, 2, 4, 3])
  // RFC 5256 §3: REVERSE SUBJECT is not the reverse of SUBJECT.
  const subjects = mailbox({ subject: 'b' }, { subject: 'a' }, { subject: 'b' })
  assert.deepEqual(seqs(subjects, by('SUBJECT')), [2, 1, 3])
  assert.deepEqual(seqs(subjects, by('-SUBJECT')), [1, 3, 2])
  assert.deepEqual(seqs(subjects, by('-SUBJECT', '-SIZE')), [1, 3, 2])
})

test('DATE falls back to INTERNALDATE when the Date field is missing or unreadable', () => {
  const messages = mailbox(
    { sent: '2024-05-01T00:00:00Z', arrived: '2024-01-01T00:00:00Z' },
    { sent: null, arrived: '2024-03-01T00:00:00Z' },
    { sent: 'not a date', arrived: '2024-04-01T00:00:00Z' },
    { sent: '2024-02-01T00:00:00Z', arrived: '2024-09-01T00:00:00Z' },
  )
  assert.deepEqual(seqs(messages, by('DATE')), [4, 2, 3, 1])
  const [, second] = messages
  assert.equal(second && sentTime(second), Date.parse('2024-03-01T00:00:00Z'))
})

test('SUBJECT sorts by base subject, case-insensitively', () => {
  const messages = mailbox(
    { subject: 'Re: beta' },
    { subject: 'ALPHA' },
    { subject: '[list] Gamma (fwd)' },
    {},
    { subject: 'Fwd: alpha' },
    { subject: '=?utf-8?q?Re:_=C3=89t=C3=A9?=' },
    { subject: 'Ete' },
  )
  // "", ALPHA, ALPHA, BETA, ETE, E\u0301TE\u0301 (decomposed: the accent sorts after "T"), GAMMA
  assert.deepEqual(seqs(messages, by('SUBJECT')), [4, 2, 5, 1, 7, 6, 3])
})

test('FROM, TO, CC: the local part of the first address, ASCII case-insensitively', () => {
  const messages = mailbox(
    { from: 'Zed <bob@z.example>', to: 'x@a.example, a@b.example', cc: 'm@x' },
    { from: 'alice@y.example', to: 'B@c.example' },
    { from: '"Aaron" <Carol@x.example>', to: 'a@z.example', cc: 'K@x' },
    { to: '' },
    { from: 'undisclosed-recipients:;', to: 'Team: dave@x.example;' },
  )
  assert.deepEqual(seqs(messages, by('FROM')), [4, 2, 1, 3, 5])
  // Missing and empty fields sort first as the empty string; a group starts with its name.
  assert.deepEqual(seqs(messages, by('TO')), [4, 3, 2, 5, 1])
  assert.deepEqual(seqs(messages, by('CC')), [2, 4, 5, 3, 1])
  assert.deepEqual(seqs(messages, by('-CC')), [1, 3, 2, 4, 5])
})

test('i;ascii-casemap folds ASCII letters only: 8-bit octets compare as octets', () => {
  const messages = mailbox({ from: 'élan@x.example' }, { from: 'Zoe@x.example' }, { from: 'y@x' })
  assert.deepEqual(seqs(messages, by('FROM')), [3, 2, 1])
})

test('DISPLAYFROM and DISPLAYTO (RFC 5957): the decoded display name, else the address', () => {
  const messages = mailbox(
    { from: '"Zed Zulu" <aaa@x.example>', to: 'mmm@x.example' },
    { from: 'bob@x.example', to: '=?utf-8?q?=C3=89mile?= <zzz@x.example>' },
    { from: '=?utf-8?q?alice?= <zzz@x.example>', to: '"" <aaa@x.example>' },
    { from: 'carol@x.example (Carol)', to: 'undisclosed-recipients:;' },
    {},
  )
  // "", "alice", "bob@x.example", "Carol", "Zed Zulu"
  assert.deepEqual(seqs(messages, by('DISPLAYFROM')), [5, 3, 2, 4, 1])
  // "", "aaa@x.example" (the name is empty), "Émile" (decomposed, so among the E's),
  // "mmm@x.example", "undisclosed-recipients" (the group's name)
  assert.deepEqual(seqs(messages, by('DISPLAYTO')), [5, 3, 2, 1, 4])
  assert.deepEqual(seqs(messages, by('-DISPLAYTO')), [4, 1, 2, 3, 5])
})

test('sorting returns a new array of the same objects, and leaves the input alone', () => {
  const messages = mailbox({ size: 3 }, { size: 1 }, { size: 2 })
  const sorted = sortMessages(messages, by('SIZE'))
  assert.deepEqual(
    messages.map((message) => message.seq),
    [1, 2, 3],
  )
  assert.equal(sorted[0], messages[1])
  assert.deepEqual(sortMessages([], by('DATE')), [])
})

test('compareCodePoints orders by code point, not by UTF-16 code unit', () => {
  assert.ok(compareCodePoints('\uffff', '😀') < 0) // U+FFFF < U+1F600
  assert.ok(compareCodePoints('a', 'b') < 0)
  assert.ok(compareCodePoints('ab', 'a') > 0)
  assert.equal(compareCodePoints('😀', '😀'), 0)
})
