import {
  MAX_MAILBOX_DEPTH,
  MAX_MAILBOX_NAME_OCTETS,
  type Mailbox,
  type MailboxRole,
  parentNames,
} from '../../store/index.ts'
import { type CommandReader, formatString, ParseError } from '../proto/index.ts'
import { readStatusItems, type StatusItem } from './commands/status.ts'
import { decodeWireName, HIERARCHY_DELIMITER, wireName } from './mailbox-name.ts'

// LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.9) with LIST-EXTENDED (RFC 5258), LIST-STATUS
// (RFC 5819) and SPECIAL-USE (RFC 6154): the command's arguments, pattern matching, and which
// names are listed with which attributes. Everything here is pure; commands/list.ts and
// commands/lsub.ts fetch the mailboxes and subscriptions and send the lines.

const OPEN_PAREN = 0x28
const DQUOTE = 0x22

/** A LIST command, its names decoded (store form: Unicode, "/"), patterns not yet joined. */
export interface ListRequest {
  reference: string
  /** At least one; more only in the extended form (RFC 5258 §3: "(" pattern *(SP pattern) ")"). */
  patterns: string[]
  /** RFC 5258 §3.1 selection options; REMOTE is accepted and changes nothing (no remote mailboxes). */
  selectSubscribed: boolean
  /** RFC 6154 §6 (SPECIAL-USE selection option): only mailboxes with a special use. */
  selectSpecialUse: boolean
  recursiveMatch: boolean
  /** \Subscribed is returned (RFC 5258 §3.2; implied by the SUBSCRIBED selection option). */
  returnSubscribed: boolean
  /** RFC 5819: a STATUS response after each selectable mailbox's LIST response. */
  returnStatus: StatusItem[] | null
}

/**
 * list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
 * (RFC 5258 §6; RFC 9051 §9), read past the command name. Unknown options are BAD (RFC 5258
 * §3), and so is RECURSIVEMATCH without a base option to recurse on (§3.1; SPECIAL-USE is an
 * independent option, RFC 6154 §6). CHILDREN and SPECIAL-USE return options are accepted: their
 * attributes are always returned.
 */
export function readListRequest(reader: CommandReader, utf8: boolean): ListRequest {
  const request: ListRequest = {
    reference: '',
    patterns: [],
    selectSubscribed: false,
    selectSpecialUse: false,
    recursiveMatch: false,
    returnSubscribed: false,
    returnStatus: null,
  }
  reader.space()
  if (reader.peek() === OPEN_PAREN) {
    for (const option of reader.list((item) => item.keyword())) {
      if (option === 'SUBSCRIBED') request.selectSubscribed = true
      else if (option === 'SPECIAL-USE') request.selectSpecialUse = true
      else if (option === 'RECURSIVEMATCH') request.recursiveMatch = true
      else if (option !== 'REMOTE') throw new ParseError(`unknown LIST selection option ${option}`)
    }
    reader.space()
  }
  request.reference = decodePattern(reader.astring(), utf8)
  reader.space()
  if (reader.peek() === OPEN_PAREN) {
    request.patterns = reader.list((item) => decodePattern(readListMailbox(item), utf8))
    if (request.patterns.length === 0) throw new ParseError('expected at least one pattern')
  } else {
    request.patterns = [decodePattern(readListMailbox(reader), utf8)]
  }
  if (reader.take(' ')) {
    if (reader.keyword() !== 'RETURN') throw new ParseError('expected RETURN')
    reader.space()
    reader.list((item) => readReturnOption(item, request))
  }
  reader.end()
  if (request.recursiveMatch && !request.selectSubscribed) {
    throw new ParseError('RECURSIVEMATCH needs the SUBSCRIBED selection option')
  }
  if (request.selectSubscribed) request.returnSubscribed = true // RFC 5258 §3.1
  return request
}

