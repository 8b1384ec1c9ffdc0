import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatDate, parseDate } from './date.ts'

/** Each input with the instant it names (ISO 8601 in UTC), or null when it must be refused. */
function check(cases: readonly (readonly [string, string | null])[]): void {
  for (const [input, expected] of cases) {
    assert.equal(parseDate(input)?.toISOString() ?? null, expected, JSON.stringify(input))
  }
}

test('parseDate reads RFC 5322 §3.3 date-times, including the examples of Appendix A', () => {
  check([
    ['Fri, 21 Nov 1997 09:55:06 -0600', '1997-11-21T15:55:06.000Z'],
    ['Tue, 1 Jul 2003 10:52:37 +0200', '2003-07-01T08:52:37.000Z'],
    ['Thu, 13 Feb 1969 23:32:54 -0330', '1969-02-14T03:02:54.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 -0000', '2026-11-26T02:53:00.000Z'],
    ['26 Nov 2026 02:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53 +0000', '2026-11-26T02:53:00.000Z'],
    ['Thu, 05 Nov 2026 02:53:00 +0530', '2026-11-04T21:23:00.000Z'],
    ['Sat, 29 Feb 2020 12:00:00 +0000', '2020-02-29T12:00:00.000Z'],
    ['Mon, 31 Dec 2018 23:59:60 +0000', '2019-01-01T00:00:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 +9959', '2026-11-21T22:54:00.000Z'],
  ])
})

test('parseDate reads the obsolete forms of RFC 5322 §4.3', () => {
  check([
    // A.6.2, with CFWS between every token
    ['21 Nov 97 09:55:06 GMT', '1997-11-21T09:55:06.000Z'],
    ['Fri, 21 Nov 1997 09(comment):   55  :  06 -0600', '1997-11-21T15:55:06.000Z'],
    ['Fri, 21 Nov 1997 09:55:06 -0600 (Central Standard Time)', '1997-11-21T15:55:06.000Z'],
    ['(x) Fri (y), (z) 21 Nov 1997 09:55:06 -0600', '1997-11-21T15:55:06.000Z'],
    // two- and three-digit years
    ['1 Jan 49 00:00:00 +0000', '2049-01-01T00:00:00.000Z'],
    ['1 Jan 50 00:00:00 +0000', '1950-01-01T00:00:00.000Z'],
    ['1 Jan 00 00:00:00 +0000', '2000-01-01T00:00:00.000Z'],
    ['1 Jan 99 00:00:00 +0000', '1999-01-01T00:00:00.000Z'],
    ['1 Jan 103 00:00:00 +0000', '2003-01-01T00:00:00.000Z'],
    // alphabetic zones
    ['1 Jan 2024 12:00:00 UT', '2024-01-01T12:00:00.000Z'],
    ['1 Jan 2024 12:00:00 EST', '2024-01-01T17:00:00.000Z'],
    ['1 Jan 2024 12:00:00 EDT', '2024-01-01T16:00:00.000Z'],
    ['1 Jan 2024 12:00:00 CST', '2024-01-01T18:00:00.000Z'],
    ['1 Jan 2024 12:00:00 CDT', '2024-01-01T17:00:00.000Z'],
    ['1 Jan 2024 12:00:00 MST', '2024-01-01T19:00:00.000Z'],
    ['1 Jan 2024 12:00:00 MDT', '2024-01-01T18:00:00.000Z'],
    ['1 Jan 2024 12:00:00 PST', '2024-01-01T20:00:00.000Z'],
    ['1 Jan 2024 12:00:00 PDT', '2024-01-01T19:00:00.000Z'],
    // military zones are -0000 (RFC 5322 §4.3), whatever letter
    ['1 Jan 2024 12:00:00 A', '2024-01-01T12:00:00.000Z'],
    ['1 Jan 2024 12:00:00 M', '2024-01-01T12:00:00.000Z'],
    ['1 Jan 2024 12:00:00 Y', '2024-01-01T12:00:00.000Z'],
    ['1 Jan 2024 12:00:00 Z', '2024-01-01T12:00:00.000Z'],
    // missing day of week, missing seconds
    ['1 Jan 2024 12:00 +0100', '2024-01-01T11:00:00.000Z'],
  ])
})

