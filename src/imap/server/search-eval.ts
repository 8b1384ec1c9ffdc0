import type { TextQuery } from '../../store/index.ts'
import {
  formatSequenceSet,
  formatString,
  resolveSequenceSet,
  type SearchKey,
  type SearchReturnOption,
} from '../proto/index.ts'

/**
 * SEARCH evaluated over a mailbox's messages as the session holds them, and its responses:
 * SEARCH (RFC 3501 §7.2.5, with RFC 7162 §3.1.5 MODSEQ) and ESEARCH (RFC 4731, RFC 9051
 * §7.3.4). Pure: the text keys' hits come from the caller, which asks the store for them first
 * (textQueries), so the evaluation itself needs nothing but memory.
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-6.4.4
 */

/** What SEARCH looks at of one message. */
export interface SearchCandidate {
  seq: number
  uid: number
  modseq: number
  flags: readonly string[]
  /** \Recent in this session (RFC 3501 RECENT, NEW, OLD). */
  isRecent: boolean
  internalDate: Date
  /** The Date header field's time, or null when the message has none that parses. */
  sentDate: Date | null
  /** RFC822.SIZE */
  size: number
}

export interface SearchContext {
  /** The largest sequence number and UID in the mailbox, what "*" stands for; 0 when empty. */
  maxSeq: number
  maxUid: number
  /** The saved result ("$", RFC 5182) as UIDs; empty when none was saved. */
  savedUids: readonly number[]
  /** The UIDs whose text matches each query (see textQueries), computed by the caller. */
  textHits: (query: TextQuery) => ReadonlySet<number>
  /** The current time, for OLDER and YOUNGER (RFC 5032). */
  now: Date
}

type Predicate = (message: SearchCandidate) => boolean

/**
 * The distinct text queries in a key (those under NOT included), in the order written, for the
 * caller to run against the store before evaluateSearch asks for their hits.
 */
export function textQueries(key: SearchKey): TextQuery[] {
  const queries = new Map<string, TextQuery>()
  for (const node of walk(key)) {
    if (node.kind !== 'text') continue
    const id = JSON.stringify([node.query.field, node.query.value])
    if (!queries.has(id)) queries.set(id, node.query)
  }
  return [...queries.values()]
}

/** Whether the key has a MODSEQ criterion anywhere (RFC 7162 §3.1.5: responses carry MODSEQ). */
export function usesModseq(key: SearchKey): boolean {
  for (const node of walk(key)) if (node.kind === 'modseq') return true
  return false
}

/** Every node of a key, parents before children, children left to right; no recursion. */
export function* walk(key: SearchKey): Generator<SearchKey> {
  const stack = [key]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    yield node
    if (node.kind === 'not') stack.push(node.key)
    else if (node.kind === 'or') stack.push(node.right, node.left)
    else if (node.kind === 'and') {
      // A loop, not a spread: a command's keys can outnumber what a call's arguments may be.
      for (let i = node.keys.length - 1; i >= 0; i -= 1) stack.push(node.keys[i] as SearchKey)
    }
  }
}

/** The messages that match `key`, in sequence number order. */
export function evaluateSearch(
  key: SearchKey,
  messages: readonly SearchCandidate[],
  context: SearchContext,
): SearchCandidate[] {
  const matches = compile(key, context)
  return messages.filter(matches).sort((a, b) => a.seq - b.seq)
}

