import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatThreadResponse, type ThreadNode } from '../proto/sort-thread.ts'
import {
  normalizeMessageId,
  type ThreadInput,
  threadOrderedSubject,
  threadReferences,
} from './thread.ts'

interface Fields {
  id?: string
  references?: string
  inReplyTo?: string
  subject?: string
  /** Minutes after a fixed moment; none: no Date field (INTERNALDATE counts, see `arrived`). */
  sent?: number
  arrived?: number
}

const BASE = Date.parse('2024-01-01T00:00:00Z')
const at = (minutes: number) => new Date(BASE + minutes * 60_000)

/** Messages numbered 1, 2, 3… in the order given, with UIDs 101, 102… */
function mailbox(...list: Fields[]): ThreadInput[] {
  return list.map((fields, i) => ({
    seq: i + 1,
    uid: 101 + i,
    internalDate: at(fields.arrived ?? 10_000 + i),
    sentDate: fields.sent === undefined ? null : at(fields.sent),
    size: 100,
    envelope: {
      date: null,
      subject: fields.subject ?? null,
      from: null,
      sender: null,
      replyTo: null,
      to: null,
      cc: null,
      bcc: null,
      inReplyTo: fields.inReplyTo ?? null,
      messageId: fields.id ?? null,
    },
    references: fields.references ?? null,
  }))
}

const references = (messages: ThreadInput[]) => formatThreadResponse(threadReferences(messages))
const ordered = (messages: ThreadInput[]) => formatThreadResponse(threadOrderedSubject(messages))

test('ORDEREDSUBJECT: one thread per base subject, the earliest message its root', () => {
  const messages = mailbox(
    { subject: 'Re: foo', sent: 3 },
    { subject: 'bar', sent: 1 },
    { subject: 'foo', sent: 2 },
    { subject: 'Fwd: FOO', sent: 4 },
    { subject: '[list] bar', sent: 5 },
    { sent: 0 },
    { subject: 'Re: foo', sent: 3 }, // same date as 1: the sequence number decides
  )
  assert.equal(ordered(messages), 'THREAD (6)(2 5)(3 (1)(7)(4))')
  assert.deepEqual(threadOrderedSubject(messages.slice(1, 2), 'uid'), [
    { message: 102, children: [] },
  ])
  assert.equal(ordered([]), 'THREAD')
})

test('ORDEREDSUBJECT uses INTERNALDATE when there is no Date field', () => {
  const messages = mailbox(
    { subject: 'x', arrived: 50 },
    { subject: 'x', sent: 10 },
    { subject: 'y', arrived: 5 },
  )
  assert.equal(ordered(messages), 'THREAD (3)(2 1)')
})

test('REFERENCES: parents from References, and from In-Reply-To when there are none', () => {
  const messages = mailbox(
    { id: '<a@x>', subject: 'hello', sent: 1 },
    { id: '<b@x>', references: '<a@x>', subject: 'Re: hello', sent: 2 },
    { id: '<c@x>', references: '<a@x> <b@x>', subject: 'Re: hello', sent: 3 },
    { id: '<d@x>', inReplyTo: '<a@x>', subject: 'Re: hello', sent: 4 },
    // References with no identifier in it: In-Reply-To counts.
    { id: '<e@x>', references: 'nothing here', inReplyTo: '<d@x>', sent: 5 },
    // Both: In-Reply-To is not read.
    { id: '<f@x>', references: '<b@x>', inReplyTo: '<d@x>', sent: 6 },
  )
  assert.equal(references(messages), 'THREAD (1 (2 (3)(6))(4 5))')
  assert.deepEqual(threadReferences(messages.slice(0, 2), 'uid'), [
    { message: 101, children: [{ message: 102, children: [] }] },
  ])
  assert.equal(references([]), 'THREAD')
})

