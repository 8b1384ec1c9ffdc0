/**
 * THREAD (RFC 5256 §3): the ORDEREDSUBJECT and REFERENCES algorithms, as trees that
 * formatThreadResponse (src/imap/proto) writes. Nothing here recurses: a References field of
 * ten thousand identifiers makes a chain that deep, and each walk over the trees uses an
 * explicit stack.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5256#section-3
 */
import { parseMessageIds } from '../../mime/index.ts'
import type { ThreadNode } from '../proto/index.ts'
import { type BaseSubject, baseSubject } from './base-subject.ts'
import { compareCodePoints, type SortInput, sentTime } from './sort.ts'

/** What threading needs of one message: what sorting needs, and its References field. */
export interface ThreadInput extends SortInput {
  /** The References field value as a binary string of its octets, null when there is none. */
  references: string | null
}

/** Which number stands for a message in the tree: its sequence number or its UID. */
export type ThreadNumbering = 'seq' | 'uid'

/**
 * ORDEREDSUBJECT (RFC 5256 §3): messages with the same base subject make one thread, in order
 * of sent date. The earliest is the thread's root and every other one is its child, so there
 * are no grandchildren. Threads are in order of their roots' sent dates. Ties of sent dates go
 * to the lower sequence number (RFC 5256 §2.2). Messages without a subject share the empty
 * base subject, so they are one thread.
 */
export function threadOrderedSubject(
  messages: readonly SortInput[],
  numbering: ThreadNumbering = 'seq',
): ThreadNode[] {
  const items = messages.map((message) => ({
    message,
    subject: baseSubject(message.envelope.subject).key,
    time: sentTime(message),
  }))
  items.sort(
    (a, b) =>
      compareCodePoints(a.subject, b.subject) ||
      compareNumbers(a.time, b.time) ||
      a.message.seq - b.message.seq,
  )
  const threads: Array<{ time: number; seq: number; node: ThreadNode }> = []
  let current: ThreadNode | null = null
  let currentSubject = ''
  for (const item of items) {
    const node: ThreadNode = { message: numberOf(item.message, numbering), children: [] }
    if (current !== null && item.subject === currentSubject) {
      current.children.push(node)
      continue
    }
    current = node
    currentSubject = item.subject
    threads.push({ time: item.time, seq: item.message.seq, node })
  }
  threads.sort((a, b) => compareNumbers(a.time, b.time) || a.seq - b.seq)
  return threads.map((thread) => thread.node)
}

/**
 * REFERENCES (RFC 5256 §3): threads from Message-ID, References and In-Reply-To, then threads
 * whose roots have the same base subject gathered together. The steps are numbered as in the
 * RFC. A top-level node with message null is a dummy: its children are siblings whose common
 * parent is not among the messages.
 *
 * Where the RFC leaves a choice:
 * - The References field is read when it holds an identifier; otherwise the first identifier
 *   of In-Reply-To is the only reference (step 1).
 * - Identifiers are compared exactly (case-sensitive) once quoting is removed, so
 *   <"a b"@example.com> and <a\ b@example.com> are one identifier, as the RFC requires.
 * - A message whose last reference would make a loop is left without a parent, its previous
 *   parent link broken all the same (step 1.B: the link is broken "before creating the new
 *   correct one", which the loop check then refuses). Dovecot does the same.
 * - Dummies are pruned bottom-up (step 3): every dummy below the top level gives way to its
 *   children, and a top-level dummy then stays only when it holds two messages or more. Done
 *   top-down, a top-level dummy whose other children were childless dummies would stay with a
 *   single child, which the THREAD response cannot even express.
 */
export function threadReferences(
  messages: readonly ThreadInput[],
  numbering: ThreadNumbering = 'seq',
): ThreadNode[] {
  const containers = linkReferences(messages)
  const roots = pruneDummies(containers)
  // (4) Sort the thread heads by sent date; a dummy by its earliest child.
  for (const root of roots) settle(root)
  roots.sort(compareNodes)
  const threads = gatherSubjects(roots)
  // (6) Sort every set of siblings, children before their parents, so a dummy's earliest child
  // is known before the dummy is placed among the thread heads.
  sortTree(threads)
  return toThreadNodes(threads, numbering)
}

/** A node of the id table of step (1); message null for a dummy. */
interface Container {
  message: ThreadInput | null
  parent: Container | null
  children: Set<Container>
}

/**
 * Step (1): every message in a container, linked to its parent as References (or In-Reply-To)
 * says. Returns every container, dummies included.
 */
