/**
 * The base subject of RFC 5256 §2.1: the subject without "Re:", "Fwd:", "[list]" prefixes,
 * "(fwd)" trailers and "[fwd: …]" wrappers, which SORT SUBJECT orders by and both threading
 * algorithms group by.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5256#section-2.1
 */
import { decodeHeaderValue } from '../../mime/index.ts'

export interface BaseSubject {
  /** The base subject, in the case it was written in. */
  text: string
  /** The form base subjects are compared in (see unicodeCasemap). */
  key: string
  /**
   * Whether the extraction removed a subj-refwd ("Re:", "Fw:", "Fwd:"), a "(fwd)" trailer or a
   * "[fwd: …]" wrapper: REFERENCES (RFC 5256 §3, step 5) treats such a message as a reply or
   * forward of one with the same base subject.
   */
  isReplyOrForward: boolean
}

const EMPTY: BaseSubject = { text: '', key: '', isReplyOrForward: false }

/**
 * The base subject of a Subject field value as ENVELOPE holds it: a binary string of the raw
 * octets, folds included, encoded words not decoded. null (no Subject field) is the empty
 * subject.
 */
export function baseSubject(rawSubject: string | null): BaseSubject {
  if (rawSubject === null) return EMPTY
  // Step (1): encoded words decoded and the whole made Unicode (8-bit octets as UTF-8, RFC
  // 6532, or windows-1252 when they are not UTF-8); unfolding happens here too.
  return extractBaseSubject(decodeHeaderValue(Buffer.from(rawSubject, 'latin1')))
}

const SP = 0x20
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const COLON = 0x3a

/**
 * Steps (1) to (7) of RFC 5256 §2.1 on a subject already decoded to Unicode text. Linear in the
 * length of the subject whatever it holds: the steps work on a window [start, end) of the text
 * rather than on copies, and the prefixes of steps (3) to (5) are read in one pass (see
 * removeLeaders).
 */
// subject = *subj-leader [subj-middle] *subj-trailer   (RFC 5256 §5)
// subj-middle = *subj-blob (subj-base / subj-fwd)
// subj-fwd = subj-fwd-hdr subject subj-fwd-trl
export function extractBaseSubject(decoded: string): BaseSubject {
  // Step (1): tabs and continuations (line breaks) become spaces; runs of spaces become one.
  const text = decoded.replace(/[ \t\r\n]+/g, ' ')
  let start = 0
  let end = text.length
  let isReplyOrForward = false
  for (;;) {
    // Step (2): subj-trailer = "(fwd)" / WSP, removed from the end while one is there.
    for (;;) {
      if (end > start && text.charCodeAt(end - 1) === SP) {
        end -= 1
      } else if (end - start >= 5 && matchesAt(text, end - 5, end, '(fwd)')) {
        end -= 5
        isReplyOrForward = true
      } else {
        break
      }
    }
    // Steps (3) to (5).
    const leaders = removeLeaders(text, start, end)
    start = leaders.start
    if (leaders.isReplyOrForward) isReplyOrForward = true
    // Step (6): subj-fwd-hdr = "[fwd:" and subj-fwd-trl = "]" around the rest are removed, and
    // the steps repeat from (2).
    if (
      end - start >= 6 &&
      matchesAt(text, start, end, '[fwd:') &&
      text.charCodeAt(end - 1) === CLOSE_BRACKET
    ) {
      start += 5
      end -= 1
      isReplyOrForward = true
      continue
    }
    break
  }
  // Step (7).
  const base = text.slice(start, end)
  return { text: base, key: unicodeCasemap(base), isReplyOrForward }
}

/**
 * The form in which text is compared case-insensitively: equal keys are equal text, and keys
 * sort by code point. RFC 5256 (§2.1, and RFC 5255 §4 for servers that announce I18NLEVEL)
 * compares with i;unicode-casemap (RFC 5051 §2), which title-cases with the simple case
 * mappings and then decomposes (NFKD). Deviation: this upper-cases with the full mappings
 * (JavaScript's toUpperCase, so "ß" is "SS") before NFKD. The two differ only for the few
 * letters whose title case is not their upper case (the digraphs "ǆ", "ǉ", "ǌ", "ǳ") and for
 * letters whose full upper case is several letters, which no real subject tells apart by that.
 */