/** The key as a predicate, with sets resolved and text hits looked up once, not per message. */
function compile(key: SearchKey, context: SearchContext): Predicate {
  switch (key.kind) {
    case 'all':
      return () => true
    case 'flag': {
      // RFC 3501 §2.3.2: \Recent is the session's, not a stored flag.
      if (key.flag.toLowerCase() === '\\recent') return (m) => m.isRecent === key.isSet
      // Flags compare case-insensitively (RFC 9051 §2.3.2), as the store keeps them.
      const flag = key.flag.toLowerCase()
      return (m) => m.flags.some((f) => f.toLowerCase() === flag) === key.isSet
    }
    case 'sequence':
    case 'uid': {
      // RFC 5182 §2.1: "$" holds messages, kept here as UIDs, whichever kind of set it stands in.
      if (key.set.kind === 'saved') {
        const saved = new Set(context.savedUids)
        return (m) => saved.has(m.uid)
      }
      // "*" is the largest number in use; in an empty mailbox (0) it matches nothing (RFC 9051
      // §6.4.4). Numbers past the largest match nothing either: SEARCH answers them with no
      // message rather than BAD, as Dovecot does.
      const isUid = key.kind === 'uid'
      const ranges = resolveSequenceSet(key.set, isUid ? context.maxUid : context.maxSeq)
      return (m) => inRanges(ranges, isUid ? m.uid : m.seq)
    }
    case 'date': {
      const day = dayOfKey(key.date)
      const compare =
        key.op === 'before'
          ? (d: number) => d < day
          : key.op === 'on'
            ? (d: number) => d === day
            : (d: number) => d >= day
      // RFC 9051 §6.4.4 compares dates "disregarding time and timezone". The internal date is
      // an instant and there is no per-user time zone to see it in, so its UTC day is used.
      if (key.field === 'internal') return (m) => compare(utcDay(m.internalDate))
      // The Date header's day should be read in the header's own zone, which the stored instant
      // no longer has: the UTC day is used instead, a deviation for messages written near
      // midnight. A message without a usable Date header is compared by its internal date, as
      // Dovecot does, rather than matching no sent-date key at all.
      return (m) => compare(utcDay(m.sentDate ?? m.internalDate))
    }
    case 'size':
      return key.op === 'larger' ? (m) => m.size > key.size : (m) => m.size < key.size
    case 'text': {
      const hits = context.textHits(key.query)
      return (m) => hits.has(m.uid)
    }
    case 'modseq':
      // RFC 7162 §3.1.5: mod-sequences equal to or greater than the value.
      return (m) => m.modseq >= key.modseq
    case 'older':
    case 'younger': {
      // RFC 5032: OLDER n, an internal date more than n seconds ago; YOUNGER n, within n seconds.
      const cutoff = context.now.getTime() - key.seconds * 1000
      return key.kind === 'older'
        ? (m) => m.internalDate.getTime() < cutoff
        : (m) => m.internalDate.getTime() >= cutoff
    }
    case 'not': {
      const inner = compile(key.key, context)
      return (m) => !inner(m)
    }
    case 'or': {
      const left = compile(key.left, context)
      const right = compile(key.right, context)
      return (m) => left(m) || right(m)
    }
    case 'and': {
      const parts = key.keys.map((part) => compile(part, context))
      return (m) => parts.every((part) => part(m))
    }
  }
}

/** Whether `n` is in ascending, disjoint inclusive ranges: a binary search. */
function inRanges(ranges: ReadonlyArray<readonly [number, number]>, n: number): boolean {
  let low = 0
  let high = ranges.length - 1
  while (low <= high) {
    const middle = (low + high) >>> 1
    const [from, to] = ranges[middle] as readonly [number, number]
    if (n < from) high = middle - 1
    else if (n > to) low = middle + 1
    else return true
  }
  return false
}

/** A day as a number that orders as the day does: YYYYMMDD. */
function utcDay(date: Date): number {
  return date.getUTCFullYear() * 10_000 + (date.getUTCMonth() + 1) * 100 + date.getUTCDate()
}

/** "YYYY-MM-DD" (SearchKey's date) as utcDay numbers it. */
function dayOfKey(date: string): number {
  const [year, month, day] = date.split('-').map(Number)
  return (year ?? 0) * 10_000 + (month ?? 0) * 100 + (day ?? 0)
}

/**
 * The untagged SEARCH response (RFC 3501 §7.2.5) without "* " and CRLF, for session.untagged:
 * "SEARCH 2 3 5", UIDs for UID SEARCH. When the key has a MODSEQ criterion and something
 * matched, " (MODSEQ n)" follows with the highest mod-sequence of the matches (RFC 7162 §3.1.5).
 */
