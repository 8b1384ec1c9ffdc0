import type { Readable } from 'node:stream'
import { LimitError } from '../util/index.ts'
import { READ_HIGH_WATER_OCTETS } from './limits.ts'

/** One line as read: the octets without the line end, and which line end closed it. */
export interface Line {
  bytes: Buffer
  /** True for CRLF; false for a bare LF, which SMTP must treat with care (RFC 5321 §2.3.8). */
  isCrlf: boolean
}

/** A line ran past the caller's bound. The rest of it is skipped up to the next LF. */
export class LineTooLongError extends LimitError {
  override name = 'LineTooLongError'
}

/** The peer closed the connection (or it failed) while an exact count of octets was expected. */
export class ConnectionClosedError extends Error {
  override name = 'ConnectionClosedError'
}

const LF = 0x0a
const CR = 0x0d

/**
 * Reads lines and exact octet counts from a byte stream without ever buffering without bound.
 *
 * The protocols are request/response, so one reader serves one consumer at a time: a line
 * (a command), then maybe an exact count (an IMAP literal, an SMTP BDAT chunk) or raw chunks
 * (SMTP DATA). Octets that arrive before they are asked for are held up to
 * READ_HIGH_WATER_OCTETS; past that the source is paused and TCP pushes back on the peer.
 *
 * A line longer than the caller's bound fails as soon as the bound is passed, however much more
 * of it is still coming: the buffered part is dropped, and the rest is skipped as it arrives, up
 * to and including the next LF. The caller answers with its protocol's error and reads on.
 *
 * `attach`/`detach` move the reader between streams, which is how STARTTLS swaps the plain
 * socket for the TLS one (see connection.ts).
 */
export class LineReader {
  readonly #highWaterOctets: number
  #source: Readable | null = null
  #chunks: Buffer[] = []
  #buffered = 0
  /** How many of the buffered octets are known to hold no LF (saves rescanning on each chunk). */
  #scanned = 0
  #isSkippingLine = false
  #isEnded = false
  #error: Error | null = null
  #wake: (() => void) | null = null

  readonly #onData = (chunk: Buffer) => this.#push(chunk)
  readonly #onEnd = () => this.#finish(null)
  readonly #onError = (error: Error) => this.#finish(error)

  constructor(source?: Readable, options: { highWaterOctets?: number } = {}) {
    this.#highWaterOctets = options.highWaterOctets ?? READ_HIGH_WATER_OCTETS
    if (source) this.attach(source)
  }

  get bufferedOctets(): number {
    return this.#buffered
  }

  get isEnded(): boolean {
    return this.#isEnded && this.#buffered === 0
  }

  /** Whether a whole line is buffered, so that readLine will not wait for the peer. */
  hasLine(): boolean {
    return !this.#isSkippingLine && this.#findLf() >= 0
  }

