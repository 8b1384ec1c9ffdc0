import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatHostPort, type HostPort, parseHostPort } from './address.ts'

/** The error text, failing the test when the value parsed. */
function refusal(value: string, defaultPort?: number): string {
  const parsed = parseHostPort(value, defaultPort)
  assert.equal(
    typeof parsed,
    'string',
    `${JSON.stringify(value)} parsed as ${JSON.stringify(parsed)}`,
  )
  return parsed as string
}

test('parseHostPort reads an IPv4 address with a port', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:2525'), { host: '127.0.0.1', port: 2525 })
  assert.deepEqual(parseHostPort('0.0.0.0:25'), { host: '0.0.0.0', port: 25 })
})

test('parseHostPort reads a bracketed IPv6 address with a port, without the brackets', () => {
  assert.deepEqual(parseHostPort('[::1]:2143'), { host: '::1', port: 2143 })
  assert.deepEqual(parseHostPort('[::]:993'), { host: '::', port: 993 })
  assert.deepEqual(parseHostPort('[2001:db8::25]:587'), { host: '2001:db8::25', port: 587 })
})

test('parseHostPort accepts the port bounds 1 and 65535', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:1'), { host: '127.0.0.1', port: 1 })
  assert.deepEqual(parseHostPort('[::1]:65535'), { host: '::1', port: 65535 })
})

test('parseHostPort refuses an IPv6 address without brackets and shows the bracketed form', () => {
  assert.equal(refusal(':::25'), '":::25" needs brackets around the IPv6 address ([::]:PORT)')
  assert.equal(
    refusal('1:2:3:4:5:6:7:8:2525'),
    '"1:2:3:4:5:6:7:8:2525" needs brackets around the IPv6 address ([1:2:3:4:5:6:7:8]:PORT)',
  )
})

test('parseHostPort refuses "::1:2525" with the bracket hint, not "has no port"', () => {
  assert.match(refusal('::1:2525'), /needs brackets/)
  assert.match(refusal('2001:db8::1:25'), /needs brackets/)
})

test('parseHostPort refuses host names: listeners bind to IP literals only', () => {
  assert.equal(
    refusal('localhost'),
    '"localhost" is not an address (expected IP:PORT such as 127.0.0.1:2525)',
  )
  assert.equal(
    refusal('localhost:25'),
    '"localhost:25" is not an address: "localhost" is not an IP address (expected IP:PORT such as 127.0.0.1:2525)',
  )
  assert.match(refusal('mail.example.com:25'), /"mail\.example\.com" is not an IP address/)
  // A default port does not let a name through either.
  assert.match(refusal('dns.example.com', 53), /is not an address/)
})

test('parseHostPort refuses something other than IPv6 between brackets', () => {
  assert.equal(
    refusal('[127.0.0.1]:25'),
    '"[127.0.0.1]:25" has no IPv6 address between the brackets',
  )
  assert.match(refusal('[localhost]:25'), /has no IPv6 address between the brackets/)
})

test('parseHostPort refuses port 0 and port 65536', () => {
  assert.equal(refusal('127.0.0.1:0'), '"127.0.0.1:0" has port 0, outside 1-65535')
  assert.equal(refusal('127.0.0.1:65536'), '"127.0.0.1:65536" has port 65536, outside 1-65535')
  assert.equal(refusal('[::1]:0'), '"[::1]:0" has port 0, outside 1-65535')
  assert.equal(refusal('[::1]:99999'), '"[::1]:99999" has port 99999, outside 1-65535')
})

test('parseHostPort refuses a port that is not a number', () => {
  for (const value of [
    '127.0.0.1:smtp',
    '127.0.0.1:',
    '127.0.0.1:25x',
    '127.0.0.1:-25',
    '127.0.0.1:+25',
    '127.0.0.1: 25',
    '127.0.0.1:2.5',
    '[::1]:',
    '[::1]:imap',
  ]) {
    assert.equal(refusal(value), `"${value}" has a port that is not a number`)
  }
  assert.match(refusal('127.0.0.1:123456'), /^"127\.0\.0\.1:123456" has/)
})

test('parseHostPort refuses an address without a port when there is no default', () => {
  assert.equal(refusal('127.0.0.1'), '"127.0.0.1" has no port (expected IP:PORT)')
  assert.equal(refusal('[::1]'), '"[::1]" has no port (expected IP:PORT)')
})

test('parseHostPort applies the default port to a bare address (DNS servers: 53)', () => {
  assert.deepEqual(parseHostPort('127.0.0.1', 53), { host: '127.0.0.1', port: 53 })
  assert.deepEqual(parseHostPort('[::1]', 53), { host: '::1', port: 53 })
  assert.deepEqual(parseHostPort('192.0.2.1', 853), { host: '192.0.2.1', port: 853 })
})

test('parseHostPort keeps an explicit port over the default', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:10053', 53), { host: '127.0.0.1', port: 10053 })
  assert.deepEqual(parseHostPort('[::1]:10053', 53), { host: '::1', port: 10053 })
  // The default does not relax the port checks.
  assert.equal(refusal('127.0.0.1:0', 53), '"127.0.0.1:0" has port 0, outside 1-65535')
})

test('parseHostPort refuses the empty string', () => {
  assert.match(refusal(''), /is not an address/)
  assert.match(refusal('', 53), /is not an address/)
})

test('formatHostPort writes IPv4 as IP:PORT and brackets IPv6', () => {
  assert.equal(formatHostPort({ host: '127.0.0.1', port: 2525 }), '127.0.0.1:2525')
  assert.equal(formatHostPort({ host: '::1', port: 2143 }), '[::1]:2143')
  assert.equal(formatHostPort({ host: '::', port: 25 }), '[::]:25')
})

test('formatHostPort and parseHostPort round-trip', () => {
  for (const text of [
    '127.0.0.1:2525',
    '0.0.0.0:25',
    '[::1]:2143',
    '[::]:993',
    '[2001:db8::1]:1',
  ]) {
    const parsed = parseHostPort(text)
    assert.notEqual(typeof parsed, 'string', `${text} did not parse: ${String(parsed)}`)
    assert.equal(formatHostPort(parsed as HostPort), text)
  }
  for (const address of [
    { host: '192.0.2.7', port: 65535 },
    { host: 'fe80::1', port: 110 },
  ]) {
    assert.deepEqual(parseHostPort(formatHostPort(address)), address)
  }
})
