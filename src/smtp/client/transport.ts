import { isIP, connect as netConnect, type Socket } from 'node:net'
import { type ConnectionOptions, TLSSocket, connect as tlsConnect } from 'node:tls'
import { normalizeAddress } from '../../net/index.ts'
import type { Reply } from '../proto/index.ts'
import { SmtpClientError } from './errors.ts'
import { ReplyReader, SmtpReplyError } from './reply-reader.ts'

/**
 * One client connection's plumbing: replies read whole with a timeout each, writes that wait
 * for the peer to read, and the in-place TLS upgrade. It decides nothing about SMTP itself
 * beyond one rule: after a 421 (RFC 5321 §3.8) the connection is done.
 */
export class SmtpTransport {
  #remoteAddress = ''
  #socket: Socket
  #readerSource: Socket | null = null
  readonly #reader = new ReplyReader()
  #isDestroyed = false
  #isClosed = false
  /** Why we gave up on the connection; every later call reports it. */
  #failure: SmtpClientError | null = null
  #lastError: Error | null = null

  private constructor(socket: Socket) {
    this.#socket = socket
    this.#guard(socket)
    this.#attachReader(socket)
  }

  /** Connects over TCP; rejects with kind 'connect' or 'timeout'. */
  static async open(
    target: { host: string; port: number; localAddress?: string },
    timeoutMs: number,
  ): Promise<SmtpTransport> {
    const { host, port, localAddress } = target
    const socket = netConnect({
      host,
      port,
      ...(localAddress === undefined ? {} : { localAddress }),
    })
    const transport = new SmtpTransport(socket)
    await transport.#connected(`${isIP(host) === 6 ? `[${host}]` : host}:${port}`, timeoutMs)
    // Pipelined commands go out as one segment anyway; lone ones should not wait for an ACK.
    socket.setNoDelay(true)
    transport.#remoteAddress = normalizeAddress(socket.remoteAddress ?? '')
    return transport
  }

  get remoteAddress(): string {
    return this.#remoteAddress
  }

  get isSecure(): boolean {
    return this.#socket instanceof TLSSocket && this.#socket.encrypted
  }

  /** False once we gave up on the connection, or it closed. */
  get isUsable(): boolean {
    return !this.#isDestroyed && !this.#isClosed && this.#failure === null
  }