test('REFERENCES: siblings are in sent-date order, ties by sequence number', () => {
  const messages = mailbox(
    { id: '<a@x>', sent: 1 },
    { id: '<b@x>', references: '<a@x>', sent: 9 },
    { id: '<c@x>', references: '<a@x>', sent: 5 },
    { id: '<d@x>', references: '<a@x>', sent: 5 },
    { id: '<e@x>', sent: 0 },
  )
  assert.equal(references(messages), 'THREAD (5)(1 (3)(4)(2))')
})

test('REFERENCES: a missing parent is a dummy; pruning keeps it only over two or more', () => {
  const messages = mailbox(
    { id: '<1@x>', references: '<lost@x>', subject: 'Re: lost', sent: 2 },
    { id: '<2@x>', references: '<lost@x>', subject: 'Re: lost', sent: 1 },
    { id: '<3@x>', references: '<gone@x>', subject: 'other', sent: 3 },
    // Dummies in the middle of a chain go, their children move up.
    { id: '<4@x>', subject: 'chain', sent: 4 },
    { id: '<5@x>', references: '<4@x> <m1@x> <m2@x>', subject: 'Re: chain', sent: 5 },
    { id: '<6@x>', references: '<4@x> <m1@x>', subject: 'Re: chain', sent: 6 },
  )
  assert.equal(references(messages), 'THREAD ((2)(1))(3)(4 (5)(6))')
  const [dummy] = threadReferences(messages)
  assert.deepEqual(dummy, {
    message: null,
    children: [
      { message: 2, children: [] },
      { message: 1, children: [] },
    ],
  })
})

test('REFERENCES: a top-level dummy whose other children were dummies gives way', () => {
  const messages = mailbox(
    { id: '<z@x>', references: '<p@x>', subject: 'one', sent: 1 },
    // <z> has a parent already, so <L> gets no child: a childless dummy under <D>.
    { id: '<y@x>', references: '<D@x> <L@x> <z@x>', subject: 'two', sent: 2 },
    { id: '<m@x>', references: '<D@x>', subject: 'three', sent: 3 },
  )
  // Pruned top-down, <D> would keep its two children, then lose <L> and be left over one
  // message, which the response cannot express; bottom-up, 3 takes its place.
  assert.equal(references(messages), 'THREAD (1 2)(3)')
  // A message whose last reference is itself loses the parent its other references gave it.
  const self = mailbox(
    { id: '<1@x>', references: '<top@x> <1@x>', subject: 'a', sent: 1 },
    { id: '<2@x>', references: '<top@x>', subject: 'b', sent: 2 },
  )
  assert.equal(references(self), 'THREAD (1)(2)')
  const alone = mailbox({ id: '<1@x>', references: '<top@x> <leaf@x>', sent: 1 })
  assert.equal(references(alone), 'THREAD (1)')
  const twoLevels = mailbox(
    { id: '<1@x>', references: '<top@x> <mid@x>', sent: 1 },
    { id: '<2@x>', references: '<top@x> <mid@x>', sent: 2 },
  )
  assert.equal(references(twoLevels), 'THREAD ((1)(2))')
})

test('REFERENCES: an existing parent link is kept in step 1.A, replaced in step 1.B', () => {
  const messages = mailbox(
    // <b>'s parent becomes <x> through 1's References…
    { id: '<c@x>', references: '<x@x> <b@x>', subject: 'one', sent: 1 },
    // …then <b> arrives and says its parent is <a>: that wins.
    { id: '<b@x>', references: '<a@x>', subject: 'two', sent: 2 },
    // 3's References (perhaps truncated, in the wrong order) do not move <b> again.
    { id: '<d@x>', references: '<y@x> <b@x>', subject: 'three', sent: 3 },
  )
  // <a> and <x> are dummies with one message under them, so 2 heads its thread.
  assert.equal(references(messages), 'THREAD (2 (1)(3))')
})

