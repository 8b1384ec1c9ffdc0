/**
 * The Date header field: RFC 5322 §3.3 date-time, its obsolete forms (RFC 5322 §4.3), and the
 * broken forms real mail carries, for IMAP ENVELOPE, SEARCH SENTON and SORT.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5322#section-3.3
 */
import { commentEnd } from './address.ts'

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const
const MONTH_NAMES = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec',
] as const
const FULL_DAY_NAMES = [
  'sunday',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
]
const FULL_MONTH_NAMES = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
]

/** Offsets in minutes east of UTC for the zone names that are known. */
const ZONES: ReadonlyMap<string, number> = new Map([
  // obs-zone = "UT" / "GMT" / "EST" / "EDT" / "CST" / "CDT" / "MST" / "MDT" / "PST" / "PDT"
  //   (RFC 5322 §4.3)
  ['UT', 0],
  ['GMT', 0],
  ['EST', -300],
  ['EDT', -240],
  ['CST', -360],
  ['CDT', -300],
  ['MST', -420],
  ['MDT', -360],
  ['PST', -480],
  ['PDT', -420],
  // Names seen in the wild whose meaning is not in doubt. Ambiguous ones (IST, AST) stay out:
  // RFC 5322 §4.3 says an unknown zone is -0000.
  ['UTC', 0],
  ['WET', 0],
  ['WEST', 60],
  ['BST', 60],
  ['CET', 60],
  ['CEST', 120],
  ['MET', 60],
  ['MEST', 120],
  ['EET', 120],
  ['EEST', 180],
  ['MSK', 180],
  ['HKT', 480],
  ['AWST', 480],
  ['JST', 540],
  ['KST', 540],
  ['ACST', 570],
  ['AEST', 600],
  ['AEDT', 660],
  ['NZST', 720],
  ['NZDT', 780],
  ['HST', -600],
  ['AKST', -540],
  ['AKDT', -480],
  ['ADT', -180],
  ['NST', -210],
  ['NDT', -150],
])

const MAX_OFFSET_MINUTES = 99 * 60 + 59

type DateTokenKind = 'number' | 'word' | '+' | '-' | ':' | '.' | '/'

interface DateToken {
  kind: DateTokenKind
  text: string
}

interface TimeOfDay {
  hour: number
  minute: number
  second: number
  millisecond: number
}

/**
 * Reads a Date header field value, or returns null when it holds no date that can be trusted.
 * Beyond RFC 5322: full or any-case names, "26-Nov-2026", asctime ("Thu Nov 26 02:53:00 2026"),
 * ISO 8601 ("2024-03-01T10:00:00Z"), "." between time fields, zones written "+01:00", "0100",
 * "CET" or "MET DST", AM/PM, and text after the zone. A missing zone is taken as +0000 and a
 * missing time as midnight. A numeric month outside ISO 8601's year-first order is refused,
 * since "01/03/2024" could be either of two days. Never throws.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5322#section-3.3
 */