export function unicodeCasemap(text: string): string {
  return text.toUpperCase().normalize('NFKD')
}

/**
 * Steps (3), (4) and (5): subj-leaders removed from the front, and a leading subj-blob when
 * something is left after it, until neither applies.
 *
 * The leader of step (3) is a space, or blobs followed by a subj-refwd. When the blobs at the
 * front are not followed by a subj-refwd, step (3) stops there, and step (4) removes the first
 * blob; step (3) then finds the same run of blobs, one shorter, still not followed by a
 * subj-refwd, and so on. So that run is read once and its blobs removed at once: all of them
 * when text follows the run, all but the last when the run reaches the end (step (4) keeps a
 * blob that would leave the subject empty). What follows the run is neither a space (a blob
 * takes the spaces after it) nor a subj-refwd, so nothing more is removed.
 */
// subj-leader = (*subj-blob subj-refwd) / WSP   (RFC 5256 §5)
function removeLeaders(
  text: string,
  from: number,
  end: number,
): { start: number; isReplyOrForward: boolean } {
  let start = from
  let isReplyOrForward = false
  for (;;) {
    if (start < end && text.charCodeAt(start) === SP) {
      start += 1
      continue
    }
    let position = start
    let lastBlob = -1 // where the last blob of the run starts
    for (;;) {
      const after = text.charCodeAt(position) === OPEN_BRACKET ? blobEnd(text, position, end) : -1
      if (after < 0) break
      lastBlob = position
      position = after
    }
    const afterRefwd = refwdEnd(text, position, end)
    if (afterRefwd >= 0) {
      start = afterRefwd
      isReplyOrForward = true
      continue
    }
    if (lastBlob >= 0) start = position < end ? position : lastBlob
    return { start, isReplyOrForward }
  }
}

/** Where the subj-blob that opens at `open` ends, its trailing spaces included, or -1. */
// subj-blob = "[" *BLOBCHAR "]" *WSP   (RFC 5256 §5)
// BLOBCHAR = %x01-5a / %x5c / %x5e-ff   ; any CHAR8 except "[" and "]"
function blobEnd(text: string, open: number, end: number): number {
  let i = open + 1
  while (i < end) {
    const code = text.charCodeAt(i)
    if (code === OPEN_BRACKET) return -1
    if (code === CLOSE_BRACKET) break
    i += 1
  }
  if (i >= end) return -1
  i += 1
  while (i < end && text.charCodeAt(i) === SP) i += 1
  return i
}

/** Where the subj-refwd at `at` ends, or -1 when there is none. */
// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"   (RFC 5256 §5)
function refwdEnd(text: string, at: number, end: number): number {
  let i: number
  if (matchesAt(text, at, end, 're')) i = at + 2
  else if (matchesAt(text, at, end, 'fwd')) i = at + 3
  else if (matchesAt(text, at, end, 'fw')) i = at + 2
  else return -1
  while (i < end && text.charCodeAt(i) === SP) i += 1
  if (i < end && text.charCodeAt(i) === OPEN_BRACKET) {
    const after = blobEnd(text, i, end)
    if (after >= 0) i = after
  }
  return i < end && text.charCodeAt(i) === COLON ? i + 1 : -1
}

/** Whether `literal` (lower-case ASCII) is at `at`, in any case, ending by `end` (ABNF strings). */
function matchesAt(text: string, at: number, end: number, literal: string): boolean {
  if (at + literal.length > end) return false
  for (let k = 0; k < literal.length; k += 1) {
    let code = text.charCodeAt(at + k)
    if (code >= 0x41 && code <= 0x5a) code += 0x20
    if (code !== literal.charCodeAt(k)) return false
  }
  return true
}
