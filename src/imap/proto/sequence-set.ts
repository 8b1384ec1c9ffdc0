import { MAX_SEQUENCE_SET_RANGES } from './limits.ts'
/**
 * IMAP sequence sets: the message sequence numbers or UIDs that FETCH, STORE, COPY, MOVE, SEARCH
 * and their UID forms act on, and that COPYUID, APPENDUID, VANISHED and ESEARCH report back.
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-9
 */

/** A seq-number: an nz-number, or "*", the largest number in use, which only the caller knows. */
export type SequenceNumber = number | '*'

/**
 * A seq-number or seq-range as the client wrote it: ends in wire order ("5:2" stays 5 then 2),
 * and a lone number is a range with the same two ends.
 */
export interface SequenceRange {
  from: SequenceNumber
  to: SequenceNumber
}

/** A sequence set of numbers and ranges. */
export interface SequenceRanges {
  kind: 'ranges'
  ranges: SequenceRange[]
}

/**
 * "$": the messages of the last SEARCH (SAVE) (RFC 9051 §6.4.4.1, RFC 5182 §3). Only the session
 * knows them, so the caller substitutes the saved result.
 */
export interface SavedSearchResult {
  kind: 'saved'
}

export type SequenceSet = SequenceRanges | SavedSearchResult

/** RFC 9051 §9: nz-number = digit-nz *DIGIT, a non-zero unsigned 32-bit integer. */
export const MAX_NZ_NUMBER = 4_294_967_295

/**
 * sequence-set → its ranges with "*" kept as it is, { kind: 'saved' } for "$", or null when the
 * text is not a sequence set or holds more than MAX_SEQUENCE_SET_RANGES numbers and ranges.
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-9
 */
// sequence-set = (seq-number / seq-range) ["," sequence-set]   (RFC 9051 §9)
// sequence-set =/ seq-last-command                              (RFC 9051 §9, RFC 5182 §3)
// seq-last-command = "$"
export function parseSequenceSet(text: string): SequenceSet | null {
  // Deviation from RFC 9051 §9: the grammar's recursion lets "$" end a longer set ("1,$"), but
  // "$" is accepted only on its own, as Dovecot does: a saved result inside a list would have to
  // be merged with numbers that only the session can resolve.
  if (text === '$') return { kind: 'saved' }
  const ranges: SequenceRange[] = []
  let start = 0
  for (;;) {
    if (ranges.length === MAX_SEQUENCE_SET_RANGES) return null
    const comma = text.indexOf(',', start)
    const end = comma < 0 ? text.length : comma
    const range = parseSequenceRange(text.slice(start, end))
    if (range === null) return null
    ranges.push(range)
    if (comma < 0) return { kind: 'ranges', ranges }
    start = comma + 1
  }
}

// seq-range = seq-number ":" seq-number   (RFC 9051 §9)
function parseSequenceRange(item: string): SequenceRange | null {
  const colon = item.indexOf(':')
  if (colon < 0) {
    const number = parseSequenceNumber(item)
    return number === null ? null : { from: number, to: number }
  }
  const from = parseSequenceNumber(item.slice(0, colon))
  const to = parseSequenceNumber(item.slice(colon + 1))
  return from === null || to === null ? null : { from, to }
}

// seq-number = nz-number / "*"   (RFC 9051 §9)
// nz-number = digit-nz *DIGIT: no leading zero, and it must fit in 32 bits.
function parseSequenceNumber(text: string): SequenceNumber | null {
  if (text === '*') return '*'
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return null
  const number = Number(text)
  return number <= MAX_NZ_NUMBER ? number : null
}

/**
 * A parsed set → inclusive [low, high] ranges, ascending, neither overlapping nor touching, with
 * "*" replaced by `largest`. Numbers above `largest` are kept: for UIDs they simply match no
 * message, and for message sequence numbers RFC 9051 §9 wants BAD, which the caller decides by
 * comparing the last high with the message count.
 *
 * `largest` is what "*" stands for (RFC 9051 §9): the message count for sequence numbers; for
 * UIDs, the last message's UID, or UIDNEXT when the mailbox is empty. An empty mailbox has no
 * sequence number at all, so RFC 9051 §9 wants BAD for any set there, "*" included; the caller
 * answers that before resolving. Should it pass 0 anyway, "*" names no message: "*" and "*:*"
 * give nothing, and "3:*" gives [1, 3].
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-9
 */
export function resolveSequenceSet(set: SequenceRanges, largest: number): Array<[number, number]> {
  if (!Number.isInteger(largest) || largest < 0 || largest > MAX_NZ_NUMBER) {
    throw new RangeError(`Cannot resolve a sequence set with "*" as ${largest}`)
  }
  const resolved: Array<[number, number]> = []
  for (const { from, to } of set.ranges) {
    const a = from === '*' ? largest : from
    const b = to === '*' ? largest : to
    // RFC 9051 §9: a range is both ends and all values between them, regardless of order.
    const high = Math.max(a, b)
    if (high < 1) continue
    resolved.push([Math.max(Math.min(a, b), 1), high])
  }
  // RFC 9051 §9: servers MAY coalesce overlaps, and merged ranges are what the store queries want.
  resolved.sort((x, y) => x[0] - y[0])
  const merged: Array<[number, number]> = []
  for (const range of resolved) {
    const last = merged.at(-1)
    if (last !== undefined && range[0] <= last[1] + 1) {
      last[1] = Math.max(last[1], range[1])
    } else {
      merged.push([range[0], range[1]])
    }
  }
  return merged
}

/**
 * Ranges → a sequence-set with no "*", in the order given, each range as "n" or "low:high", with
 * a range that continues the one before it ascending joined to it: [[1, 2], [3, 3], [7, 7]] is
 * "1:3,7". The order is kept because COPYUID pairs its source and destination UIDs by position
 * (RFC 9051 §7.1); ranges from resolveSequenceSet give the shortest form. This is the set of
 * COPYUID and APPENDUID (RFC 9051 §7.1), ESEARCH ALL (RFC 9051 §7.3.4) and VANISHED
 * (RFC 7162 §3.2.10). Throws a RangeError for no ranges (a sequence-set has at least one
 * number) or a number that is not an nz-number, since either would put bad syntax on the wire.
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-9
 */
export function formatSequenceSet(ranges: ReadonlyArray<readonly [number, number]>): string {
  if (ranges.length === 0) throw new RangeError('Cannot format an empty sequence set')
  const parts: Array<[number, number]> = []
  for (const [from, to] of ranges) {
    for (const number of [from, to]) {
      if (!Number.isInteger(number) || number < 1 || number > MAX_NZ_NUMBER) {
        throw new RangeError(`Cannot format ${number} in a sequence set, it is not an nz-number`)
      }
    }
    const last = parts.at(-1)
    if (last !== undefined && last[0] <= last[1] && from <= to && from === last[1] + 1) {
      last[1] = to
    } else {
      parts.push([from, to])
    }
  }
  return parts.map(([from, to]) => (from === to ? `${from}` : `${from}:${to}`)).join(',')
}