/** return-option = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" / "STATUS" SP "(" status-att… ")" */
function readReturnOption(reader: CommandReader, request: ListRequest): void {
  const option = reader.keyword()
  if (option === 'SUBSCRIBED') request.returnSubscribed = true
  else if (option === 'STATUS') {
    reader.space()
    request.returnStatus = readStatusItems(reader)
  } else if (option !== 'CHILDREN' && option !== 'SPECIAL-USE') {
    throw new ParseError(`unknown LIST return option ${option}`)
  }
}

/**
 * list-mailbox = 1*list-char / string, where list-char = ATOM-CHAR / "%" / "*" / "]"
 * (RFC 9051 §9): an atom that may hold the wildcards.
 */
export function readListMailbox(reader: CommandReader): Buffer {
  if (reader.peek() === DQUOTE || reader.isAtLiteral()) return reader.string()
  const octets: number[] = []
  for (let octet = reader.peek(); isListChar(octet); octet = reader.peek()) {
    reader.take(String.fromCharCode(octet))
    octets.push(octet)
  }
  if (octets.length === 0) throw new ParseError('expected a mailbox name or pattern')
  return Buffer.from(octets)
}

function isListChar(octet: number): boolean {
  if (octet <= 0x20 || octet >= 0x7f) return false
  return !'(){"\\'.includes(String.fromCharCode(octet))
}

/** A reference or pattern as the store spells names: decoded and in NFC, like stored names. */
function decodePattern(octets: Buffer, utf8: boolean): string {
  return decodeWireName(octets, utf8).normalize('NFC')
}

/**
 * The canonical pattern (RFC 9051 §6.3.9): the reference and the pattern joined. Every name
 * lives in one namespace, so the reference is simply prefixed; how a reference that does not end
 * with the delimiter combines is left to the server, and this is what Dovecot does too.
 */
export function joinPattern(reference: string, pattern: string): string {
  return reference + pattern
}

/**
 * A matcher for a canonical pattern (RFC 9051 §6.3.9): "*" matches any run of characters, "%"
 * any run without the hierarchy delimiter; other characters match themselves, except that the
 * INBOX level matches case-insensitively ("inbox/%" lists INBOX's children). Runs of wildcards
 * collapse into one, and the match walks all states at once, so its cost is bounded by the
 * pattern's length times the name's, whatever the pattern.
 */
export function compilePattern(pattern: string): (name: string) => boolean {
  let collapsed = ''
  let literals = 0
  for (const char of pattern) {
    const last = collapsed.at(-1)
    if (isWildcard(char) && last !== undefined && isWildcard(last)) {
      if (char === '*') collapsed = `${collapsed.slice(0, -1)}*`
    } else {
      collapsed += char
      if (!isWildcard(char)) literals += char.length
    }
  }
  return (name) => literals <= name.length && matches(collapsed, name)
}

function isWildcard(char: string): boolean {
  return char === '*' || char === '%'
}

function matches(pattern: string, name: string): boolean {
  const inboxLength = name === 'INBOX' || name.startsWith(`INBOX${HIERARCHY_DELIMITER}`) ? 5 : 0
  let states = new Uint8Array(pattern.length + 1)
  let next = new Uint8Array(pattern.length + 1)
  states[0] = 1
  skipWildcards(pattern, states)
  for (let at = 0; at < name.length; at += 1) {
    const char = name[at] as string
    next.fill(0)
    let isAlive = false
    for (let state = 0; state < pattern.length; state += 1) {
      if (states[state] === 0) continue
      const expected = pattern[state] as string
      if (expected === '*' || (expected === '%' && char !== HIERARCHY_DELIMITER)) {
        next[state] = 1
        isAlive = true
      } else if (expected === char || (at < inboxLength && asciiUpper(expected) === char)) {
        next[state + 1] = 1
        isAlive = true
      }
    }
    if (!isAlive) return false
    skipWildcards(pattern, next)
    const previous = states
    states = next
    next = previous
  }
  return states[pattern.length] === 1
}

/** A wildcard may match nothing: each state before one also stands after it. */
function skipWildcards(pattern: string, states: Uint8Array): void {
  for (let state = 0; state < pattern.length; state += 1) {
    if (states[state] === 1 && isWildcard(pattern[state] as string)) states[state + 1] = 1
  }
}

