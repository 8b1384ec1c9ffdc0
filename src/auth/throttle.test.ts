import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AuthThrottle } from './throttle.ts'

function clock() {
  let now = 1_000_000
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

test('failures after the first are answered later and later, up to the maximum delay', () => {
  const { now } = clock()
  const throttle = new AuthThrottle({ maxAccountFailures: 100, maxIpFailures: 100 }, undefined, now)
  const delays = Array.from({ length: 8 }, () => throttle.recordFailure('192.0.2.1', 'alice'))
  assert.deepEqual(delays, [0, 250, 500, 1000, 2000, 4000, 8000, 8000])
})

test('an account is locked after its failure limit, from any IP, and unlocks after the lockout', () => {
  const { now, advance } = clock()
  const throttle = new AuthThrottle({ maxAccountFailures: 3, lockoutMs: 60_000 }, undefined, now)
  throttle.recordFailure('192.0.2.1', 'Alice')
  throttle.recordFailure('192.0.2.2', 'alice')
  assert.equal(throttle.check('192.0.2.3', 'ALICE').isAllowed, true)
  throttle.recordFailure('192.0.2.3', 'alice')
  const locked = throttle.check('198.51.100.9', 'alice')
  assert.equal(locked.isAllowed, false)
  if (!locked.isAllowed) assert.equal(locked.retryAfterMs, 60_000)
  assert.equal(
    throttle.check('198.51.100.9', 'bob').isAllowed,
    true,
    'other accounts are not affected',
  )
  advance(60_001)
  assert.equal(throttle.check('198.51.100.9', 'alice').isAllowed, true)
})

test('an IP is locked after its failure limit across accounts', () => {
  const { now } = clock()
  const throttle = new AuthThrottle({ maxIpFailures: 5, maxAccountFailures: 100 }, undefined, now)
  for (let i = 0; i < 5; i += 1) throttle.recordFailure('203.0.113.7', `user${i}`)
  assert.equal(throttle.check('203.0.113.7', 'someone-new').isAllowed, false)
  assert.equal(throttle.check('203.0.113.8', 'someone-new').isAllowed, true)
})

test('failures older than the window are forgotten; a success clears the account count', () => {
  const { now, advance } = clock()
  const throttle = new AuthThrottle({ maxAccountFailures: 3, windowMs: 10_000 }, undefined, now)
  throttle.recordFailure('192.0.2.1', 'alice')
  throttle.recordFailure('192.0.2.1', 'alice')
  advance(10_001)
  throttle.recordFailure('192.0.2.1', 'alice')
  assert.equal(throttle.check('192.0.2.1', 'alice').isAllowed, true, 'the window restarted')
  throttle.recordFailure('192.0.2.1', 'alice')
  throttle.recordSuccess('alice')
  throttle.recordFailure('192.0.2.1', 'alice')
  assert.equal(throttle.check('192.0.2.1', 'alice').isAllowed, true)
})

test('the throttle tracks a bounded number of keys', () => {
  const throttle = new AuthThrottle({ maxEntries: 100 })
  for (let i = 0; i < 1000; i += 1) throttle.recordFailure(`10.0.${i >> 8}.${i & 255}`, null)
  assert.ok(throttle.size <= 100)
})

test('a lockout is logged with the key and the count', () => {
  const lines: Array<{ fields: object; message: string }> = []
  const log = {
    trace() {},
    debug() {},
    info() {},
    warn: (fields: object, message: string) => lines.push({ fields, message }),
    error() {},
    fatal() {},
    child() {
      return log
    },
  }
  const throttle = new AuthThrottle({ maxAccountFailures: 2 }, log)
  throttle.recordFailure('192.0.2.1', 'alice')
  throttle.recordFailure('192.0.2.1', 'alice')
  assert.equal(lines.length, 1)
  assert.match(lines[0]?.message ?? '', /locked/)
  assert.deepEqual(lines[0]?.fields, {
    key: 'account:alice',
    failures: 2,
    lockoutMs: 900_000,
    ip: '192.0.2.1',
  })
})
