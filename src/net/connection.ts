import type { Socket } from 'node:net'
import { PassThrough } from 'node:stream'
import type { SecureContext, TLSSocket } from 'node:tls'
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw } from 'node:zlib'
import type { Logger } from '../util/index.ts'
import { CLOSE_TIMEOUT_MS, MIN_DATA_OCTETS_PER_SECOND } from './limits.ts'
import { LineReader } from './line-reader.ts'
import { acceptTls } from './tls-accept.ts'

export interface ConnectionOptions {
  id: string
  /** The listener's name from the config ("smtp", "imaps"), for logs. */
  listenerName: string
  log: Logger
  /** Aborted when the server shuts down; a session answers its protocol's goodbye and ends. */
  shutdownSignal: AbortSignal
}

/**
 * One accepted connection, as every line protocol sees it: a LineReader for input, awaited writes
 * for output (so a peer that does not read slows us down rather than filling memory), an idle
 * timeout, and an in-place STARTTLS upgrade.
 */
export class Connection {
  readonly id: string
  readonly listenerName: string
  readonly log: Logger
  readonly reader: LineReader
  readonly shutdownSignal: AbortSignal
  readonly remoteAddress: string
  readonly remotePort: number
  readonly localAddress: string
  readonly localPort: number
  /** Resolves once the socket is closed, however that happened. */
  readonly closed: Promise<void>

  #socket: Socket
  /** Set once COMPRESS=DEFLATE is active: every write goes through it. */
  #deflate: DeflateRaw | null = null
  #isClosed = false
  #idleTimeoutMs = 0
  #onIdle: (() => void | Promise<void>) | null = null
  /** The time left for the request being read (see withinDeadline), null when none is. */
  #request: RequestDeadline | null = null
  /** Set once a timeout is ending the connection. */
  #isEnding = false
  #resolveClosed!: () => void

