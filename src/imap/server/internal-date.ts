import { ParseError } from '../proto/index.ts'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/**
 * INTERNALDATE as date-time (RFC 9051 §9): "dd-Mon-yyyy hh:mm:ss +zzzz" with a space-padded day,
 * in UTC: the store keeps the instant, not the zone it arrived in.
 */
export function formatInternalDate(date: Date): string {
  const day = String(date.getUTCDate()).padStart(2, ' ')
  const month = MONTHS[date.getUTCMonth()] as string
  const pad = (value: number) => String(value).padStart(2, '0')
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  return `${day}-${month}-${date.getUTCFullYear()} ${time} +0000`
}

/**
 * date-time (RFC 9051 §9) as APPEND gives it, quoted: DQUOTE date-day-fixed "-" date-month "-"
 * date-year SP time SP zone DQUOTE. A one-digit day may come without its padding space, as
 * several clients send it.
 * @throws ParseError
 */
export function parseInternalDate(text: string): Date {
  const match = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(
    text,
  )
  if (match === null) throw new ParseError('expected a date-time like "01-Jan-2026 10:00:00 +0000"')
  const [, day, monthName, year, hours, minutes, seconds, sign, zoneHours, zoneMinutes] = match
  const month = MONTHS.findIndex((name) => name.toLowerCase() === monthName?.toLowerCase())
  const values = [day, year, hours, minutes, seconds, zoneHours, zoneMinutes].map(Number)
  const [d, y, h, m, s, zh, zm] = values as [number, number, number, number, number, number, number]
  if (month < 0 || d < 1 || d > 31 || h > 23 || m > 59 || s > 60 || zh > 23 || zm > 59) {
    throw new ParseError('invalid date-time')
  }
  // 31-Feb and the like: Date.UTC would roll them over into the next month.
  if (new Date(Date.UTC(y, month, d)).getUTCMonth() !== month) throw new ParseError('invalid date')
  const offsetMinutes = (sign === '-' ? -1 : 1) * (zh * 60 + zm)
  // A leap second (60) is kept as the last second of its minute.
  return new Date(Date.UTC(y, month, d, h, m, Math.min(s, 59)) - offsetMinutes * 60_000)
}
