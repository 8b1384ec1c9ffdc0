import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { socketPair } from '../../test/support/socket-pair.ts'
import { READ_HIGH_WATER_OCTETS } from './limits.ts'
import { ConnectionClosedError, LineReader, LineTooLongError } from './line-reader.ts'

const text = (line: { bytes: Buffer } | null) => line?.bytes.toString('latin1') ?? null

test('readLine yields pipelined lines one at a time, with their line ends', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  client.write('EHLO a\r\nMAIL FROM:<b>\nRCPT TO:<c>\r\n')
  assert.deepEqual(await reader.readLine(512), { bytes: Buffer.from('EHLO a'), isCrlf: true })
  assert.deepEqual(await reader.readLine(512), {
    bytes: Buffer.from('MAIL FROM:<b>'),
    isCrlf: false,
  })
  assert.equal(text(await reader.readLine(512)), 'RCPT TO:<c>')
})

test('readLine assembles a line sent one byte at a time', async (t) => {
  const { server, client } = await socketPair(t)
  client.setNoDelay(true)
  const reader = new LineReader(server)
  const message = 'A1 LOGIN alice "secret"\r\nA2 NOOP\r\n'
  const sending = (async () => {
    for (const byte of Buffer.from(message)) {
      client.write(Buffer.from([byte]))
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  assert.equal(text(await reader.readLine(1000)), 'A1 LOGIN alice "secret"')
  assert.equal(text(await reader.readLine(1000)), 'A2 NOOP')
  await sending
})

test('readLine keeps a CR that is not followed by LF inside the line', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  client.write('a\rb\r')
  client.write('\nnext\r\n')
  assert.deepEqual(await reader.readLine(100), { bytes: Buffer.from('a\rb'), isCrlf: true })
  assert.equal(text(await reader.readLine(100)), 'next')
})

test('readLine accepts a line of exactly the limit and refuses one octet more', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  // The limit counts the CRLF, as RFC 5321 §4.5.3.1.4 does.
  client.write(`${'x'.repeat(8)}\r\n${'y'.repeat(9)}\r\nafter\r\n`)
  assert.equal(text(await reader.readLine(10)), 'x'.repeat(8))
  await assert.rejects(reader.readLine(10), (error: unknown) => {
    assert.ok(error instanceof LineTooLongError)
    assert.equal(error.max, 10)
    assert.equal(error.actual, 11)
    return true
  })
  assert.equal(text(await reader.readLine(10)), 'after')
})

test('a 100 MB line fails at the limit, is skipped without being buffered, and the next line reads', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  const max = 1000
  let peakBuffered = 0
  server.on('data', () => {
    peakBuffered = Math.max(peakBuffered, reader.bufferedOctets)
  })
  const megabyte = Buffer.alloc(1024 * 1024, 0x61)
  const sending = (async () => {
    for (let i = 0; i < 100; i += 1) {
      if (!client.write(megabyte)) await once(client, 'drain')
    }
    client.write('\r\nQUIT\r\n')
  })()
  await assert.rejects(reader.readLine(max), LineTooLongError)
  // The rest of the line is skipped as it arrives; the next readLine waits for its end.
  assert.equal(text(await reader.readLine(max)), 'QUIT')
  await sending
  // What the reader holds is the bound that matters (process RSS is too noisy to assert on).
  assert.ok(peakBuffered <= max + 2 * 65536, `buffered ${peakBuffered} octets`)
})

test('readLine returns null at the end of the stream, dropping a partial line', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  client.end('last\r\npartial')
  assert.equal(text(await reader.readLine(100)), 'last')
  assert.equal(await reader.readLine(100), null)
  assert.equal(await reader.readLine(100), null)
  assert.equal(reader.isEnded, true)
})

test('readExact returns a count split across packets and leaves what follows', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  client.write('A1 APPEND INBOX {11}\r\nHello')
  setTimeout(() => client.write(' world\r\nA2 NOOP\r\n'), 20)
  assert.equal(text(await reader.readLine(1000)), 'A1 APPEND INBOX {11}')
  assert.equal((await reader.readExact(11)).toString(), 'Hello world')
  assert.equal(text(await reader.readLine(1000)), '')
  assert.equal(text(await reader.readLine(1000)), 'A2 NOOP')
})