test('REFERENCES: links that would make a loop are not made', () => {
  const twoWay = mailbox(
    { id: '<a@x>', references: '<b@x>', sent: 1 },
    { id: '<b@x>', references: '<a@x>', sent: 2 },
  )
  assert.equal(references(twoWay), 'THREAD (2 1)')
  const self = mailbox({ id: '<a@x>', references: '<a@x>', sent: 1 })
  assert.equal(references(self), 'THREAD (1)')
  const circle = mailbox(
    { id: '<a@x>', references: '<c@x> <b@x>', sent: 1 },
    { id: '<b@x>', references: '<a@x> <c@x>', sent: 2 },
    { id: '<c@x>', references: '<b@x> <a@x>', sent: 3 },
  )
  const result = threadReferences(circle)
  assert.equal(formatThreadResponse(result).split(' ').length - 1, 3)
  assert.equal(countMessages(result), 3)
  const repeated = mailbox(
    { id: '<a@x>', sent: 1 },
    { id: '<b@x>', references: '<a@x> <a@x> <b@x> <a@x>', sent: 2 },
  )
  assert.equal(references(repeated), 'THREAD (1 2)')
})

test('REFERENCES: duplicate and missing Message-IDs get identifiers of their own', () => {
  const messages = mailbox(
    { id: '<a@x>', subject: 'one', sent: 1 },
    { id: '<a@x>', subject: 'two', sent: 2 },
    { id: '<b@x>', references: '<a@x>', subject: 'three', sent: 3 },
    { subject: 'four', sent: 4 },
    { id: 'garbage', subject: 'five', sent: 5 },
    { references: '<garbage>', subject: 'six', sent: 6 },
  )
  // Only the first <a@x> is the one referenced; messages without one are never anyone's parent.
  assert.equal(references(messages), 'THREAD (1 3)(2)(4)(5)(6)')
})

test('REFERENCES: quoting in Message IDs does not matter, case does', () => {
  const messages = mailbox(
    { id: '<"01KF8JCEOCBS0045PS"@xxx.yyy.com>', sent: 1 },
    { id: '<b@x>', references: '<01KF8JCEOCBS0045PS@xxx.yyy.com>', sent: 2 },
    { id: '<c@x>', references: '<01kf8jceocbs0045ps@xxx.yyy.com>', sent: 3 },
  )
  assert.equal(references(messages), 'THREAD (1 2)(3)')
  assert.equal(normalizeMessageId('<"a\\"b"@x>'), '<a"b@x>')
  assert.equal(normalizeMessageId('<plain@x>'), '<plain@x>')
})

test('REFERENCES step 5: thread heads with the same base subject are gathered', () => {
  // A reply without references goes under the original.
  const reply = mailbox(
    { id: '<a@x>', subject: 'topic', sent: 1 },
    { id: '<b@x>', subject: 'Re: Topic', sent: 2 },
  )
  assert.equal(references(reply), 'THREAD (1 2)')
  // Even when it is older: the message that is not a reply is the one in the subject table.
  const older = mailbox(
    { id: '<a@x>', subject: 'Re: topic', sent: 1 },
    { id: '<b@x>', subject: 'topic', sent: 2 },
  )
  assert.equal(references(older), 'THREAD (2 1)')
  // Neither a reply of the other: siblings under a new dummy.
  const same = mailbox(
    { id: '<a@x>', subject: 'topic', sent: 1 },
    { id: '<b@x>', subject: 'topic', sent: 2 },
    { id: '<c@x>', subject: 'Fwd: topic', sent: 3 },
  )
  assert.equal(references(same), 'THREAD ((1)(2)(3))')
  // A dummy head is preferred, and takes the other heads as children.
  const dummy = mailbox(
    { id: '<a@x>', references: '<lost@x>', subject: 'Re: s', sent: 2 },
    { id: '<b@x>', references: '<lost@x>', subject: 'Re: s', sent: 3 },
    { id: '<c@x>', subject: 's', sent: 1 },
  )
  assert.equal(references(dummy), 'THREAD ((3)(1)(2))')
  // Two dummies: their children become siblings.
  const dummies = mailbox(
    { id: '<a@x>', references: '<p@x>', subject: 'Re: s', sent: 1 },
    { id: '<b@x>', references: '<p@x>', subject: 'Re: s', sent: 4 },
    { id: '<c@x>', references: '<q@x>', subject: 'Re: s', sent: 2 },
    { id: '<d@x>', references: '<q@x>', subject: 'Re: s', sent: 3 },
  )
  assert.equal(references(dummies), 'THREAD ((1)(3)(4)(2))')
  // Empty base subjects are never gathered.
  const empty = mailbox({ id: '<a@x>', sent: 1 }, { id: '<b@x>', subject: 'Re:', sent: 2 })
  assert.equal(references(empty), 'THREAD (1)(2)')
  // Only thread heads are gathered, by the head's subject.
  const heads = mailbox(
    { id: '<a@x>', subject: 'one', sent: 1 },
    { id: '<b@x>', references: '<a@x>', subject: 'two', sent: 2 },
    { id: '<c@x>', subject: 'two', sent: 3 },
  )
  assert.equal(references(heads), 'THREAD (1 2)(3)')
})

