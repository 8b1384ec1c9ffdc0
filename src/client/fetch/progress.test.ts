import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Progress } from './progress.ts'

test('the bar fills with the messages, and says how much of the total has come', () => {
  const drawn: string[] = []
  const progress = new Progress((text) => drawn.push(text), 4, 4 * 1024 * 1024)
  for (let i = 0; i < 4; i += 1) progress.advance(1024 * 1024)
  progress.finish()
  // The first and the last are always drawn; in between at most ten times a second.
  assert.ok(drawn.length >= 2)
  assert.equal(drawn[0], `\r[${'#'.repeat(8)}${'-'.repeat(22)}] 1/4 messages, 1.0 of 4.0 MB`)
  assert.equal(drawn.at(-2), `\r[${'#'.repeat(30)}] 4/4 messages, 4.0 of 4.0 MB`)
  assert.equal(drawn.at(-1), '\r\u001b[K')
})

test('nothing is drawn without a terminal, or for a single message', () => {
  const quiet = new Progress(null, 10, 100)
  quiet.advance(10)
  quiet.finish()
  const drawn: string[] = []
  const single = new Progress((text) => drawn.push(text), 1, 100)
  single.advance(100)
  single.finish()
  assert.deepEqual(drawn, [])
})