function linkReferences(messages: readonly ThreadInput[]): Container[] {
  const containers: Container[] = []
  const byId = new Map<string, Container>()
  const create = (message: ThreadInput | null): Container => {
    const container: Container = { message, parent: null, children: new Set() }
    containers.push(container)
    return container
  }
  const containerOf = (id: string): Container => {
    let container = byId.get(id)
    if (container === undefined) {
      // "If no message can be found with a given Message ID, create a dummy message with this
      // ID. Use this dummy message for all subsequent references to this ID."
      container = create(null)
      byId.set(id, container)
    }
    return container
  }
  // "Only use that Message ID in the first (lowest sequence number) message."
  const ordered = [...messages].sort((a, b) => a.seq - b.seq)
  for (const message of ordered) {
    const [rawId] = parseMessageIds(message.envelope.messageId ?? '')
    const id = rawId === undefined ? undefined : normalizeMessageId(rawId)
    const known = id === undefined ? undefined : byId.get(id)
    let own: Container
    if (id !== undefined && known === undefined) {
      own = create(message)
      byId.set(id, own)
    } else if (known !== undefined && known.message === null) {
      known.message = message // the dummy that earlier references made
      own = known
    } else {
      // No Message-ID, or one an earlier message has: a unique identifier, which is the same
      // as a container nothing can look up.
      own = create(message)
    }

    // (A) Link the references to one another, first to last.
    let previous: Container | null = null
    for (const reference of referencesOf(message)) {
      const container = containerOf(reference)
      // "If a message already has a parent, don't change the existing link", and no loops.
      if (previous !== null && container.parent === null && !isWithin(previous, container)) {
        attach(previous, container)
      }
      previous = container
    }
    // (B) The last reference is this message's parent, whatever parent it had before.
    if (own.parent !== null) detach(own)
    if (previous !== null && !isWithin(previous, own)) attach(previous, own)
  }
  return containers
}

/** The references of step (1): References, or else the first identifier of In-Reply-To. */
function referencesOf(message: ThreadInput): string[] {
  const references = parseMessageIds(message.references ?? '')
  if (references.length > 0) return references.map(normalizeMessageId)
  const [inReplyTo] = parseMessageIds(message.envelope.inReplyTo ?? '')
  return inReplyTo === undefined ? [] : [normalizeMessageId(inReplyTo)]
}

/**
 * A msg-id without its quoting (RFC 5256 §3, REFERENCES: <"01KF8JCEOCBS0045PS"@xxx.yyy.com>
 * and <01KF8JCEOCBS0045PS@xxx.yyy.com> are the same Message ID): quotes dropped, quoted-pairs
 * unescaped.
 */
export function normalizeMessageId(id: string): string {
  if (!id.includes('"') && !id.includes('\\')) return id
  let out = ''
  for (let i = 0; i < id.length; i += 1) {
    const char = id[i]
    if (char === '"') continue
    if (char === '\\' && i + 1 < id.length) i += 1
    out += id[i]
  }
  return out
}

function attach(parent: Container, child: Container): void {
  child.parent = parent
  parent.children.add(child)
}

function detach(child: Container): void {
  child.parent?.children.delete(child)
  child.parent = null
}

/**
 * Whether `node` is `ancestor` or one of its descendants, that is whether making `node` the
 * parent of `ancestor` would make a loop. Two searches run in step, one up from `node` and one
 * down through `ancestor`'s subtree, and the first to finish answers: the cost is twice the
 * smaller of the depth of `node` and the size of that subtree. A new reply has no children, and
 * the identifiers of a long References field are new ones, so both stay small in real mail.
 */
function isWithin(node: Container, ancestor: Container): boolean {
  if (node === ancestor) return true
  let up: Container | null = node
  const down: Container[] = [ancestor]
  for (;;) {
    up = up.parent
    if (up === ancestor) return true
    if (up === null) return false
    const next = down.pop()
    if (next === undefined) return false
    if (next === node) return true
    for (const child of next.children) down.push(child)
  }
}

/** A node of the trees of steps (2) to (6); message null for a dummy. */
interface Node {
  message: ThreadInput | null
  children: Node[]
  /** The sent date and sequence number the node sorts by: a dummy's are its first child's. */
  time: number
  seq: number
  /** The thread's base subject (step 5), computed when first needed. */
  subject: BaseSubject | null
}