function asciiUpper(char: string): string {
  return char >= 'a' && char <= 'z' ? char.toUpperCase() : char
}

/** RFC 6154 §2: the attribute of each special-use role. */
const SPECIAL_USE: Readonly<Record<MailboxRole, string | null>> = {
  inbox: null,
  sent: '\\Sent',
  drafts: '\\Drafts',
  trash: '\\Trash',
  junk: '\\Junk',
  archive: '\\Archive',
}

/** RFC 6154 §2 use-attr → role; \All, \Flagged (virtual mailboxes) and others have none here. */
export const ROLE_BY_USE: ReadonlyMap<string, MailboxRole> = new Map(
  Object.entries(SPECIAL_USE).flatMap(([role, use]) =>
    use === null ? [] : [[use.toLowerCase(), role as MailboxRole] as const],
  ),
)

/** One LIST or LSUB response. */
export interface ListEntry {
  name: string
  /** The mailbox; null for a name that is only subscribed, or the root of `LIST "" ""`. */
  mailbox: Mailbox | null
  attributes: string[]
  /** RFC 5258 §3.5 CHILDINFO: the selection criteria that some descendant matches. */
  childInfo: string[]
}

/** RFC 9051 §6.3.9: `LIST "" ""` asks for the delimiter and the root, which is not a mailbox. */
const ROOT: ListEntry = { name: '', mailbox: null, attributes: ['\\Noselect'], childInfo: [] }

/** Whether the request only asks for the delimiter (and needs nothing from the store). */
export function isRootRequest(request: ListRequest): boolean {
  return request.patterns.length === 1 && request.patterns[0] === ''
}

/**
 * The LIST responses for `request`, INBOX first and then in name order, each name once however
 * many patterns it matches (RFC 5258 §3).
 *
 * Without selection options every mailbox whose name matches is listed. SUBSCRIBED lists the
 * subscribed names instead, those with no mailbox as \NonExistent (RFC 5258 §3.1); SPECIAL-USE
 * keeps only mailboxes with a special use (RFC 6154). With RECURSIVEMATCH a matching name is
 * also listed when only a descendant meets the selection, with CHILDINFO saying so, whatever the
 * descendant's own name (RFC 5258 §3.5).
 *
 * Attributes: \HasChildren or \HasNoChildren always (RFC 9051 §7.3.1 asks it of IMAP4rev2, and
 * RFC 3348 allows it in IMAP4rev1); \NoInferiors instead where the store's limits leave no room
 * for a child; the special use of the mailbox's role always (RFC 6154 §2); \Subscribed when asked
 * for. Parents always exist in this store (CREATE and RENAME make them), so no level is \Noselect.
 */
export function listEntries(
  request: ListRequest,
  mailboxes: readonly Mailbox[],
  subscriptions: readonly string[],
): ListEntry[] {
  if (isRootRequest(request)) return [ROOT]
  const matchers = request.patterns.map((pattern) =>
    compilePattern(joinPattern(request.reference, pattern)),
  )
  const byName = new Map(mailboxes.map((mailbox) => [mailbox.name, mailbox]))
  const subscribed = new Set(subscriptions)
  const withChildren = new Set(mailboxes.flatMap((mailbox) => parentNames(mailbox.name)))
  const isSelected = (name: string): boolean => {
    if (request.selectSubscribed ? !subscribed.has(name) : !byName.has(name)) return false
    return !request.selectSpecialUse || hasSpecialUse(byName.get(name))
  }
  const names = new Set(byName.keys())
  if (request.selectSubscribed) for (const name of subscribed) names.add(name)
  const withSelectedDescendants = new Set<string>()
  if (request.recursiveMatch) {
    for (const name of names) {
      if (!isSelected(name)) continue
      for (const parent of parentNames(name)) withSelectedDescendants.add(parent)
    }
    for (const name of withSelectedDescendants) names.add(name)
  }
  const entries: ListEntry[] = []
  for (const name of sortNames(names)) {
    const hasSelectedDescendants = withSelectedDescendants.has(name)
    if (!isSelected(name) && !hasSelectedDescendants) continue
    if (!matchers.some((match) => match(name))) continue
    const mailbox = byName.get(name) ?? null
    const attributes: string[] = []
    if (mailbox === null) attributes.push('\\NonExistent') // RFC 5258 §3: implies \Noselect
    if (request.returnSubscribed && subscribed.has(name)) attributes.push('\\Subscribed')
    if (mailbox !== null && !mayHaveChildren(name)) attributes.push('\\NoInferiors')
    else attributes.push(withChildren.has(name) ? '\\HasChildren' : '\\HasNoChildren')
    const use = mailbox?.role ? SPECIAL_USE[mailbox.role] : null
    if (use !== null) attributes.push(use)
    const childInfo = hasSelectedDescendants ? ['SUBSCRIBED'] : []
    entries.push({ name, mailbox, attributes, childInfo })
  }
  return entries
}

