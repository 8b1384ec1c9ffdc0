import {
  type HeaderBlock,
  type HeaderField,
  splitHeaderFields,
  unfoldedFieldValue,
} from './header/fields.ts'
import { parseParameterizedValue } from './header/params.ts'
import { DEFAULT_MIME_LIMITS, type MimeLimits } from './limits.ts'

const LF = 0x0a
const CR = 0x0d
const HYPHEN = 0x2d

export interface ContentType {
  /** Lower-cased media type and subtype ("text", "plain"). */
  type: string
  subtype: string
  /** Decoded parameters, names lower-cased (RFC 2231 joined and charset-decoded). */
  params: Map<string, string>
  /** Parameters as IMAP's BODYSTRUCTURE shows them (see header/params.ts). */
  rawParams: Array<[string, string]>
}

/**
 * One part of a message: where its header block and body lie in the original bytes, and what is
 * inside it. Every IMAP section (BODY[1.2.MIME], BODY[3]<0.100>, …) is a slice at these offsets.
 */
export interface MimePart {
  /** Offset of the header block's first octet. */
  headerStart: number
  /** Offset after the header block, blank line included: where the body starts. */
  bodyStart: number
  /** Offset after the body's last octet (for a multipart child, before the CRLF of the delimiter). */
  bodyEnd: number
  header: HeaderBlock
  contentType: ContentType
  /** False when the part had no usable Content-Type and got its default (RFC 2045 §5.2). */
  hasContentType: boolean
  /** The parts of a multipart, in order; empty for every other type. */
  children: MimePart[]
  /** The encapsulated message of a message/rfc822 or message/global part, parsed in turn. */
  message: MimePart | null
}

export interface ParsedMessage {
  bytes: Buffer
  root: MimePart
  partCount: number
  /** True when a limit (depth, parts, header fields) stopped the parser somewhere. */
  isTruncated: boolean
}

interface ParseState {
  bytes: Buffer
  limits: MimeLimits
  partCount: number
  isTruncated: boolean
  /** The boundaries of the multiparts we are inside, outermost first, as "--boundary" octets. */
  boundaries: Buffer[]
}

/**
 * A delimiter line found while scanning: which boundary of the stack it belongs to, whether it
 * closes its multipart, where its line (with the line break before it) starts, and where the
 * next line starts.
 */
interface Delimiter {
  level: number
  isClose: boolean
  /** Offset of the delimiter line itself ("--boundary…"). */
  lineStart: number
  /** Offset of the line break before the delimiter (the part before it ends here). */
  breakStart: number
  /** Offset after the delimiter line. */
  next: number
}

/**
 * Parses a message into its part tree. Never throws on any input and never re-serializes:
 * whatever the bytes, the result slices them, and a malformed message yields a best-effort tree
 * (a multipart without delimiters has no children, a missing close delimiter ends the last part
 * where an enclosing multipart's delimiter or the message ends). One pass over the bytes: each
 * line that starts with "--" is compared with the active boundaries, innermost first.
 */
export function parseMessage(bytes: Buffer, limits: Partial<MimeLimits> = {}): ParsedMessage {
  const state: ParseState = {
    bytes,
    limits: { ...DEFAULT_MIME_LIMITS, ...limits },
    partCount: 0,
    isTruncated: false,
    boundaries: [],
  }
  const { part } = parseEntity(state, 0, 0, DEFAULT_CONTENT_TYPE)
  return { bytes, root: part, partCount: state.partCount, isTruncated: state.isTruncated }
}

/** RFC 2045 §5.2: without a Content-Type, a part is text/plain; charset=us-ascii. */
const DEFAULT_CONTENT_TYPE: ContentType = {
  type: 'text',
  subtype: 'plain',
  params: new Map([['charset', 'us-ascii']]),
  rawParams: [['charset', 'us-ascii']],
}

/** RFC 2046 §5.1.5: in a multipart/digest, a part without a Content-Type is message/rfc822. */
const DIGEST_DEFAULT_CONTENT_TYPE: ContentType = {
  type: 'message',
  subtype: 'rfc822',
  params: new Map(),
  rawParams: [],
}