test('REFERENCES: a thread head that is a dummy sorts by its earliest child', () => {
  const messages = mailbox(
    { id: '<a@x>', references: '<p@x>', subject: 'x', sent: 50 },
    { id: '<b@x>', references: '<p@x>', subject: 'y', sent: 5 },
    { id: '<c@x>', subject: 'z', sent: 10 },
    { id: '<d@x>', subject: 'w', sent: 1 },
  )
  assert.equal(references(messages), 'THREAD (4)((2)(1))(3)')
})

test('a References chain of 10,000 identifiers neither overflows the stack nor takes long', () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => `<m${i}@x>`)
  const started = performance.now()
  // One message at the end of a chain of 10,000 missing ancestors.
  const lone = mailbox({ id: '<last@x>', references: ids.join(' '), sent: 1 })
  assert.equal(references(lone), 'THREAD (1)')
  // The first of the chain is a message: the others hang under it, the dummies between gone.
  const anchored = mailbox(
    { id: ids[0], sent: 1 },
    { id: '<last@x>', references: ids.join(' '), sent: 2 },
  )
  assert.equal(references(anchored), 'THREAD (1 2)')
  // 10,000 messages each replying to the one before: a tree 10,000 deep.
  const chain = mailbox(
    ...ids.map((id, i) => ({
      id,
      sent: i,
      subject: i === 0 ? 'deep' : 'Re: deep',
      ...(i === 0 ? {} : { inReplyTo: ids[i - 1] }),
    })),
  )
  const deep = threadReferences(chain)
  assert.equal(depth(deep), 10_000)
  const numbers = Array.from({ length: 10_000 }, (_, i) => i + 1).join(' ')
  assert.equal(formatThreadResponse(deep), `THREAD (${numbers})`)
  // The same chain, with full References on each of the last hundred messages.
  const withReferences = chain.map((message, i) =>
    i < 9_900 ? message : { ...message, references: ids.slice(0, i).join(' ') },
  )
  assert.equal(depth(threadReferences(withReferences)), 10_000)
  const flat = formatThreadResponse(threadOrderedSubject(chain))
  assert.ok(flat.startsWith('THREAD (1 (2)(3)(4)'))
  assert.ok(flat.endsWith('(9999)(10000))'))
  assert.ok(performance.now() - started < 10_000)
})

function countMessages(threads: ThreadNode[]): number {
  let count = 0
  const stack = [...threads]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node.message !== null) count += 1
    stack.push(...node.children)
  }
  return count
}

function depth(threads: ThreadNode[]): number {
  let deepest = 0
  const stack = threads.map((node) => ({ node, level: 1 }))
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    deepest = Math.max(deepest, item.level)
    for (const child of item.node.children) stack.push({ node: child, level: item.level + 1 })
  }
  return deepest
}