function nodeOf(message: ThreadInput | null): Node {
  return {
    message,
    children: [],
    time: message === null ? 0 : sentTime(message),
    seq: message === null ? 0 : message.seq,
    subject: null,
  }
}

/**
 * Steps (2) and (3): the containers without a parent are the thread heads. Each message becomes
 * a child of its nearest ancestor that is a message; one that has only dummies above it goes
 * under the topmost dummy. A top-level dummy with no message under it is dropped, and one with a
 * single message under it gives way to that message.
 */
function pruneDummies(containers: readonly Container[]): Node[] {
  const roots: Node[] = []
  for (const top of containers) {
    if (top.parent !== null) continue
    const head = nodeOf(top.message)
    const stack: Array<{ container: Container; under: Node }> = []
    for (const child of top.children) stack.push({ container: child, under: head })
    for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
      let under = item.under
      if (item.container.message !== null) {
        const node = nodeOf(item.container.message)
        under.children.push(node)
        under = node
      }
      for (const child of item.container.children) stack.push({ container: child, under })
    }
    if (head.message !== null || head.children.length > 1) roots.push(head)
    else if (head.children[0] !== undefined) roots.push(head.children[0])
  }
  return roots
}

/** Sorts a node's children and gives a dummy its first child's sort key. */
function settle(node: Node): void {
  node.children.sort(compareNodes)
  const [first] = node.children
  if (node.message === null && first !== undefined) {
    node.time = first.time
    node.seq = first.seq
  }
}

function compareNodes(a: Node, b: Node): number {
  return compareNumbers(a.time, b.time) || a.seq - b.seq
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Step (5.B.i): the base subject of a thread head, or of its first child for a dummy. */
function threadSubject(node: Node): BaseSubject {
  if (node.subject === null) {
    const message = node.message ?? node.children[0]?.message ?? null
    node.subject = baseSubject(message?.envelope.subject ?? null)
  }
  return node.subject
}

/** Step (5): thread heads with the same base subject gathered under one. */
function gatherSubjects(roots: readonly Node[]): Node[] {
  // (A), (B) One thread head per base subject: a dummy rather than a message, and a message
  // that is not a reply or forward rather than one that is.
  const table = new Map<string, Node>()
  for (const node of roots) {
    const subject = threadSubject(node)
    if (subject.key === '') continue
    const held = table.get(subject.key)
    if (
      held === undefined ||
      (held.message !== null &&
        (node.message === null ||
          (threadSubject(held).isReplyOrForward && !subject.isReplyOrForward)))
    ) {
      table.set(subject.key, node)
    }
  }
  // (C) Merge each other thread head with the one in the table.
  const heads = new Set(roots)
  for (const node of roots) {
    if (!heads.has(node)) continue
    const subject = threadSubject(node)
    if (subject.key === '') continue
    const held = table.get(subject.key)
    if (held === undefined || held === node) continue
    heads.delete(node)
    if (held.message === null && node.message === null) {
      // Both dummies: their children become siblings.
      for (const child of node.children) held.children.push(child)
    } else if (
      held.message === null ||
      (subject.isReplyOrForward && !threadSubject(held).isReplyOrForward)
    ) {
      held.children.push(node)
    } else {
      // Neither is the other's reply: siblings under a new dummy, which takes the table entry's
      // place.
      const dummy = nodeOf(null)
      dummy.children.push(held, node)
      dummy.subject = threadSubject(held)
      heads.delete(held)
      heads.add(dummy)
      table.set(subject.key, dummy)
    }
  }
  return [...heads]
}

/** Step (6): every set of siblings in order, the deepest first, then the thread heads. */
function sortTree(roots: Node[]): void {
  const order: Node[] = []
  const stack = [...roots]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    order.push(node)
    for (const child of node.children) stack.push(child)
  }
  for (let i = order.length - 1; i >= 0; i -= 1) settle(order[i] as Node)
  roots.sort(compareNodes)
}

function toThreadNodes(roots: readonly Node[], numbering: ThreadNumbering): ThreadNode[] {
  const convert = (node: Node): ThreadNode => ({
    message: node.message === null ? null : numberOf(node.message, numbering),
    children: [],
  })
  const result = roots.map(convert)
  const stack = roots.map((node, i) => ({ node, out: result[i] as ThreadNode }))
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    for (const child of item.node.children) {
      const out = convert(child)
      item.out.children.push(out)
      stack.push({ node: child, out })
    }
  }
  return result
}

function numberOf(message: SortInput, numbering: ThreadNumbering): number {
  return numbering === 'uid' ? message.uid : message.seq
}