/**
 * One entity (a message, or a body part) starting at `start`: its header, then its body up to the
 * next delimiter of an enclosing multipart (or the end of the bytes). Returns the part and the
 * delimiter that ended it, which the caller (its multipart) acts on.
 */
function parseEntity(
  state: ParseState,
  start: number,
  depth: number,
  defaultType: ContentType,
  isMultipartChild = false,
): { part: MimePart; stop: Delimiter | null } {
  state.partCount += 1
  const { bytes, limits } = state
  // The header cannot run past a delimiter line: a part whose header lacks its blank line ends
  // where the next part begins. A header keeps its own line ends, blank line included, even when
  // a delimiter follows at once: only a body gives up its last line break to the delimiter (the
  // searches from bodyStart below start after the header's line ends).
  const topLevel = state.boundaries.length - 1
  const isDelimiterLine =
    topLevel >= 0
      ? (lineStart: number) => matchDelimiter(state, lineStart, lineStart, topLevel) !== null
      : undefined
  const header = splitHeaderFields(
    bytes,
    start,
    bytes.length,
    limits.maxHeaderFields,
    limits.maxHeaderOctets,
    isDelimiterLine,
  )
  if (header.isTruncated) state.isTruncated = true
  let stop: Delimiter | null = null
  const declared = readContentType(bytes, header.fields)
  const contentType = declared ?? defaultType
  const part: MimePart = {
    headerStart: start,
    bodyStart: header.bodyStart,
    bodyEnd: header.bodyStart,
    header,
    contentType,
    hasContentType: declared !== null,
    children: [],
    message: null,
  }
  const canDescend = depth + 1 < limits.maxDepth && state.partCount < limits.maxParts
  const boundary = contentType.type === 'multipart' ? contentType.params.get('boundary') : undefined
  if (boundary !== undefined && boundary !== '' && canDescend) {
    state.boundaries.push(Buffer.from(`--${boundary}`, 'latin1'))
    const level = state.boundaries.length - 1
    const childDefault =
      contentType.subtype === 'digest' ? DIGEST_DEFAULT_CONTENT_TYPE : DEFAULT_CONTENT_TYPE
    // The preamble runs to the first delimiter; the parts follow until the close delimiter.
    stop = findDelimiter(state, part.bodyStart)
    while (stop !== null && stop.level === level && !stop.isClose) {
      if (state.partCount >= limits.maxParts) {
        state.isTruncated = true
        stop = findDelimiterAtLevelOrAbove(state, stop.next, level)
        break
      }
      const child = parseEntity(state, stop.next, depth + 1, childDefault, true)
      part.children.push(child.part)
      stop = child.stop
    }
    if (stop !== null && stop.level === level) {
      // The close delimiter: the epilogue runs to the next delimiter of an enclosing multipart.
      state.boundaries.pop()
      stop = findDelimiter(state, stop.next)
    } else {
      state.boundaries.pop()
    }
    part.bodyEnd = bodyEndBefore(stop, part.bodyStart, bytes.length)
    return { part, stop }
  }
  if (contentType.type === 'multipart' && boundary !== undefined && boundary !== '')
    state.isTruncated = true
  if (isEncapsulatedMessage(contentType)) {
    if (canDescend) {
      const inner = parseEntity(state, part.bodyStart, depth + 1, DEFAULT_CONTENT_TYPE)
      part.message = inner.part
      stop = inner.stop
      part.bodyEnd = inner.part.bodyEnd
      return { part, stop }
    }
    state.isTruncated = true
  }
  stop = findDelimiter(state, part.bodyStart)
  const isEmptyPart =
    isMultipartChild &&
    stop !== null &&
    header.fields.length === 0 &&
    stop.breakStart === part.bodyStart &&
    part.bodyStart - start <= 2 &&
    stop.level === topLevel
  if (isEmptyPart) {
    // An empty part ("--b" CRLF CRLF "--b"): the one line break is the next delimiter's (RFC
    // 2046 §5.1.1), so the part has neither header nor body, as Dovecot also reads it.
    part.bodyStart = start
    part.bodyEnd = start
    return { part, stop }
  }
  part.bodyEnd = bodyEndBefore(stop, part.bodyStart, bytes.length)
  return { part, stop }
}