function hasSpecialUse(mailbox: Mailbox | undefined): boolean {
  return mailbox?.role !== undefined && mailbox.role !== null && SPECIAL_USE[mailbox.role] !== null
}

/** Whether the store could create a child: not at its depth limit, nor at its length limit. */
function mayHaveChildren(name: string): boolean {
  const depth = name.split(HIERARCHY_DELIMITER).length
  return depth < MAX_MAILBOX_DEPTH && Buffer.byteLength(name) + 2 <= MAX_MAILBOX_NAME_OCTETS
}

/**
 * The LSUB responses (RFC 3501 §6.3.9): the subscribed names that match, listed whether their
 * mailbox exists or not (a missing one as \Noselect: it cannot be selected). When the pattern
 * ends with "%", a level above a subscribed name that matches but is not subscribed itself is
 * listed too, as \Noselect (RFC 3501 §6.3.9: "foo/bar" subscribed, "foo" not, "%" gives "foo").
 */
export function lsubEntries(
  reference: string,
  pattern: string,
  mailboxes: readonly Mailbox[],
  subscriptions: readonly string[],
): ListEntry[] {
  const canonical = joinPattern(reference, pattern)
  const match = compilePattern(canonical)
  const byName = new Map(mailboxes.map((mailbox) => [mailbox.name, mailbox]))
  const subscribed = new Set(subscriptions)
  const entries = new Map<string, ListEntry>()
  for (const name of subscribed) {
    if (match(name)) {
      const mailbox = byName.get(name) ?? null
      const attributes = mailbox === null ? ['\\Noselect'] : []
      entries.set(name, { name, mailbox, attributes, childInfo: [] })
    }
    if (!canonical.endsWith('%')) continue
    for (const parent of parentNames(name)) {
      if (subscribed.has(parent) || entries.has(parent) || !match(parent)) continue
      const mailbox = byName.get(parent) ?? null
      entries.set(parent, { name: parent, mailbox, attributes: ['\\Noselect'], childInfo: [] })
    }
  }
  return sortNames(entries.keys()).map((name) => entries.get(name) as ListEntry)
}

/** INBOX first, then by UTF-16 code units (the order does not matter to clients, but is stable). */
function sortNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => {
    if (a === b) return 0
    if (a === 'INBOX') return -1
    if (b === 'INBOX') return 1
    return a < b ? -1 : 1
  })
}

/**
 * `LIST (attributes) "/" name [extended data]` or the same for LSUB, as it follows "* "
 * (RFC 9051 §7.3.1, RFC 5258 §6 mbox-list-extended).
 */
export function formatListEntry(command: 'LIST' | 'LSUB', entry: ListEntry, utf8: boolean): string {
  const name = formatString(wireName(entry.name, utf8))
  let line = `${command} (${entry.attributes.join(' ')}) "${HIERARCHY_DELIMITER}" ${name}`
  if (entry.childInfo.length > 0) {
    line += ` ("CHILDINFO" (${entry.childInfo.map((criterion) => `"${criterion}"`).join(' ')}))`
  }
  return line
}
