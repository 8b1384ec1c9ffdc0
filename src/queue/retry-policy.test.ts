import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decideRetry, shouldWarnDelay } from './retry-policy.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const config = {
  retryMinMs: 5 * MINUTE,
  retryMaxMs: 4 * HOUR,
  lifetimeMs: 5 * 24 * HOUR,
  delayWarningMs: 4 * HOUR,
}
const created = new Date('2026-11-26T00:00:00Z')
const entry = { createdAt: created }

test('the wait doubles from the minimum up to the maximum', () => {
  const now = created.getTime() + MINUTE
  const waits = [1, 2, 3, 4, 5, 6, 7, 8, 20, 1000].map((attempts) => {
    const decision = decideRetry(config, entry, attempts, now, () => 0.5)
    assert.equal(decision.kind, 'retry')
    return decision.kind === 'retry' ? (decision.at.getTime() - now) / MINUTE : 0
  })
  assert.deepEqual(waits, [5, 10, 20, 40, 80, 160, 240, 240, 240, 240])
})

test('jitter stays within 10% either way', () => {
  const now = created.getTime()
  const low = decideRetry(config, entry, 1, now, () => 0)
  const high = decideRetry(config, entry, 1, now, () => 0.999_999)
  assert.equal(low.kind === 'retry' && low.at.getTime() - now, 4.5 * MINUTE)
  assert.ok(high.kind === 'retry' && high.at.getTime() - now <= 5.5 * MINUTE)
})

test('the last retry falls at the end of the lifetime, and after it the message expires', () => {
  const end = created.getTime() + config.lifetimeMs
  const late = decideRetry(config, entry, 50, end - MINUTE, () => 0.5)
  assert.deepEqual(late, { kind: 'retry', at: new Date(end) })
  assert.deepEqual(
    decideRetry(config, entry, 51, end, () => 0.5),
    { kind: 'expired' },
  )
})

test('a delay notice goes once, after the warning time, unless NOTIFY or the sender forbid it', () => {
  const sender = { createdAt: created, sender: 'alice@example.test' }
  const after = created.getTime() + 4 * HOUR
  const before = after - 1
  const plain = { notify: null, delayNotified: false }
  assert.equal(shouldWarnDelay(config, sender, plain, after), true)
  assert.equal(shouldWarnDelay(config, sender, plain, before), false)
  assert.equal(shouldWarnDelay(config, sender, { ...plain, delayNotified: true }, after), false)
  assert.equal(shouldWarnDelay(config, sender, { ...plain, notify: ['failure'] }, after), false)
  assert.equal(shouldWarnDelay(config, sender, { ...plain, notify: [] }, after), false)
  assert.equal(shouldWarnDelay(config, sender, { ...plain, notify: ['delay'] }, after), true)
  assert.equal(shouldWarnDelay(config, { ...sender, sender: '' }, plain, after), false)
  assert.equal(shouldWarnDelay({ ...config, delayWarningMs: 0 }, sender, plain, after), false)
})