  readonly #handleClose = () => {
    this.#isClosed = true
    this.#resolveClosed()
  }
  readonly #handleTimeout = () => {
    void this.#idle('idle timeout')
  }
  readonly #handleData = (chunk: Buffer) => {
    const request = this.#request
    if (request === null || request.octetsPerMs === 0) return
    spend(request)
    request.budgetMs = Math.min(
      request.maxMs,
      request.budgetMs + chunk.length / request.octetsPerMs,
    )
  }
  // Errors also reach the reader, which ends the session; this keeps them from being unhandled.
  readonly #handleError = (error: NodeJS.ErrnoException) => {
    this.log.debug({ err: error.code ?? error.message }, 'socket error')
  }

  constructor(socket: Socket, options: ConnectionOptions) {
    this.id = options.id
    this.listenerName = options.listenerName
    this.log = options.log
    this.shutdownSignal = options.shutdownSignal
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '')
    this.remotePort = socket.remotePort ?? 0
    this.localAddress = normalizeAddress(socket.localAddress ?? '')
    this.localPort = socket.localPort ?? 0
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve
    })
    this.#socket = socket
    this.#listen(socket)
    this.reader = new LineReader(socket)
  }

  get isClosed(): boolean {
    return this.#isClosed
  }

  get isTls(): boolean {
    return 'encrypted' in this.#socket && this.#socket.encrypted === true
  }

  /** The negotiated TLS version and cipher, for Received headers and logs. */
  get tlsInfo(): { protocol: string; cipher: string } | null {
    if (!this.isTls) return null
    const tlsSocket = this.#socket as TLSSocket
    return { protocol: tlsSocket.getProtocol() ?? '', cipher: tlsSocket.getCipher().standardName }
  }

  /**
   * Writes and waits while the kernel's send buffer is full: a peer that stops reading its
   * replies stops the session instead of growing our memory. Writing after close is a no-op;
   * the session learns of the close from its reader.
   */
  async write(data: string | Buffer): Promise<void> {
    const socket = this.#socket
    if (this.#isClosed || socket.destroyed || socket.writableEnded) return
    const deflate = this.#deflate
    if (deflate !== null) {
      // Each write is flushed whole, so the peer can read a response without waiting for more.
      await new Promise<void>((resolve) => {
        deflate.write(data)
        deflate.flush(constants.Z_SYNC_FLUSH, () => resolve())
      })
      if (socket.writableLength < socket.writableHighWaterMark) return
    } else if (socket.write(data)) {
      return
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done)
        socket.off('close', done)
        resolve()
      }
      socket.on('drain', done)
      socket.on('close', done)
    })
  }

  /**
   * Sends the protocol's "ready to start TLS" reply and upgrades this connection in place.
   *
   * RFC 3207 §4.2 (and RFC 2595 §3.1, RFC 9051 §6.2.1): octets the client sent after the command
   * and before the handshake are discarded, so a man in the middle cannot inject plaintext
   * commands that would be read as if they came over TLS (CVE-2011-0411). The reader stops
   * reading the plain socket before the reply goes out, so nothing the client sends after
   * seeing the reply is read as plaintext.
   * @returns how many octets were discarded.
   */
  async startTls(secureContext: SecureContext, readyReply: string | Buffer): Promise<number> {
    const plain = this.#socket
    this.reader.detach()
    const discarded = this.reader.discardBuffered()
    if (discarded > 0) {
      this.log.warn({ octets: discarded }, 'discarded octets sent before the TLS handshake')
    }
    plain.write(readyReply)
    this.#unlisten(plain)
    let secured: TLSSocket
    try {
      secured = await acceptTls(plain, secureContext)
    } catch (error) {
      // Nothing more can be read from this connection; anyone reading sees its end.
      this.reader.close()
      this.#handleClose()
      throw error
    }
    this.#socket = secured
    this.#listen(secured)
    this.reader.attach(secured)
    return discarded
  }

  /**
   * Sends `readyReply` and then compresses both directions with raw DEFLATE (RFC 4978 §3, RFC
   * 1951), in place, over TLS if there is TLS. Octets the client sent after the command are
   * already compressed and go through the inflater first. A stream that does not inflate ends
   * the connection (logged).
   */
  async startCompression(readyReply: string | Buffer): Promise<void> {
    if (this.#deflate !== null) throw new Error('compression is already active')
    await this.write(readyReply)
    const socket = this.#socket
    this.reader.detach()
    const early = this.reader.takeBuffered()
    const inflate = createInflateRaw()
    const plain = new PassThrough()
    inflate.on('error', (error) => {
      this.log.warn({ err: error.message }, 'compressed input does not inflate, closing')
      plain.end()
      socket.destroy()
    })
    if (early.length > 0) inflate.write(early)
    socket.pipe(inflate).pipe(plain)
    const deflate = createDeflateRaw()
    deflate.on('error', () => socket.destroy())
    deflate.pipe(socket)
    this.#deflate = deflate
    this.reader.attach(plain)
  }

  get isCompressed(): boolean {
    return this.#deflate !== null
  }

  /**
   * Closes the connection after `ms` without traffic in either direction. `onIdle` may write the
   * protocol's goodbye first. 0 turns the timeout off (IMAP IDLE manages its own).
   */
  setIdleTimeout(ms: number, onIdle?: () => void | Promise<void>): void {
    this.#idleTimeoutMs = ms
    this.#onIdle = onIdle ?? null
    this.#socket.setTimeout(ms)
  }

  /**
   * Reads one request (a command line, a message body) within `ms`, however steadily the peer
   * trickles it in: every octet is traffic, so one a second keeps the idle timer from ever
   * firing (slowloris). Past the deadline the connection ends as on the idle timeout, with the
   * protocol's goodbye. With `isData`, octets buy time as they arrive, at
   * MIN_DATA_OCTETS_PER_SECOND and never more than `ms` ahead (Postfix's smtpd_min_data_rate),
   * so a large message on a slow link passes while a trickle does not. One request at a time.
   */
  async withinDeadline<T>(ms: number, read: () => Promise<T>, isData = false): Promise<T> {
    const request: RequestDeadline = {
      budgetMs: ms,
      maxMs: ms,
      octetsPerMs: isData ? MIN_DATA_OCTETS_PER_SECOND / 1000 : 0,
      since: Date.now(),
      timer: undefined,
    }
    const check = () => {
      if (this.#request !== request) return
      spend(request)
      if (request.budgetMs > 0) {
        request.timer = setTimeout(check, request.budgetMs)
        return
      }
      this.#request = null
      void this.#idle('request deadline passed')
    }
    this.#request = request
    request.timer = setTimeout(check, ms)
    try {
      return await read()
    } finally {
      clearTimeout(request.timer)
      if (this.#request === request) this.#request = null
    }
  }

  /** Writes `finalData` (if any), half-closes, and resolves once the socket is closed. */
  async end(finalData?: string | Buffer): Promise<void> {
    // A peer that neither reads the last reply nor closes its side is cut after the timeout.
    const timer = setTimeout(() => this.destroy(), CLOSE_TIMEOUT_MS)
    try {
      if (finalData !== undefined) await Promise.race([this.write(finalData), this.closed])
      if (this.#deflate !== null) this.#deflate.end()
      else if (!this.#socket.destroyed) this.#socket.end()
      await this.closed
    } finally {
      clearTimeout(timer)
    }
  }

  destroy(): void {
    this.#socket.destroy()
  }

  async #idle(reason: 'idle timeout' | 'request deadline passed'): Promise<void> {
    // The idle timer and a request's deadline may both fire: one goodbye.
    if (this.#isEnding) return
    this.#isEnding = true
    this.log.info({ idleTimeoutMs: this.#idleTimeoutMs }, reason)
    // The goodbye is best effort: a peer that stopped reading must not keep the socket (and its
    // connection slot) by never draining it, and a failing goodbye must not reach the process.
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        this.#onIdle?.(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)
        }),
      ])
    } catch (error) {
      this.log.warn({ err: error }, 'idle goodbye failed')
    } finally {
      clearTimeout(timer)
      this.destroy()
    }
  }

  #listen(socket: Socket): void {
    socket.on('close', this.#handleClose)
    socket.on('timeout', this.#handleTimeout)
    socket.on('error', this.#handleError)
    socket.on('data', this.#handleData)
    if (this.#idleTimeoutMs > 0) socket.setTimeout(this.#idleTimeoutMs)
  }

  #unlisten(socket: Socket): void {
    socket.off('close', this.#handleClose)
    socket.off('timeout', this.#handleTimeout)
    socket.off('data', this.#handleData)
    socket.setTimeout(0)
    // The TLS socket takes over; errors on the old object stay harmless.
  }
}

/** The time left to read one request; spent as time passes, earned back by data octets. */
interface RequestDeadline {
  budgetMs: number
  readonly maxMs: number
  /** The least data rate, in octets per ms (an octet earns 1 / octetsPerMs ms); 0: none earns. */
  readonly octetsPerMs: number
  /** When the budget was last brought up to date. */
  since: number
  timer: NodeJS.Timeout | undefined
}

function spend(request: RequestDeadline): void {
  const now = Date.now()
  request.budgetMs -= now - request.since
  request.since = now
}

/** "::ffff:127.0.0.1" → "127.0.0.1", so limits and logs see one form of each IPv4 peer. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

/** Errors the socket raises when the peer or the network drops the connection. */
export function isSocketError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code
  return (
    code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT' || code === 'ECONNABORTED'
  )
}

/** Whether a (normalized) peer address is this machine's loopback: 127.0.0.0/8 or ::1. */
export function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1'
}