test('parseDate reads the broken forms seen in real mail', () => {
  check([
    ['thu, 26 nov 2026 02:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    ['THU, 26 NOV 2026 02:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    ['Thursday, 26 November 2026 02:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    ['Thur, 26 Sept 2026 02:53:00 +0000', '2026-09-26T02:53:00.000Z'],
    ['Thu 26 Nov 2026 02:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    ['Thu., 26 Nov 2026 02:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    ['Thursday, 26-Nov-26 02:53:00 GMT', '2026-11-26T02:53:00.000Z'],
    ['26-Nov-2026 02:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    ['Thu, 26 Nov 2026, 02:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 0100', '2026-11-26T01:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 +01:00', '2026-11-26T01:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 +01', '2026-11-26T01:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 -530', '2026-11-26T08:23:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 CET', '2026-11-26T01:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 CEST', '2026-11-26T00:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 MET DST', '2026-11-26T00:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 UTC', '2026-11-26T02:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 utc', '2026-11-26T02:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 GMT+0100', '2026-11-26T01:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 GMT-05:00', '2026-11-26T07:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 XYZT', '2026-11-26T02:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 +0100 (CET)', '2026-11-26T01:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 (CET)', '2026-11-26T02:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00', '2026-11-26T02:53:00.000Z'],
    ['Thu, 26 Nov 2026', '2026-11-26T00:00:00.000Z'],
    ['Thu, 26 Nov 2026 2:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    ['Thu, 26 Nov 2026 10.30.00 +0000', '2026-11-26T10:30:00.000Z'],
    ['Thu, 26 Nov 2026 10.30 +0000', '2026-11-26T10:30:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 PM +0000', '2026-11-26T14:53:00.000Z'],
    ['Thu, 26 Nov 2026 12:53:00 AM +0000', '2026-11-26T00:53:00.000Z'],
    ['Thu, 26 Nov 2026 02:53:00 +0000 GMT', '2026-11-26T02:53:00.000Z'],
    [
      'Thu, 26 Nov 2026 02:53:00 +0000 (added by postmaster@example.com)',
      '2026-11-26T02:53:00.000Z',
    ],
    ['Thu, 26 Nov 2026 02:53:00 +0000 trailing junk 12:00', '2026-11-26T02:53:00.000Z'],
    ['  \tThu,\t26 Nov 2026 02:53:00 +0000  ', '2026-11-26T02:53:00.000Z'],
    // the day of week is not checked against the date
    ['Mon, 26 Nov 2026 02:53:00 +0000', '2026-11-26T02:53:00.000Z'],
    // an offset with minutes past 59 is an unknown zone, not a reason to lose the date
    ['Thu, 26 Nov 2026 02:53:00 +0060', '2026-11-26T02:53:00.000Z'],
  ])
})

test('parseDate reads ISO 8601 and asctime dates', () => {
  check([
    ['2024-03-01T10:00:00Z', '2024-03-01T10:00:00.000Z'],
    ['2024-03-01T10:00:00+01:00', '2024-03-01T09:00:00.000Z'],
    ['2024-03-01T10:00:00.123-0500', '2024-03-01T15:00:00.123Z'],
    ['2024-03-01 10:00:00 +0000', '2024-03-01T10:00:00.000Z'],
    ['2024-03-01t10:00z', '2024-03-01T10:00:00.000Z'],
    ['2024-03-01', '2024-03-01T00:00:00.000Z'],
    ['Thu Nov 26 02:53:00 2026', '2026-11-26T02:53:00.000Z'],
    ['Thu Nov  6 02:53:00 2026', '2026-11-06T02:53:00.000Z'],
    ['Thu Nov 26 02:53:00 UTC 2026', '2026-11-26T02:53:00.000Z'],
    ['Thu Nov 26 02:53:00 CET 2026', '2026-11-26T01:53:00.000Z'],
    ['Thu Nov 26 02:53:00 2026 +0100', '2026-11-26T01:53:00.000Z'],
    ['Nov 26 2026 02:53:00 +0100', '2026-11-26T01:53:00.000Z'],
    ['Thu, Nov 26, 2026 02:53:00 PM', '2026-11-26T14:53:00.000Z'],
  ])
})

test('parseDate refuses impossible and ambiguous dates', () => {
  check([
    ['', null],
    ['   ', null],
    ['(just a comment)', null],
    ['yesterday', null],
    ['Thu, 30 Feb 2026 10:00:00 +0000', null],
    ['Thu, 29 Feb 2026 10:00:00 +0000', null],
    ['Thu, 29 Feb 1900 10:00:00 +0000', null],
    ['Thu, 31 Apr 2026 10:00:00 +0000', null],
    ['Thu, 0 Nov 2026 10:00:00 +0000', null],
    ['Thu, 32 Nov 2026 10:00:00 +0000', null],
    ['Thu, 26 Nov 2026 25:00:00 +0000', null],
    ['Thu, 26 Nov 2026 24:00:00 +0000', null],
    ['Thu, 26 Nov 2026 10:60:00 +0000', null],
    ['Thu, 26 Nov 2026 10:00:61 +0000', null],
    ['Thu, 26 Foo 2026 10:00:00 +0000', null],
    ['Thu, 26 Nov 2 10:00:00 +0000', null],
    ['Thu, 26 Nov 20266 10:00:00 +0000', null],
    ['Thu, 123 Nov 2026 10:00:00 +0000', null],
    ['Thu, Nov 2026 10:00:00 +0000', null],
    // numeric months are never guessed: is this 1 March or 3 January?
    ['01/03/2024 10:00:00 +0000', null],
    ['1.3.2024 10:00:00 +0000', null],
    ['03-01-2024', null],
    ['2024-13-01T10:00:00Z', null],
    ['2024-02-30T10:00:00Z', null],
    ['2024-003-01T10:00:00Z', null],
  ])
})

test('parseDate keeps years before 100 as they are', () => {
  assert.equal(parseDate('Sat, 1 Jan 0099 00:00:00 +0000')?.getUTCFullYear(), 99)
})

test('formatDate writes RFC 5322 date-times in the given zone', () => {
  const instant = new Date('2026-11-26T02:53:00.789Z')
  const cases: [Date, number | undefined, string][] = [
    [instant, undefined, 'Thu, 26 Nov 2026 02:53:00 +0000'],
    [instant, 0, 'Thu, 26 Nov 2026 02:53:00 +0000'],
    [instant, -0, 'Thu, 26 Nov 2026 02:53:00 +0000'],
    [instant, 60, 'Thu, 26 Nov 2026 03:53:00 +0100'],
    [instant, -330, 'Wed, 25 Nov 2026 21:23:00 -0530'],
    [instant, 5999, 'Mon, 30 Nov 2026 06:52:00 +9959'],
    [new Date('2026-11-05T09:05:07Z'), 0, 'Thu, 05 Nov 2026 09:05:07 +0000'],
    [new Date('1969-02-14T03:02:54Z'), -210, 'Thu, 13 Feb 1969 23:32:54 -0330'],
    [new Date('0099-06-15T00:00:00Z'), 0, 'Mon, 15 Jun 0099 00:00:00 +0000'],
    [new Date('2024-02-29T23:59:59.999Z'), 1, 'Fri, 01 Mar 2024 00:00:59 +0001'],
  ]
  for (const [date, offset, expected] of cases) {
    assert.equal(formatDate(date, offset), expected, `${date.toISOString()} ${offset}`)
  }
})

test('formatDate refuses an invalid date, a zone it cannot write and a year past 9999', () => {
  assert.throws(() => formatDate(new Date(Number.NaN)), /Cannot format an invalid date/)
  assert.throws(() => formatDate(new Date(0), 6000), /Cannot format a date with offset "6000"/)
  assert.throws(() => formatDate(new Date(0), 1.5), /Cannot format a date with offset "1.5"/)
  assert.throws(
    () => formatDate(new Date('+010000-01-01T00:00:00Z')),
    /Cannot format the year "10000"/,
  )
})