// date-time = [ day-of-week "," ] date time [CFWS]   (RFC 5322 §3.3)
// date = day month year
// time = time-of-day zone
export function parseDate(text: string): Date | null {
  const tokens = lexDate(text)
  const at = (i: number): DateToken | undefined => tokens[i]
  let i = 0
  // day-of-week = ([FWS] day-name) / obs-day-of-week   (RFC 5322 §3.3); it is not checked
  // against the date, since senders get it wrong and the date itself is what matters.
  if (at(i)?.kind === 'word' && dayOfWeek(at(i)?.text ?? '') >= 0) {
    i += 1
    if (at(i)?.kind === '.') i += 1
  }
  const first = at(i)
  if (first === undefined) return null

  let year: number | null
  let month: number
  let day: number
  let time: TimeOfDay | null = null
  let offsetMinutes: number | null = null

  if (first.kind === 'number' && first.text.length === 4 && at(i + 1)?.kind === '-') {
    // ISO 8601 order: year-month-day, the one numeric order that is not ambiguous.
    const monthToken = at(i + 2)
    const dayToken = at(i + 4)
    if (monthToken?.kind !== 'number' || at(i + 3)?.kind !== '-' || dayToken?.kind !== 'number')
      return null
    if (monthToken.text.length > 2 || dayToken.text.length > 2) return null
    year = Number(first.text)
    month = Number(monthToken.text) - 1
    day = Number(dayToken.text)
    i += 5
    if (at(i)?.kind === 'word' && at(i)?.text.toUpperCase() === 'T') i += 1
    const parsed = parseTime(tokens, i)
    if (parsed !== null) {
      time = parsed.time
      i = parsed.end
      const zone = parseZone(tokens, i, false)
      if (zone !== null) offsetMinutes = zone.offsetMinutes
    }
  } else if (first.kind === 'number') {
    // day = ([FWS] 1*2DIGIT FWS) / obs-day   (RFC 5322 §3.3)
    if (first.text.length > 2) return null
    day = Number(first.text)
    i += 1
    if (isDateSeparator(at(i))) i += 1 // "26-Nov-2026", as IMAP's date-time writes it
    month = monthOf(at(i))
    if (month < 0) return null
    i += 1
    if (isDateSeparator(at(i))) i += 1
    const yearToken = at(i)
    if (yearToken?.kind !== 'number') return null
    year = fullYear(yearToken.text)
    i += 1
    const parsed = parseTime(tokens, i)
    if (parsed !== null) {
      time = parsed.time
      i = parsed.end
      const zone = parseZone(tokens, i, true)
      if (zone !== null) offsetMinutes = zone.offsetMinutes
    }
  } else {
    // The month first: asctime() "Nov 26 02:53:00 2026", or "Nov 26 2026 02:53:00". A month
    // name says which number is the day, so this order is safe to read.
    month = monthOf(first)
    const dayToken = at(i + 1)
    if (month < 0 || dayToken?.kind !== 'number' || dayToken.text.length > 2) return null
    day = Number(dayToken.text)
    i += 2
    const parsed = parseTime(tokens, i)
    if (parsed !== null) {
      time = parsed.time
      i = parsed.end
      const zone = parseZone(tokens, i, false)
      if (zone !== null) {
        offsetMinutes = zone.offsetMinutes
        i = zone.end
      }
      const yearToken = at(i)
      if (yearToken?.kind !== 'number') return null
      year = fullYear(yearToken.text)
      i += 1
      if (offsetMinutes === null) offsetMinutes = parseZone(tokens, i, false)?.offsetMinutes ?? null
    } else {
      const yearToken = at(i)
      if (yearToken?.kind !== 'number') return null
      year = fullYear(yearToken.text)
      const later = parseTime(tokens, i + 1)
      if (later !== null) {
        time = later.time
        offsetMinutes = parseZone(tokens, later.end, true)?.offsetMinutes ?? null
      }
    }
  }
  if (year === null) return null
  return makeDate(year, month, day, time, offsetMinutes ?? 0)
}

/**
 * Writes a date as RFC 5322 §3.3 date-time: "Thu, 26 Nov 2026 02:53:00 +0000", the day always
 * two digits, the year four, the zone numeric. `offsetMinutes` is the writer's zone, east of
 * UTC; milliseconds are dropped.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5322#section-3.3
 */
export function formatDate(date: Date, offsetMinutes = 0): string {
  const time = date.getTime()
  if (Number.isNaN(time)) throw new RangeError('Cannot format an invalid date')
  if (!Number.isInteger(offsetMinutes) || Math.abs(offsetMinutes) > MAX_OFFSET_MINUTES) {
    // RFC 5322 §3.3: the zone is +hhmm or -hhmm.
    throw new RangeError(
      `Cannot format a date with offset "${offsetMinutes}", not whole minutes within ±99:59`,
    )
  }
  const local = new Date(Math.floor(time / 1000) * 1000 + offsetMinutes * 60_000)
  const year = local.getUTCFullYear()
  if (year < 0 || year > 9999) {
    throw new RangeError(`Cannot format the year "${year}", it is not four digits`)
  }
  const absolute = Math.abs(offsetMinutes)
  const sign = offsetMinutes < 0 ? '-' : '+'
  const zone = `${sign}${pad(Math.floor(absolute / 60), 2)}${pad(absolute % 60, 2)}`
  const dayName = DAY_NAMES[local.getUTCDay()] ?? ''
  const monthName = MONTH_NAMES[local.getUTCMonth()] ?? ''
  const hours = pad(local.getUTCHours(), 2)
  const minutes = pad(local.getUTCMinutes(), 2)
  const seconds = pad(local.getUTCSeconds(), 2)
  const day = pad(local.getUTCDate(), 2)
  return `${dayName}, ${day} ${monthName} ${pad(year, 4)} ${hours}:${minutes}:${seconds} ${zone}`
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0')
}

