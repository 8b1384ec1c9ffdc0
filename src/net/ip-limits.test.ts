import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConnectionLimiter, limitKey } from './ip-limits.ts'

test('limitKey counts IPv4 per address and IPv6 per /64', () => {
  assert.equal(limitKey('192.0.2.7'), '192.0.2.7')
  assert.equal(limitKey('::ffff:192.0.2.7'), '192.0.2.7')
  assert.equal(limitKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64')
  assert.equal(limitKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64')
  assert.equal(limitKey('2001:db8::1'), '2001:db8:0:0::/64')
  assert.equal(limitKey('::1'), '0:0:0:0::/64')
})

test('ConnectionLimiter admits up to the per-IP limit and frees a slot on release', () => {
  const limiter = new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIp: 2 })
  const a = limiter.admit('192.0.2.1')
  const b = limiter.admit('192.0.2.1')
  assert.equal(a.isAdmitted && b.isAdmitted, true)
  const c = limiter.admit('192.0.2.1')
  assert.equal(c.isAdmitted, false)
  assert.equal(limiter.admit('192.0.2.2').isAdmitted, true, 'another IP is not affected')
  if (a.isAdmitted) {
    a.release()
    a.release() // a second release must not free a second slot
  }
  assert.equal(limiter.countFor('192.0.2.1'), 1)
  assert.equal(limiter.admit('192.0.2.1').isAdmitted, true)
  assert.equal(limiter.admit('192.0.2.1').isAdmitted, false)
  assert.equal(limiter.total, 3)
})

test('ConnectionLimiter refuses past the total limit, whatever the IP', () => {
  const limiter = new ConnectionLimiter({ maxConnections: 2, maxConnectionsPerIp: 5 })
  assert.equal(limiter.admit('192.0.2.1').isAdmitted, true)
  assert.equal(limiter.admit('192.0.2.2').isAdmitted, true)
  const refused = limiter.admit('192.0.2.3')
  assert.equal(refused.isAdmitted, false)
  if (!refused.isAdmitted) assert.match(refused.reason, /server has 2 connections/)
})

test('IPv6 hosts in one /64 share a limit', () => {
  const limiter = new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIp: 1 })
  assert.equal(limiter.admit('2001:db8::1').isAdmitted, true)
  assert.equal(limiter.admit('2001:db8::2').isAdmitted, false)
  assert.equal(limiter.admit('2001:db8:0:1::1').isAdmitted, true)
})
