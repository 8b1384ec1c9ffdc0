import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseDuration } from './torture.ts'

test('torture durations: seconds, minutes, hours; anything else refused', () => {
  assert.equal(parseDuration('90'), 90)
  assert.equal(parseDuration('90s'), 90)
  assert.equal(parseDuration('30m'), 1800)
  assert.equal(parseDuration('1.5h'), 5400)
  for (const bad of ['', '0', '-5m', '10 min', '5d', 'm'])
    assert.equal(parseDuration(bad), null, bad)
})
