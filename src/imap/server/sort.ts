/**
 * SORT (RFC 5256 §3) and the DISPLAYFROM and DISPLAYTO keys (RFC 5957): messages in the order
 * of the criteria, ties left to the next criterion and finally to the sequence number.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5256#section-3
 * @see https://www.rfc-editor.org/rfc/rfc5957
 */
import {
  type AddressListEntry,
  decodeHeaderValue,
  decodeText,
  type Envelope,
} from '../../mime/index.ts'
import type { SortCriterion, SortKey } from '../proto/index.ts'
import { baseSubject, unicodeCasemap } from './base-subject.ts'

/** What sorting needs of one message. */
export interface SortInput {
  seq: number
  uid: number
  /** INTERNALDATE. */
  internalDate: Date
  /** The Date field, read (src/mime parseDate); null when missing or unreadable. */
  sentDate: Date | null
  /** RFC822.SIZE. */
  size: number
  envelope: Envelope
}

/** The earliest time a Date holds: a date that is not one sorts first. */
const EARLIEST = -8.64e15

/**
 * The sent date of RFC 5256 §2.2 in milliseconds: the Date field, or INTERNALDATE when there is
 * no date that can be read.
 */
export function sentTime(message: SortInput): number {
  const sent = message.sentDate?.getTime()
  if (sent !== undefined && Number.isFinite(sent)) return sent
  return timeOf(message.internalDate)
}

function timeOf(date: Date): number {
  const time = date.getTime()
  return Number.isFinite(time) ? time : EARLIEST
}

/**
 * Compares two strings by Unicode code point, as i;unicode-casemap orders its (UTF-8) keys;
 * plain `<` compares UTF-16 code units, which put U+E000…U+FFFF after the astral planes.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointRank(x) - codePointRank(y)
  }
  return a.length - b.length
}

/** A UTF-16 code unit's place in code point order: surrogates (astral planes) go last. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000
  return unit >= 0xe000 ? unit - 0x800 : unit
}

/** Compares binary strings octet by octet: the order of i;ascii-casemap keys. */
function compareOctets(a: string, b: string): number {
  if (a === b) return 0
  return a < b ? -1 : 1
}

/**
 * The messages in the order `criteria` give (RFC 5256 §3), a new array. REVERSE turns around
 * its own key only; when every key ties, the lower sequence number comes first, whatever the
 * REVERSEs (RFC 5256 §3, REVERSE).
 *
 * - ARRIVAL: INTERNALDATE.
 * - DATE: the sent date (RFC 5256 §2.2), INTERNALDATE when there is no usable Date field.
 * - CC, FROM, TO: the addr-mailbox (local part) of the first address of that field, compared
 *   with i;ascii-casemap (ASCII letters case-insensitively, every other octet as it is); the
 *   empty string when the field is missing or empty.
 * - DISPLAYFROM, DISPLAYTO: RFC 5957 §3's display value of the first address.
 * - SIZE: RFC822.SIZE.
 * - SUBJECT: the base subject (RFC 5256 §2.1), compared case-insensitively (see BaseSubject).
 *
 * "First address" is the first address structure ENVELOPE shows (RFC 9051 §7.5.2): when the
 * field opens with a group, that is the group's start marker, whose addr-mailbox is the group's
 * name and which has no addr-name.
 */
export function sortMessages<T extends SortInput>(
  messages: readonly T[],
  criteria: readonly SortCriterion[],
): T[] {
  // Each key is computed once per message, not once per comparison.
  const keyed = criteria.map((criterion) => ({
    compare: compareFor(criterion.key),
    sign: criterion.isReverse ? -1 : 1,
    values: messages.map((message) => sortValue(message, criterion.key)),
  }))
  const order = messages.map((_, index) => index)
  order.sort((i, j) => {
    for (const { compare, sign, values } of keyed) {
      const result = compare(values[i] as string | number, values[j] as string | number)
      if (result !== 0) return sign * result
    }
    return (messages[i] as T).seq - (messages[j] as T).seq
  })
  return order.map((index) => messages[index] as T)
}

type Compare = (a: string | number, b: string | number) => number

function compareFor(key: SortKey): Compare {
  switch (key) {
    case 'ARRIVAL':
    case 'DATE':
    case 'SIZE':
      return (a, b) => (a < b ? -1 : a > b ? 1 : 0)
    case 'CC':
    case 'FROM':
    case 'TO':
      return (a, b) => compareOctets(String(a), String(b))
    case 'SUBJECT':
    case 'DISPLAYFROM':
    case 'DISPLAYTO':
      return (a, b) => compareCodePoints(String(a), String(b))
  }
}

function sortValue(message: SortInput, key: SortKey): string | number {
  const { envelope } = message
  switch (key) {
    case 'ARRIVAL':
      return timeOf(message.internalDate)
    case 'DATE':
      return sentTime(message)
    case 'SIZE':
      return message.size
    case 'SUBJECT':
      return baseSubject(envelope.subject).key
    case 'CC':
      return asciiCasemap(firstAddress(envelope.cc)?.mailbox ?? '')
    case 'FROM':
      return asciiCasemap(firstAddress(envelope.from)?.mailbox ?? '')
    case 'TO':
      return asciiCasemap(firstAddress(envelope.to)?.mailbox ?? '')
    case 'DISPLAYFROM':
      return displayKey(envelope.from)
    case 'DISPLAYTO':
      return displayKey(envelope.to)
  }
}

/** The fields of an IMAP address structure that sorting reads (binary strings, or null: NIL). */
interface AddressStructure {
  name: string | null
  mailbox: string | null
  host: string | null
}

/** The first address structure of an address list in ENVELOPE, or null when there is none. */
function firstAddress(list: readonly AddressListEntry[] | null): AddressStructure | null {
  const first = list?.[0]
  if (first === undefined) return null
  // A group starts with (NIL NIL group-name NIL) (RFC 9051 §7.5.2).
  if (first.kind === 'group') return { name: null, mailbox: first.name, host: null }
  // An empty local part is what ENVELOPE shows as a placeholder: it counts as none.
  return {
    name: first.name,
    mailbox: first.mailbox === '' ? null : first.mailbox,
    host: first.host,
  }
}

/** i;ascii-casemap (RFC 4790 §9.2): ASCII letters in upper case, other octets unchanged. */
function asciiCasemap(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase())
}

/**
 * RFC 5957 §3: the display name, RFC 2047-decoded, when there is one that is not empty; else
 * addr-mailbox "@" addr-host, or addr-mailbox alone; else the empty string. Compared in the
 * same case-insensitive form as base subjects.
 */
function displayKey(list: readonly AddressListEntry[] | null): string {
  const address = firstAddress(list)
  if (address === null) return ''
  let display = ''
  if (address.name !== null) display = decodeHeaderValue(Buffer.from(address.name, 'latin1'))
  if (display === '' && address.mailbox !== null) {
    const spec = address.host === null ? address.mailbox : `${address.mailbox}@${address.host}`
    display = decodeText(Buffer.from(spec, 'latin1'))
  }
  return unicodeCasemap(display)
}
