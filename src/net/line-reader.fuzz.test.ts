import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import fc from 'fast-check'
import { LineReader, LineTooLongError } from './line-reader.ts'

type Outcome = string | 'TOO_LONG'

/** The specification, written the slow obvious way: split on LF, judge each line whole. */
function referenceLines(input: Buffer, maxOctets: number): Outcome[] {
  const outcomes: Outcome[] = []
  let start = 0
  for (;;) {
    const lf = input.indexOf(0x0a, start)
    if (lf < 0) {
      // A partial last line is dropped, but one already past the limit is reported first.
      if (input.length - start >= maxOctets) outcomes.push('TOO_LONG')
      return outcomes
    }
    const line = input.subarray(start, lf + 1)
    if (line.length > maxOctets) outcomes.push('TOO_LONG')
    else {
      const end =
        line.length >= 2 && line[line.length - 2] === 0x0d ? line.length - 2 : line.length - 1
      outcomes.push(line.subarray(0, end).toString('latin1'))
    }
    start = lf + 1
  }
}

async function readerLines(
  chunks: Buffer[],
  maxOctets: number,
  highWaterOctets: number,
): Promise<Outcome[]> {
  const source = new PassThrough()
  const reader = new LineReader(source, { highWaterOctets })
  const writing = (async () => {
    for (const chunk of chunks) {
      if (!source.write(chunk)) await new Promise((resolve) => source.once('drain', resolve))
      await new Promise((resolve) => setImmediate(resolve))
    }
    source.end()
  })()
  const outcomes: Outcome[] = []
  for (;;) {
    try {
      const line = await reader.readLine(maxOctets)
      if (line === null) break
      outcomes.push(line.bytes.toString('latin1'))
    } catch (error) {
      assert.ok(error instanceof LineTooLongError, `unexpected ${String(error)}`)
      outcomes.push('TOO_LONG')
    }
    assert.ok(reader.bufferedOctets <= Math.max(highWaterOctets, maxOctets) + 64)
  }
  await writing
  return outcomes
}

// Bytes biased towards the ones that matter (CR, LF, '.') so line ends come often.
const byte = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0x0d, 0x0a, 0x2e) },
  { weight: 7, arbitrary: fc.integer({ min: 0, max: 255 }) },
)

test('readLine agrees with a plain LF split for any input, chunking and limit', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(byte, { maxLength: 600 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 2, max: 80 }),
      fc.integer({ min: 8, max: 256 }),
      async (bytes, cuts, maxOctets, highWaterOctets) => {
        const input = Buffer.from(bytes)
        const chunks: Buffer[] = []
        for (let offset = 0, i = 0; offset < input.length; i += 1) {
          const size = cuts[i % cuts.length] ?? 1
          chunks.push(input.subarray(offset, offset + size))
          offset += size
        }
        assert.deepEqual(
          await readerLines(chunks, maxOctets, highWaterOctets),
          referenceLines(input, maxOctets),
        )
      },
    ),
    { numRuns: 300 },
  )
})

test('readExact and readLine interleave exactly for any chunking', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 50 })), {
        maxLength: 10,
      }),
      fc.integer({ min: 1, max: 17 }),
      async (frames, chunkSize) => {
        // IMAP-like framing: a line announcing {n}, then n arbitrary octets (CR and LF included).
        const parts = frames.flatMap(([label, payload]) => [
          Buffer.from(`${label.replace(/[\r\n]/g, '')} {${payload.length}}\r\n`),
          Buffer.from(payload),
        ])
        const input = Buffer.concat(parts)
        const source = new PassThrough()
        const reader = new LineReader(source)
        for (let offset = 0; offset < input.length; offset += chunkSize) {
          source.write(input.subarray(offset, offset + chunkSize))
        }
        source.end()
        for (const [label, payload] of frames) {
          const line = await reader.readLine(1000)
          assert.equal(
            line?.bytes.toString(),
            `${label.replace(/[\r\n]/g, '')} {${payload.length}}`,
          )
          assert.deepEqual(new Uint8Array(await reader.readExact(payload.length)), payload)
        }
        assert.equal(await reader.readLine(1000), null)
      },
    ),
    { numRuns: 200 },
  )
})
