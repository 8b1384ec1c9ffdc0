import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import fc from 'fast-check'
import { formatReply, type Reply, sanitizeReplyText } from '../proto/index.ts'
import { ReplyReader, SmtpReplyError } from './reply-reader.ts'

/** Reads replies until the end or an error; fails the property if that takes too long. */
async function drain(chunks: Buffer[]): Promise<{ replies: Reply[]; error: unknown }> {
  const reader = new ReplyReader(Readable.from(chunks))
  const replies: Reply[] = []
  const work = (async () => {
    try {
      for (let next = await reader.read(); next !== null; next = await reader.read()) {
        replies.push(next)
      }
      return { replies, error: null }
    } catch (error) {
      return { replies, error }
    }
  })()
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the reader hung')), 2_000)
  })
  try {
    return await Promise.race([work, hang])
  } finally {
    clearTimeout(timer)
  }
}

// Bytes that are mostly reply-shaped, so the fuzzer reaches past the first line.
const replyishByte = fc.oneof(
  fc.constantFrom(...Buffer.from('0123456789 -.\r\n\r\n250-451 5.1.1 ')),
  fc.integer({ min: 0, max: 255 }),
)
const stream = fc.array(fc.uint8Array({ minLength: 0, maxLength: 64 }), { maxLength: 20 })
const replyishStream = fc.array(
  fc.array(replyishByte, { maxLength: 64 }).map((octets) => Uint8Array.from(octets)),
  { maxLength: 20 },
)

test('random bytes give replies, the end, or SmtpReplyError, and never hang', async () => {
  for (const source of [stream, replyishStream]) {
    await fc.assert(
      fc.asyncProperty(source, async (parts) => {
        const { replies, error } = await drain(parts.map((part) => Buffer.from(part)))
        if (error !== null) assert.ok(error instanceof SmtpReplyError, String(error))
        for (const reply of replies) {
          assert.ok(reply.code >= 200 && reply.code <= 599)
          assert.ok(reply.lines.length >= 1 && reply.lines.length <= 200)
        }
      }),
      { numRuns: 300 },
    )
  }
})

test('long random lines and endless streams stay bounded', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 4000, max: 20_000 }), async (length) => {
      const { error } = await drain([Buffer.from(`250-${'x'.repeat(length)}`)])
      // Either the bound fired or the stream ended inside a line that fit.
      if (error !== null) assert.ok(error instanceof SmtpReplyError)
    }),
    { numRuns: 30 },
  )
})

const text = fc.string({ maxLength: 80 }).map((value) => value.replace(/[\r\n]/g, ' '))
const arbitraryReply = fc
  .record({
    code: fc.integer({ min: 200, max: 599 }),
    hasStatus: fc.boolean(),
    subject: fc.integer({ min: 0, max: 999 }),
    detail: fc.integer({ min: 0, max: 999 }),
    lines: fc.array(text, { minLength: 1, maxLength: 10 }),
  })
  .map(({ code, hasStatus, subject, detail, lines }): Reply => {
    const klass = Math.floor(code / 100)
    const status = hasStatus && klass !== 3 ? `${klass}.${subject}.${detail}` : null
    // Text starting like a status code, or with spaces after one, would read differently
    // (RFC 2034 §3: the code is followed by one or more spaces): "x" keeps it unambiguous.
    return { code, status, lines: lines.map((line) => `x${line}`) }
  })

test('what formatReply writes reads back as the same reply, however it is split', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(arbitraryReply, { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      async (replies, cuts) => {
        const wire = Buffer.from(replies.map(formatReply).join(''))
        const points = [...new Set(cuts.map((cut) => cut % (wire.length + 1)))].sort(
          (a, b) => a - b,
        )
        const chunks: Buffer[] = []
        let start = 0
        for (const point of points) {
          chunks.push(wire.subarray(start, point))
          start = point
        }
        chunks.push(wire.subarray(start))
        const { replies: read, error } = await drain(chunks)
        assert.equal(error, null)
        const sanitized = replies.map((reply) => ({
          ...reply,
          lines: reply.lines.map(sanitizeReplyText),
        }))
        assert.deepEqual(read, sanitized)
      },
    ),
    { numRuns: 300 },
  )
})