test('readStream yields 20 MB in pieces without holding it, then the next line', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  const size = 20 * 1024 * 1024
  const sending = (async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x62)
    for (let i = 0; i < 20; i += 1) {
      if (!client.write(chunk)) await once(client, 'drain')
    }
    client.write('NEXT\r\n')
  })()
  let total = 0
  let largest = 0
  for await (const piece of reader.readStream(size)) {
    total += piece.length
    largest = Math.max(largest, piece.length)
    assert.ok(reader.bufferedOctets <= READ_HIGH_WATER_OCTETS + 65536)
  }
  assert.equal(total, size)
  assert.ok(largest <= READ_HIGH_WATER_OCTETS + 65536, `a piece of ${largest} octets`)
  assert.equal(text(await reader.readLine(100)), 'NEXT')
  await sending
})

test('readExact rejects with ConnectionClosedError when the peer closes early', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  client.end('short')
  await assert.rejects(reader.readExact(10), ConnectionClosedError)
})

test('readChunk returns buffered octets, then null at the end', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  client.end('abc')
  assert.equal((await reader.readChunk())?.toString(), 'abc')
  assert.equal(await reader.readChunk(), null)
})

test('the reader stops reading the socket past its high-water mark (back-pressure)', async (t) => {
  const { server, client } = await socketPair(t)
  const highWaterOctets = 64 * 1024
  const reader = new LineReader(server, { highWaterOctets })
  const chunk = Buffer.alloc(64 * 1024, 0x63)
  // 32 MB queued at once and nobody reading: far more than the kernel's socket buffers hold, so
  // if the reader kept reading it would hold megabytes.
  for (let i = 0; i < 512; i += 1) client.write(chunk)
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.ok(
    reader.bufferedOctets <= highWaterOctets + chunk.length,
    `buffered ${reader.bufferedOctets}`,
  )
  const stalled = client.writableLength
  assert.ok(stalled > 0, 'the client should be held back by TCP flow control')
  // Reading resumes the flow: everything arrives, and the reader never held more than its mark.
  let read = 0
  while (read < 512 * chunk.length) {
    read += (await reader.readChunk())?.length ?? 0
    assert.ok(reader.bufferedOctets <= highWaterOctets + chunk.length)
  }
  assert.equal(client.writableLength, 0)
})

test('discardBuffered drops what was read but not consumed', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  client.write('STARTTLS\r\nINJECTED\r\n')
  assert.equal(text(await reader.readLine(100)), 'STARTTLS')
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(reader.discardBuffered(), 'INJECTED\r\n'.length)
  client.write('CLEAN\r\n')
  assert.equal(text(await reader.readLine(100)), 'CLEAN')
})

test('unshift puts octets back in front', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  client.write('tail\r\n')
  reader.unshift(Buffer.from('head-'))
  assert.equal(text(await reader.readLine(100)), 'head-tail')
})

test('a line longer than the high-water mark but within its limit is read whole', async (t) => {
  // Found by line-reader.fuzz.test.ts: the reader paused the socket at its mark and then waited
  // forever for the rest of the line.
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  const long = 'x'.repeat(READ_HIGH_WATER_OCTETS * 2)
  client.write(`${long}\r\nafter\r\n`)
  assert.equal(text(await reader.readLine(READ_HIGH_WATER_OCTETS * 4)), long)
  assert.equal(text(await reader.readLine(100)), 'after')
})

test('a stream abandoned early skips the rest of its octets instead of reading them as lines', async (t) => {
  const { server, client } = await socketPair(t)
  const reader = new LineReader(server)
  client.write('A1 APPEND INBOX {20}\r\nfirst ten.')
  setTimeout(() => client.write('INJECTED\r\nA2 NOOP\r\n'), 30)
  assert.equal(text(await reader.readLine(100)), 'A1 APPEND INBOX {20}')
  for await (const piece of reader.readStream(20)) {
    assert.ok(piece.length > 0)
    break // the server refuses the APPEND after the first piece
  }
  assert.equal(text(await reader.readLine(100)), 'A2 NOOP')
})

test('close() ends a reader whose source will never deliver again', async (t) => {
  const { server } = await socketPair(t)
  const reader = new LineReader(server)
  const waiting = reader.readLine(100)
  reader.close()
  assert.equal(await waiting, null)
})
