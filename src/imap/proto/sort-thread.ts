/**
 * SORT and THREAD on the wire (RFC 5256, with the DISPLAYFROM and DISPLAYTO keys of RFC 5957):
 * reading the sort criteria and the threading algorithm, and writing the SORT and THREAD
 * responses. The charset and search keys that follow are the search parser's business, and
 * the sorting and threading themselves are the server's (src/imap/server/sort.ts, thread.ts).
 *
 * @see https://www.rfc-editor.org/rfc/rfc5256
 * @see https://www.rfc-editor.org/rfc/rfc5957
 */
import { type CommandReader, ParseError } from './command-reader.ts'

/** sort-key (RFC 5256 §5), and DISPLAYFROM / DISPLAYTO (RFC 5957 §5). */
export type SortKey =
  | 'ARRIVAL'
  | 'CC'
  | 'DATE'
  | 'FROM'
  | 'SIZE'
  | 'SUBJECT'
  | 'TO'
  | 'DISPLAYFROM'
  | 'DISPLAYTO'

/** One sort-criterion: a key, in descending order when REVERSE came before it. */
export interface SortCriterion {
  key: SortKey
  isReverse: boolean
}

/** thread-alg (RFC 5256 §5): the two algorithms RFC 5256 §3 defines. */
export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES'

/**
 * One message of a thread tree, or a dummy (message null) that holds siblings whose parent is
 * not among the messages, as REFERENCES makes at the top level. `message` is the sequence
 * number or the UID, whichever the command asked for.
 */
export interface ThreadNode {
  message: number | null
  children: ThreadNode[]
}

const SORT_KEYS: ReadonlySet<string> = new Set<SortKey>([
  'ARRIVAL',
  'CC',
  'DATE',
  'FROM',
  'SIZE',
  'SUBJECT',
  'TO',
  'DISPLAYFROM',
  'DISPLAYTO',
])

function isSortKey(keyword: string): keyword is SortKey {
  return SORT_KEYS.has(keyword)
}

/**
 * The sort criteria of SORT and UID SORT, keywords in any case. REVERSE applies to the key right
 * after it, and only to that one.
 */
// sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"   (RFC 5256 §5)
// sort-criterion = ["REVERSE" SP] sort-key
// sort-key = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO"
// sort-key =/ "DISPLAYFROM" / "DISPLAYTO"   (RFC 5957 §5)
export function parseSortCriteria(reader: CommandReader): SortCriterion[] {
  const criteria = reader.list((item) => {
    let keyword = item.keyword()
    const isReverse = keyword === 'REVERSE'
    if (isReverse) {
      item.space()
      keyword = item.keyword()
    }
    if (!isSortKey(keyword)) {
      throw new ParseError(
        'expected a sort key: ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM or DISPLAYTO',
      )
    }
    return { key: keyword, isReverse }
  })
  if (criteria.length === 0) throw new ParseError('expected at least one sort criterion')
  return criteria
}

/**
 * The threading algorithm of THREAD and UID THREAD, in any case. Any other atom is one this
 * server does not implement, which RFC 5256 §3 answers with BAD: the ParseError says so.
 */
// thread-alg = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext   (RFC 5256 §5)
// thread-alg-ext = atom
export function parseThreadAlgorithm(reader: CommandReader): ThreadAlgorithm {
  const keyword = reader.keyword()
  if (keyword === 'ORDEREDSUBJECT' || keyword === 'REFERENCES') return keyword
  throw new ParseError('unsupported threading algorithm, expected ORDEREDSUBJECT or REFERENCES')
}

/**
 * The SORT response without its "* ": the numbers in sorted order, "SORT" alone when there are
 * none.
 */
// sort-data = "SORT" *(SP nz-number)   (RFC 5256 §5)
export function formatSortResponse(numbers: readonly number[]): string {
  return numbers.length === 0 ? 'SORT' : `SORT ${numbers.join(' ')}`
}

/**
 * The THREAD response without its "* ": one parenthesized list per thread. Within a thread, a
 * message with one child is followed by that child in the same list; a message with several
 * children is followed by one nested list per child. A dummy is not written: its children stand
 * in its place ("((3)(5))" is a thread of two siblings whose parent is missing). A dummy with
 * no message under it is left out.
 *
 * Written with an explicit stack: a thread of a 10,000-message chain is one deep tree.
 */
// thread-data = "THREAD" [SP 1*thread-list]   (RFC 5256 §5)
// thread-list = "(" (thread-members / thread-nested) ")"
// thread-members = nz-number *(SP nz-number) [SP thread-nested]
// thread-nested = 2*thread-list
export function formatThreadResponse(threads: readonly ThreadNode[]): string {
  const isEmpty = emptyDummies(threads)
  const kept = (nodes: readonly ThreadNode[]) => nodes.filter((node) => !isEmpty.has(node))
  const out: string[] = ['THREAD']
  const roots = kept(threads)
  if (roots.length > 0) out.push(' ')
  // Pending output, last first: literal text, or a node whose thread-members are to be written.
  const stack: Array<string | ThreadNode> = []
  for (let i = roots.length - 1; i >= 0; i -= 1) stack.push(')', roots[i] as ThreadNode, '(')
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item === 'string') {
      out.push(item)
      continue
    }
    const children = kept(item.children)
    const next: Array<string | ThreadNode> = []
    if (item.message !== null) {
      next.push(String(item.message))
      if (children.length > 0) next.push(' ')
    }
    const [only] = children
    if (children.length === 1 && only !== undefined) next.push(only)
    else for (const child of children) next.push('(', child, ')')
    for (let i = next.length - 1; i >= 0; i -= 1) stack.push(next[i] as string | ThreadNode)
  }
  return out.join('')
}

/** The dummies with no message anywhere under them, found bottom-up without recursion. */
function emptyDummies(threads: readonly ThreadNode[]): Set<ThreadNode> {
  const order: ThreadNode[] = []
  const stack = [...threads]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    order.push(node)
    for (const child of node.children) stack.push(child)
  }
  const empty = new Set<ThreadNode>()
  for (let i = order.length - 1; i >= 0; i -= 1) {
    const node = order[i] as ThreadNode
    if (node.message === null && node.children.every((child) => empty.has(child))) empty.add(node)
  }
  return empty
}