/** Letters, digits and the few signs that carry meaning; comments, commas and spaces separate. */
function lexDate(text: string): DateToken[] {
  const tokens: DateToken[] = []
  let i = 0
  while (i < text.length) {
    const code = text.charCodeAt(i)
    const char = text[i] ?? ''
    if (char === '(') {
      // CFWS may appear between any two tokens (RFC 5322 §3.3); a comment such as "(CET)"
      // only repeats the zone in words.
      const end = commentEnd(text, i)
      i = end < 0 ? text.length : end
    } else if (isDigit(code) || isLetter(code)) {
      const isNumber = isDigit(code)
      let end = i + 1
      while (end < text.length && (isNumber ? isDigit : isLetter)(text.charCodeAt(end))) end += 1
      tokens.push({ kind: isNumber ? 'number' : 'word', text: text.slice(i, end) })
      i = end
    } else {
      if (char === '+' || char === '-' || char === ':' || char === '.' || char === '/') {
        tokens.push({ kind: char, text: char })
      }
      i += 1
    }
  }
  return tokens
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39
}

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)
}

function isDateSeparator(token: DateToken | undefined): boolean {
  return token?.kind === '-' || token?.kind === '/' || token?.kind === '.'
}

/** The index of a day name, abbreviated to at least three letters ("Thu", "Thur", "Thursday"). */
function dayOfWeek(word: string): number {
  const lower = word.toLowerCase()
  if (lower.length < 3) return -1
  return FULL_DAY_NAMES.findIndex((name) => name.startsWith(lower))
}

// month = "Jan" / "Feb" / "Mar" / … / "Dec"   (RFC 5322 §3.3); any case, and longer forms
// ("Sept", "November") from the wild.
function monthOf(token: DateToken | undefined): number {
  if (token?.kind !== 'word' || token.text.length < 3) return -1
  const lower = token.text.toLowerCase()
  return FULL_MONTH_NAMES.findIndex((name) => name.startsWith(lower))
}

// year = (FWS 4*DIGIT FWS) / obs-year   (RFC 5322 §3.3)
// obs-year = [CFWS] 2*DIGIT [CFWS]   (RFC 5322 §4.3)
function fullYear(digits: string): number | null {
  const value = Number(digits)
  // RFC 5322 §4.3: 00-49 is 2000-2049, 50-99 is 1950-1999, and three digits add 1900.
  if (digits.length === 2) return value < 50 ? 2000 + value : 1900 + value
  if (digits.length === 3) return 1900 + value
  if (digits.length === 4) return value
  return null
}

// time-of-day = hour ":" minute [ ":" second ]   (RFC 5322 §3.3)
// Deviation from RFC 5322 §3.3: one-digit hours, "." between the fields ("10.30.00"), a
// fraction of a second (ISO 8601) and a trailing AM/PM are read too.
function parseTime(
  tokens: readonly DateToken[],
  start: number,
): { time: TimeOfDay; end: number } | null {
  const hour = tokens[start]
  const separator = tokens[start + 1]
  const minute = tokens[start + 2]
  if (hour?.kind !== 'number' || hour.text.length > 2) return null
  if ((separator?.kind !== ':' && separator?.kind !== '.') || minute?.kind !== 'number') return null
  if (minute.text.length !== 2) return null
  const time: TimeOfDay = {
    hour: Number(hour.text),
    minute: Number(minute.text),
    second: 0,
    millisecond: 0,
  }
  let i = start + 3
  const second = tokens[i + 1]
  if (tokens[i]?.kind === separator.kind && second?.kind === 'number' && second.text.length === 2) {
    time.second = Number(second.text)
    i += 2
    const fraction = tokens[i + 1]
    if (separator.kind === ':' && tokens[i]?.kind === '.' && fraction?.kind === 'number') {
      time.millisecond = Number(fraction.text.slice(0, 3).padEnd(3, '0'))
      i += 2
    }
  }
  const meridiem = tokens[i]?.kind === 'word' ? tokens[i]?.text.toUpperCase() : undefined
  if ((meridiem === 'AM' || meridiem === 'PM') && time.hour >= 1 && time.hour <= 12) {
    time.hour = (time.hour % 12) + (meridiem === 'PM' ? 12 : 0)
    i += 1
  }
  return { time, end: i }
}