/** Where a body that starts at `bodyStart` ends, given the delimiter (if any) that follows it. */
function bodyEndBefore(stop: Delimiter | null, bodyStart: number, end: number): number {
  return stop ? Math.max(bodyStart, stop.breakStart) : end
}

const DASH_DASH = Buffer.from('--')

/**
 * The next delimiter line at or after `from` for any active boundary.
 *
 * RFC 2046 §5.1.1: a delimiter is CRLF "--" boundary, and the CRLF belongs to it, not to the part
 * before; the close-delimiter adds "--". Its note to implementors: "Boundary string comparisons
 * must compare the boundary value with the beginning of each candidate line. An exact match of
 * the entire candidate line is not required". So a line that starts with "--" boundary is a
 * delimiter whatever follows, and the innermost boundary is tried first. Bare LF counts too.
 */
function findDelimiter(state: ParseState, from: number): Delimiter | null {
  return findDelimiterAtLevelOrAbove(state, from, state.boundaries.length - 1)
}

function findDelimiterAtLevelOrAbove(
  state: ParseState,
  from: number,
  topLevel: number,
): Delimiter | null {
  const { bytes } = state
  if (topLevel < 0) return null
  let search = from
  while (search < bytes.length) {
    const at = bytes.indexOf(DASH_DASH, search)
    if (at < 0) return null
    search = at + 1
    if (at !== from && bytes[at - 1] !== LF) continue
    const delimiter = matchDelimiter(state, at, from, topLevel)
    if (delimiter !== null) return delimiter
  }
  return null
}

/** The delimiter on the line that starts at `at`, if any; `floor` bounds the line break before it. */
function matchDelimiter(
  state: ParseState,
  at: number,
  floor: number,
  topLevel: number,
): Delimiter | null {
  const { bytes, boundaries } = state
  for (let level = topLevel; level >= 0; level -= 1) {
    const dashBoundary = boundaries[level] as Buffer
    if (at + dashBoundary.length > bytes.length) continue
    if (bytes.compare(dashBoundary, 0, dashBoundary.length, at, at + dashBoundary.length) !== 0) {
      continue
    }
    const after = at + dashBoundary.length
    const isClose = bytes[after] === HYPHEN && bytes[after + 1] === HYPHEN
    const lineEnd = bytes.indexOf(LF, after)
    return {
      level,
      isClose,
      lineStart: at,
      breakStart: lineBreakBefore(bytes, at, floor),
      next: lineEnd < 0 ? bytes.length : lineEnd + 1,
    }
  }
  return null
}

/**
 * RFC 2046 §5.2.1 message/rfc822 and RFC 6532 §3.7 message/global carry a whole message, which
 * IMAP describes inside the part (RFC 9051 §7.5.2 BODYSTRUCTURE). One sent in base64 (which
 * RFC 2046 §5.2.1 forbids) is parsed as it stands too: its lines hold no header fields, so it
 * shows an empty envelope, as Dovecot shows it.
 */
export function isEncapsulatedMessage(contentType: ContentType): boolean {
  return (
    contentType.type === 'message' &&
    (contentType.subtype === 'rfc822' || contentType.subtype === 'global')
  )
}

/** The first Content-Type field that names a type/subtype; null when none does. */
function readContentType(bytes: Buffer, fields: readonly HeaderField[]): ContentType | null {
  for (const field of fields) {
    if (field.lowerName !== 'content-type') continue
    const parsed = parseParameterizedValue(unfoldedFieldValue(bytes, field), 'content-type')
    const slash = parsed.value.indexOf('/')
    if (slash <= 0 || slash === parsed.value.length - 1) continue
    return {
      type: parsed.value.slice(0, slash).trim().toLowerCase(),
      subtype: parsed.value
        .slice(slash + 1)
        .trim()
        .toLowerCase(),
      params: parsed.params,
      rawParams: parsed.rawParams,
    }
  }
  return null
}

/** Where the delimiter's leading line break starts, so the part before ends there. */
function lineBreakBefore(bytes: Buffer, delimiter: number, floor: number): number {
  let position = delimiter
  if (position > floor && bytes[position - 1] === LF) position -= 1
  if (position > floor && bytes[position - 1] === CR) position -= 1
  return position
}