  /**
   * The next reply, within `timeoutMs`. A 421 is returned like any reply, and leaves the
   * connection unusable: the server is closing it (RFC 5321 §3.8).
   */
  async readReply(phase: string, timeoutMs: number): Promise<Reply> {
    if (this.#failure !== null) throw this.#unusable(phase)
    const timer = setTimeout(() => {
      this.fail(new SmtpClientError('timeout', phase, `No ${phase} reply within ${timeoutMs} ms`))
    }, timeoutMs)
    let reply: Reply | null
    try {
      reply = await this.#reader.read()
    } catch (error) {
      if (this.#failure !== null) throw this.#failure
      if (error instanceof SmtpReplyError) {
        throw this.fail(new SmtpClientError('protocol', phase, error.message, { cause: error }))
      }
      throw this.fail(this.#closedError(phase, error))
    } finally {
      clearTimeout(timer)
    }
    if (this.#failure !== null) throw this.#failure
    if (reply === null) throw this.fail(this.#closedError(phase, null))
    if (reply.code === 421) this.fail(SmtpClientError.fromReply(phase, reply))
    return reply
  }

  /** Writes; when the socket's buffer is full, waits up to `timeoutMs` for the peer to read. */
  async write(data: string | Buffer, phase: string, timeoutMs: number): Promise<void> {
    if (this.#failure !== null) throw this.#unusable(phase)
    const socket = this.#socket
    if (this.#isClosed || socket.destroyed || !socket.writable) {
      throw this.fail(this.#closedError(phase, null))
    }
    if (socket.write(data)) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        done(new SmtpClientError('timeout', phase, `Peer did not read within ${timeoutMs} ms`))
      }, timeoutMs)
      const onDrain = () => done(null)
      const onClose = () => done(this.#closedError(phase, null))
      const done = (error: SmtpClientError | null) => {
        clearTimeout(timer)
        socket.off('drain', onDrain)
        socket.off('close', onClose)
        if (error === null) resolve()
        else reject(this.fail(error))
      }
      socket.on('drain', onDrain)
      socket.on('close', onClose)
    })
  }

  /**
   * Runs the client side of a TLS handshake on this connection and reads from the TLS socket
   * after it. `name` is checked against the certificate, and sent as SNI unless it is an IP
   * address (RFC 6066 §3 allows host names only).
   */
  async startTls(
    options: ConnectionOptions,
    name: string,
    phase: string,
    timeoutMs: number,
  ): Promise<void> {
    if (this.#failure !== null) throw this.#unusable(phase)
    this.#detachReader()
    // RFC 3207 §4.2: nothing received before the handshake may be used after it. A server
    // sends nothing after its 220, so octets here were injected on the way.
    if (this.#reader.bufferedOctets > 0) {
      throw this.fail(
        new SmtpClientError('protocol', phase, 'Data received before the TLS handshake'),
      )
    }
    const plain = this.#socket
    const secure = tlsConnect({
      ...options,
      socket: plain,
      host: name,
      servername: isIP(name) === 0 ? name : undefined,
    })
    this.#guard(secure)
    this.#socket = secure
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        done(new SmtpClientError('timeout', phase, `TLS handshake took over ${timeoutMs} ms`))
      }, timeoutMs)
      const onSecure = () => done(null)
      const onError = (error: Error) => {
        done(
          new SmtpClientError('tls', phase, `TLS handshake failed: ${error.message}`, {
            cause: error,
          }),
        )
      }
      const onClose = () => {
        done(new SmtpClientError('tls', phase, 'Connection closed during the TLS handshake'))
      }
      const done = (error: SmtpClientError | null) => {
        clearTimeout(timer)
        secure.off('secureConnect', onSecure)
        secure.off('error', onError)
        secure.off('close', onClose)
        if (error === null) resolve()
        else reject(this.fail(error))
      }
      secure.on('secureConnect', onSecure)
      secure.on('error', onError)
      secure.on('close', onClose)
    })
    this.#attachReader(secure)
  }

  /** Gives up on the connection: it is destroyed, and `error` is what later calls report. */
  fail(error: SmtpClientError): SmtpClientError {
    this.#failure ??= error
    this.destroy()
    return error
  }

  destroy(): void {
    this.#isDestroyed = true
    this.#socket.destroy()
  }

  #connected(where: string, timeoutMs: number): Promise<void> {
    const socket = this.#socket
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        done(
          new SmtpClientError('timeout', 'connect', `No connection to ${where} in ${timeoutMs} ms`),
        )
      }, timeoutMs)
      const onConnect = () => done(null)
      const onError = (error: Error) => {
        const message = `Cannot connect to ${where}: ${error.message}`
        done(new SmtpClientError('connect', 'connect', message, { cause: error }))
      }
      const onClose = () => {
        done(new SmtpClientError('connect', 'connect', `Connection to ${where} closed`))
      }
      const done = (error: SmtpClientError | null) => {
        clearTimeout(timer)
        socket.off('connect', onConnect)
        socket.off('error', onError)
        socket.off('close', onClose)
        if (error === null) resolve()
        else reject(this.fail(error))
      }
      socket.on('connect', onConnect)
      socket.on('error', onError)
      socket.on('close', onClose)
    })
  }

  /**
   * Every socket keeps an 'error' listener until it closes, so no socket error can reach the
   * process as an unhandled event; the error itself surfaces through the next read or write.
   */
  #guard(socket: Socket): void {
    const onError = (error: Error) => {
      this.#lastError = error
    }
    socket.on('error', onError)
    socket.once('close', () => {
      socket.off('error', onError)
      if (socket === this.#socket) this.#isClosed = true
    })
  }

  #attachReader(socket: Socket): void {
    this.#reader.attach(socket)
    this.#readerSource = socket
    // Registered after the reader's own listeners, so the reader has seen the end first and
    // keeps what it buffered (a last reply, often a 421) for the next read.
    socket.once('close', () => {
      if (this.#readerSource === socket) this.#detachReader()
    })
  }

  #detachReader(): void {
    this.#reader.detach()
    this.#readerSource = null
  }

  #closedError(phase: string, error: unknown): SmtpClientError {
    const cause = error ?? this.#lastError
    const detail = cause instanceof Error ? `: ${cause.message}` : ''
    return new SmtpClientError('closed', phase, `Connection closed during ${phase}${detail}`, {
      cause,
    })
  }

  #unusable(phase: string): SmtpClientError {
    const failure = this.#failure
    const detail = failure === null ? '' : ` (${failure.message})`
    return new SmtpClientError('closed', phase, `The connection is no longer usable${detail}`, {
      cause: failure,
    })
  }
}
