import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { crlfSize } from '../../mime/index.ts'
import { MessageEncoder } from './message-encoder.ts'

/** What a POP3 client does with a multi-line response (RFC 1939 §3), the slow obvious way. */
function clientDecode(wire: Buffer): { lines: string[]; terminated: boolean } {
  const text = wire.toString('latin1')
  const lines: string[] = []
  let at = 0
  for (;;) {
    const end = text.indexOf('\r\n', at)
    if (end < 0) return { lines, terminated: false }
    const line = text.slice(at, end)
    at = end + 2
    if (line === '.') return { lines, terminated: at === text.length }
    lines.push(line.startsWith('.') ? line.slice(1) : line)
  }
}

const messageBytes = fc
  .array(
    fc.oneof(
      fc.constantFrom('\r\n', '\n', '\r', '.', '..', '\r\n.\r\n', '\n.\n', ' '),
      fc.string({ maxLength: 8 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => Buffer.from(parts.join(''), 'latin1'))

function run(bytes: Buffer, chunkSizes: number[], bodyLines: number | null): Buffer {
  const encoder = new MessageEncoder({ bodyLines })
  const out: Buffer[] = []
  let at = 0
  let turn = 0
  while (at < bytes.length && !encoder.isDone) {
    const size = chunkSizes[turn % chunkSizes.length] as number
    out.push(encoder.push(bytes.subarray(at, at + size)))
    at += size
    turn += 1
  }
  out.push(encoder.end())
  return Buffer.concat(out)
}

test('RETR round trip: the client reads back the CRLF form, exactly crlfSize octets, once', () => {
  fc.assert(
    fc.property(
      messageBytes,
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }),
      (bytes, chunkSizes) => {
        const wire = run(bytes, chunkSizes, null)
        // No bare LF on the wire, and the only line that is exactly "." is the last.
        for (let i = 0; i < wire.length; i += 1) {
          if (wire[i] === 0x0a) assert.equal(wire[i - 1], 0x0d)
        }
        const { lines, terminated } = clientDecode(wire)
        assert.ok(terminated)
        const body = lines.map((line) => `${line}\r\n`).join('')
        assert.equal(Buffer.byteLength(body, 'latin1'), crlfSize(bytes))
        const expected = bytes.toString('latin1').replace(/(?<!\r)\n/g, '\r\n')
        const normalized = expected === '' || expected.endsWith('\n') ? expected : `${expected}\r\n`
        assert.equal(body, normalized)
      },
    ),
    { numRuns: 2000 },
  )
})

test('TOP n is a prefix of RETR that ends after the header and n body lines', () => {
  fc.assert(
    fc.property(messageBytes, fc.integer({ min: 0, max: 5 }), (bytes, n) => {
      const whole = clientDecode(run(bytes, [3], null)).lines
      const top = clientDecode(run(bytes, [2], n))
      assert.ok(top.terminated)
      assert.deepEqual(top.lines, whole.slice(0, top.lines.length))
      const blank = whole.indexOf('')
      const expected = blank < 0 ? whole.length : Math.min(whole.length, blank + 1 + n)
      assert.equal(top.lines.length, expected)
    }),
    { numRuns: 2000 },
  )
})