  attach(source: Readable): void {
    this.detach()
    this.#source = source
    source.on('data', this.#onData)
    source.on('end', this.#onEnd)
    // A destroyed socket emits 'close' without 'end'; either way nothing more will come.
    source.on('close', this.#onEnd)
    source.on('error', this.#onError)
    this.#updateFlow()
  }

  /** Stops listening to the source and leaves it paused; buffered octets stay. */
  detach(): void {
    const source = this.#source
    if (!source) return
    source.off('data', this.#onData)
    source.off('end', this.#onEnd)
    source.off('close', this.#onEnd)
    source.off('error', this.#onError)
    source.pause()
    this.#source = null
  }

  /**
   * Ends the reader: waiting and later reads see the end of the stream (or `error`). For a
   * source that will never deliver again, such as a socket whose TLS handshake failed.
   */
  close(error: Error | null = null): void {
    this.detach()
    this.discardBuffered()
    this.#finish(error)
  }

  /**
   * Removes and returns every buffered octet: input that arrived in a new framing before the
   * reader moved streams (IMAP COMPRESS, RFC 4978 §3: compressed data may follow the command).
   */
  takeBuffered(): Buffer {
    const taken = Buffer.concat(this.#chunks)
    this.discardBuffered()
    return taken
  }

  /** Drops every buffered octet (RFC 3207 §4.2: nothing sent before TLS may be used after it). */
  discardBuffered(): number {
    const dropped = this.#buffered
    this.#chunks = []
    this.#buffered = 0
    this.#scanned = 0
    this.#updateFlow()
    return dropped
  }

  /**
   * The next line, or null when the stream ended (a partial last line is not a line).
   * `maxOctets` bounds the line including its line end, as the RFCs count it.
   * @throws LineTooLongError when the line passes maxOctets; the reader then skips the rest of it.
   */
  async readLine(maxOctets: number): Promise<Line | null> {
    for (;;) {
      if (this.#isSkippingLine) this.#skipToLineEnd()
      if (!this.#isSkippingLine) {
        const lfAt = this.#findLf()
        if (lfAt >= 0) {
          const raw = this.#take(lfAt + 1)
          if (raw.length > maxOctets) {
            throw this.#tooLong(maxOctets, raw.length)
          }
          const isCrlf = raw.length >= 2 && raw[raw.length - 2] === CR
          return { bytes: raw.subarray(0, raw.length - (isCrlf ? 2 : 1)), isCrlf }
        }
        // Without an LF in `buffered` octets, the finished line holds at least one more.
        if (this.#buffered >= maxOctets) {
          const seen = this.#buffered
          this.discardBuffered()
          this.#isSkippingLine = true
          throw this.#tooLong(maxOctets, seen + 1)
        }
      }
      if (this.#isEnded) {
        if (this.#error) throw this.#error
        this.discardBuffered()
        return null
      }
      await this.#waitForData()
    }
  }

  /** Exactly `count` octets, buffered whole: for small counts only (a SASL line, a literal). */
  async readExact(count: number): Promise<Buffer> {
    const parts: Buffer[] = []
    for await (const part of this.readStream(count)) parts.push(part)
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)
  }

  /**
   * Exactly `count` octets, yielded as they arrive, so a 50 MB literal never sits in memory.
   * @throws ConnectionClosedError when the stream ends first.
   */
  async *readStream(count: number): AsyncGenerator<Buffer, void, undefined> {
    let remaining = count
    try {
      while (remaining > 0) {
        if (this.#buffered === 0) {
          if (this.#isEnded) {
            throw (
              this.#error ??
              new ConnectionClosedError(`Connection closed ${remaining} octets short`)
            )
          }
          await this.#waitForData()
          continue
        }
        const part = this.#take(Math.min(remaining, this.#firstChunkLength()))
        remaining -= part.length
        yield part
      }
    } finally {
      // A consumer that stops early (a refused APPEND, an aborted BDAT) must not leave the rest
      // of the announced octets to be read as commands: they are skipped as they arrive.
      while (remaining > 0 && !(this.#buffered === 0 && this.#isEnded)) {
        if (this.#buffered === 0) {
          await this.#waitForData()
          continue
        }
        remaining -= this.#take(Math.min(remaining, this.#firstChunkLength())).length
      }
    }
  }

  /** Whatever is buffered (or the next chunk to arrive); null at the end of the stream. */
  async readChunk(): Promise<Buffer | null> {
    while (this.#buffered === 0) {
      if (this.#isEnded) {
        if (this.#error) throw this.#error
        return null
      }
      await this.#waitForData()
    }
    return this.#take(this.#firstChunkLength())
  }

  /** Puts octets back in front, for a consumer that read past the end of what it wanted. */
  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.unshift(chunk)
    this.#buffered += chunk.length
    this.#scanned = 0
    this.#updateFlow()
  }

  #push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    if (this.#isSkippingLine) this.#skipToLineEnd()
    this.#updateFlow()
    this.#notify()
  }

  #finish(error: Error | null): void {
    this.#isEnded = true
    this.#error ??= error
    this.#notify()
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  /**
   * A consumer that waits needs more than is buffered (a line longer than the high-water mark
   * but within its limit, say), so the source flows until the next chunk whatever the mark.
   * The caller's own bound (maxOctets, count) keeps the buffer finite.
   */
  #waitForData(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve
      if (this.#source?.isPaused()) this.#source.resume()
    })
  }

  /** Reads from the source only while the buffer has room: this is the back-pressure. */
  #updateFlow(): void {
    const source = this.#source
    if (!source) return
    if (this.#buffered >= this.#highWaterOctets) source.pause()
    else if (source.isPaused()) source.resume()
  }

  #skipToLineEnd(): void {
    while (this.#chunks.length > 0) {
      const chunk = this.#chunks[0] as Buffer
      const lfAt = chunk.indexOf(LF)
      if (lfAt < 0) {
        this.#chunks.shift()
        this.#buffered -= chunk.length
        continue
      }
      this.#take(lfAt + 1)
      this.#isSkippingLine = false
      break
    }
    this.#scanned = 0
  }

  #findLf(): number {
    let offset = 0
    for (const chunk of this.#chunks) {
      const end = offset + chunk.length
      if (end > this.#scanned) {
        const lfAt = chunk.indexOf(LF, Math.max(0, this.#scanned - offset))
        if (lfAt >= 0) return offset + lfAt
      }
      offset = end
    }
    this.#scanned = offset
    return -1
  }

  #firstChunkLength(): number {
    return this.#chunks[0]?.length ?? 0
  }

  /** Removes and returns the first `count` buffered octets (count <= buffered). */
  #take(count: number): Buffer {
    const first = this.#chunks[0] as Buffer
    let result: Buffer
    if (first.length === count) {
      this.#chunks.shift()
      result = first
    } else if (first.length > count) {
      this.#chunks[0] = first.subarray(count)
      result = first.subarray(0, count)
    } else {
      const parts: Buffer[] = []
      let needed = count
      while (needed > 0) {
        const chunk = this.#chunks[0] as Buffer
        if (chunk.length <= needed) {
          parts.push(chunk)
          this.#chunks.shift()
          needed -= chunk.length
        } else {
          parts.push(chunk.subarray(0, needed))
          this.#chunks[0] = chunk.subarray(needed)
          needed = 0
        }
      }
      result = Buffer.concat(parts, count)
    }
    this.#buffered -= count
    this.#scanned = Math.max(0, this.#scanned - count)
    this.#updateFlow()
    return result
  }

  #tooLong(maxOctets: number, actual: number): LineTooLongError {
    return new LineTooLongError(
      `Line too long, the limit is ${maxOctets} octets`,
      'maxLineOctets',
      maxOctets,
      actual,
    )
  }
}