// zone = (FWS ( "+" / "-" ) 4DIGIT) / obs-zone   (RFC 5322 §3.3)
// obs-zone = "UT" / "GMT" / … / %d65-73 / %d75-90 / %d97-105 / %d107-122   (RFC 5322 §4.3)
// Deviation from RFC 5322 §3.3: "+01:00", "+01", "+100", "GMT+0100", and (when `canBeUnsigned`,
// that is not where a year may follow) "0100" are read as numeric zones.
function parseZone(
  tokens: readonly DateToken[],
  start: number,
  canBeUnsigned: boolean,
): { offsetMinutes: number; end: number } | null {
  const token = tokens[start]
  if (token === undefined) return null
  if (token.kind === '+' || token.kind === '-') {
    const numeric = parseOffset(tokens, start + 1)
    if (numeric === null) return null
    const sign = token.kind === '-' ? -1 : 1
    return { offsetMinutes: sign * numeric.minutes, end: numeric.end }
  }
  if (token.kind === 'number' && canBeUnsigned && token.text.length === 4) {
    const numeric = parseOffset(tokens, start)
    return numeric === null ? null : { offsetMinutes: numeric.minutes, end: numeric.end }
  }
  if (token.kind !== 'word') return null
  const name = token.text.toUpperCase()
  const sign = tokens[start + 1]?.kind
  if ((name === 'GMT' || name === 'UTC' || name === 'UT') && (sign === '+' || sign === '-')) {
    const zone = parseZone(tokens, start + 1, false)
    if (zone !== null) return zone
  }
  let offsetMinutes = ZONES.get(name)
  let end = start + 1
  if (offsetMinutes !== undefined && tokens[end]?.text.toUpperCase() === 'DST') {
    offsetMinutes += 60 // "MET DST"
    end += 1
  }
  // RFC 5322 §4.3: the military zones were first defined with the wrong signs, and other names
  // mean what their sender thought: both are to be taken as -0000, the same instant as +0000.
  return { offsetMinutes: offsetMinutes ?? 0, end }
}

/** hhmm, hh, hmm or hh:mm after a sign, in minutes; null when the minutes are not 00-59. */
function parseOffset(
  tokens: readonly DateToken[],
  start: number,
): { minutes: number; end: number } | null {
  const token = tokens[start]
  if (token?.kind !== 'number') return null
  const digits = token.text
  let hours: number
  let minutes = 0
  let end = start + 1
  const after = tokens[start + 2]
  if (digits.length <= 2 && tokens[start + 1]?.kind === ':' && after?.kind === 'number') {
    if (after.text.length !== 2) return null
    hours = Number(digits)
    minutes = Number(after.text)
    end = start + 3
  } else if (digits.length <= 2) {
    hours = Number(digits)
  } else if (digits.length <= 4) {
    hours = Number(digits.slice(0, -2))
    minutes = Number(digits.slice(-2))
  } else {
    return null
  }
  if (minutes > 59) return null
  return { minutes: hours * 60 + minutes, end }
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
}

function daysInMonth(year: number, month: number): number {
  if (month === 1) return isLeapYear(year) ? 29 : 28
  return [3, 5, 8, 10].includes(month) ? 30 : 31
}

function makeDate(
  year: number,
  month: number,
  day: number,
  time: TimeOfDay | null,
  offsetMinutes: number,
): Date | null {
  if (month < 0 || month > 11 || day < 1 || day > daysInMonth(year, month)) return null
  const { hour, minute, second, millisecond } = time ?? {
    hour: 0,
    minute: 0,
    second: 0,
    millisecond: 0,
  }
  // RFC 5322 §3.3: second may be 60 for a leap second; Date has none, so it rolls over to the
  // next minute's first second, the instant right after.
  if (hour > 23 || minute > 59 || second > 60) return null
  const date = new Date(0)
  // setUTCFullYear, unlike Date.UTC, keeps years 0-99 as they are.
  date.setUTCFullYear(year, month, day)
  date.setUTCHours(hour, minute, second, millisecond)
  const instant = date.getTime() - offsetMinutes * 60_000
  return Number.isNaN(instant) ? null : new Date(instant)
}