export function formatSearchResponse(
  isUid: boolean,
  matches: readonly SearchCandidate[],
  key: SearchKey,
): string {
  let text = 'SEARCH'
  for (const message of matches) text += ` ${isUid ? message.uid : message.seq}`
  if (matches.length > 0 && usesModseq(key)) text += ` (MODSEQ ${highestModseq(matches)})`
  return text
}

/**
 * The untagged ESEARCH response (RFC 4731 §3.1, RFC 9051 §7.3.4) without "* " and CRLF, for
 * session.untagged: `ESEARCH (TAG "a1") UID MIN 2 MAX 9 COUNT 4 ALL 2:4,9`. MIN, MAX and ALL
 * are left out when nothing matched, COUNT never is; ALL is a compact sequence set. An empty
 * option set means ALL. With a MODSEQ criterion and something returned, MODSEQ follows with the
 * highest mod-sequence of the messages returned (RFC 4731 §3.2, RFC 7162 §3.1.5).
 *
 * Null when SAVE is the only option: it suppresses the ESEARCH response (RFC 9051 §6.4.4).
 */
export function formatEsearchResponse(
  tag: string,
  isUid: boolean,
  options: ReadonlySet<SearchReturnOption>,
  matches: readonly SearchCandidate[],
  key: SearchKey,
): string | null {
  const wantsAll = options.size === 0 || options.has('ALL')
  const wantsCount = options.has('COUNT')
  const wantsMin = options.has('MIN')
  const wantsMax = options.has('MAX')
  if (!wantsAll && !wantsCount && !wantsMin && !wantsMax) return null

  const numberOf = (message: SearchCandidate) => (isUid ? message.uid : message.seq)
  const sorted = [...matches].sort((a, b) => numberOf(a) - numberOf(b))
  const first = sorted[0]
  const last = sorted.at(-1)
  let text = `ESEARCH (TAG ${formatString(tag)})`
  if (isUid) text += ' UID'
  if (wantsMin && first !== undefined) text += ` MIN ${numberOf(first)}`
  if (wantsMax && last !== undefined) text += ` MAX ${numberOf(last)}`
  if (wantsCount) text += ` COUNT ${sorted.length}`
  if (wantsAll && sorted.length > 0) text += ` ALL ${compactSet(sorted.map(numberOf))}`
  if (usesModseq(key)) {
    // RFC 4731 §3.2: with MIN and/or MAX alone, the messages those name; else all matches.
    const returned =
      wantsAll || wantsCount
        ? sorted
        : [wantsMin ? first : undefined, wantsMax ? last : undefined].filter(
            (message) => message !== undefined,
          )
    if (returned.length > 0) text += ` MODSEQ ${highestModseq(returned)}`
  }
  return text
}

/**
 * The UIDs that RETURN (… SAVE …) stores as "$" (RFC 9051 §6.4.4.1, RFC 5182 §2.4): with MIN
 * and/or MAX but neither ALL nor COUNT, only the messages those return; otherwise every match.
 * Ascending.
 */
export function uidsToSave(
  options: ReadonlySet<SearchReturnOption>,
  matches: readonly SearchCandidate[],
): number[] {
  const uids = matches.map((message) => message.uid).sort((a, b) => a - b)
  const onlyMinMax =
    (options.has('MIN') || options.has('MAX')) && !options.has('ALL') && !options.has('COUNT')
  if (!onlyMinMax || uids.length === 0) return uids
  const saved = new Set<number>()
  if (options.has('MIN')) saved.add(uids[0] as number)
  if (options.has('MAX')) saved.add(uids.at(-1) as number)
  return [...saved].sort((a, b) => a - b)
}

/** Ascending numbers as a sequence-set with runs as ranges: 2 3 4 9 → "2:4,9". */
function compactSet(numbers: readonly number[]): string {
  const ranges: Array<[number, number]> = []
  for (const n of numbers) {
    const last = ranges.at(-1)
    if (last !== undefined && n <= last[1] + 1) last[1] = Math.max(last[1], n)
    else ranges.push([n, n])
  }
  return formatSequenceSet(ranges)
}

function highestModseq(messages: readonly SearchCandidate[]): number {
  let highest = 0
  for (const message of messages) highest = Math.max(highest, message.modseq)
  return highest
}
