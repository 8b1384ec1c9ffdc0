// The connection plumbing the POP3 and IMAP clients of `postern fetch` share: TCP or implicit
// TLS, the in-place STARTTLS/STLS upgrade, bounded line and exact-count reads with a per-read
// timeout, writes, and one error class whose kind says what went wrong.
import { isIP, connect as netConnect, type Socket } from 'node:net'
import { type ConnectionOptions, TLSSocket, connect as tlsConnect } from 'node:tls'
import { ConnectionClosedError, LineReader, LineTooLongError } from '../../net/index.ts'

/**
 * What went wrong: no connection ('connect'), a failed handshake or certificate ('tls'), no
 * reply in time ('timeout'), the connection ended ('closed'), the server broke the protocol
 * ('protocol'), the login was refused ('auth'), or the server refused a command ('no').
 */
export type MailClientErrorKind =
  | 'connect'
  | 'tls'
  | 'timeout'
  | 'closed'
  | 'protocol'
  | 'auth'
  | 'no'

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the octets to replace
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g

/**
 * Every failure of the POP3 and IMAP clients; the message carries the server's text if any,
 * with control characters replaced, so a hostile server cannot drive the user's terminal.
 */
export class MailClientError extends Error {
  override name = 'MailClientError'
  readonly kind: MailClientErrorKind

  constructor(kind: MailClientErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(
      message.replace(CONTROL_CHARACTERS, '\uFFFD'),
      options.cause === undefined ? undefined : { cause: options.cause },
    )
    this.kind = kind
  }
}

/** How to reach the server: the option shape of Pop3Client.connect and ImapClient.connect. */
export interface MailConnectOptions {
  host: string
  port: number
  /** 'tls' from the first octet (RFC 8314), 'starttls' (RFC 2595) or 'none' (plain text). */
  security: 'tls' | 'starttls' | 'none'
  /** Passed to tls.connect: `ca`, `rejectUnauthorized`… The certificate is verified by default. */
  tls?: ConnectionOptions
  /** The name the certificate must carry (and SNI), when it is not `host`. */
  servername?: string
  /** How long to wait for each reply (and for the connection); 60 s by default. */
  timeoutMs?: number
  /** The largest message accepted; 256 MiB by default. */
  maxMessageOctets?: number
}

export const DEFAULT_TIMEOUT_MS = 60_000
export const DEFAULT_MAX_MESSAGE_OCTETS = 256 * 1024 * 1024

/**
 * One client connection. Reads are bounded (a line longer than the caller's limit fails the
 * connection), each waits at most the timeout for the server (the timer restarts whenever
 * octets arrive, so a large message that keeps flowing is not cut), and after any failure the
 * connection is destroyed and every later call reports that failure.
 */
export class MailSocket {
  readonly timeoutMs: number
  readonly #host: string
  readonly #port: number
  readonly #tlsOptions: ConnectionOptions
  readonly #servername: string
  #socket: Socket
  readonly #reader = new LineReader()
  #failure: MailClientError | null = null
  #lastError: Error | null = null
  /** Text the server sent as it closed (a POP3 -ERR, an IMAP BYE), for the 'closed' error. */
  farewell = ''

  private constructor(socket: Socket, options: MailConnectOptions) {
    this.#socket = socket
    this.#host = options.host
    this.#port = options.port
    this.#tlsOptions = options.tls ?? {}
    this.#servername = options.servername ?? options.host
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#guard(socket)
  }

  /** Connects over TCP, then runs the TLS handshake when `security` is 'tls'. */
  static async connect(options: MailConnectOptions): Promise<MailSocket> {
    const socket = netConnect({ host: options.host, port: options.port })
    const mail = new MailSocket(socket, options)
    await mail.#connected()
    socket.setNoDelay(true)
    if (options.security === 'tls') await mail.#handshake('the TLS connection')
    else mail.#reader.attach(socket)
    return mail
  }

  get isTls(): boolean {
    return this.#socket instanceof TLSSocket && this.#socket.encrypted
  }

  /** Upgrades the connection in place after the server's go-ahead to STARTTLS or STLS. */
  async startTls(command: string): Promise<void> {
    this.#check()
    this.#reader.detach()
    // As RFC 3207 §4.2 says for SMTP: nothing received before the handshake may be used after
    // it; a server sends nothing after its go-ahead, so octets here were injected on the way.
    if (this.#reader.discardBuffered() > 0) {
      throw this.fail(
        new MailClientError('protocol', `Data received before the ${command} handshake`),
      )
    }
    await this.#handshake(command)
  }

  /**
   * The next line without its line end (CRLF, or a lone LF from a sloppy server). `maxOctets`
   * counts the line end. `timeoutMs` null waits for ever (IMAP IDLE).
   */
  async readLine(
    maxOctets: number,
    command: string,
    timeoutMs: number | null = this.timeoutMs,
  ): Promise<Buffer> {
    const line = await this.#read(command, timeoutMs, async () => {
      try {
        return await this.#reader.readLine(maxOctets)
      } catch (error) {
        if (!(error instanceof LineTooLongError)) throw error
        throw new MailClientError(
          'protocol',
          `The server sent a line longer than ${maxOctets} octets in reply to ${command}`,
        )
      }
    })
    if (line === null) throw this.fail(this.#closedError(command, null))
    return line.bytes
  }

  /** Exactly `count` octets (an IMAP literal), which the caller has checked against its bound. */
  readExact(count: number, command: string): Promise<Buffer> {
    return this.#read(command, this.timeoutMs, () => this.#reader.readExact(count))
  }

  /** Waits up to `timeoutMs` for a read that is already under way (the one IDLE left open). */
  async within<T>(read: Promise<T>, command: string, timeoutMs = this.timeoutMs): Promise<T> {
    return this.#read(command, timeoutMs, () => read)
  }

  /** Sends octets; a write that fails shows up as the error of the next read. */
  write(data: string | Buffer, command: string): void {
    this.#check()
    if (this.#socket.destroyed || !this.#socket.writable) {
      throw this.fail(this.#closedError(command, null))
    }
    this.#socket.write(data)
  }

  /** Gives up on the connection: it is destroyed, and `error` is what later calls report. */
  fail(error: MailClientError): MailClientError {
    this.#failure ??= error
    this.destroy()
    return error
  }

  /** Closes gracefully (our FIN after the last command), destroying it if the server lingers. */
  async close(): Promise<void> {
    const socket = this.#socket
    if (socket.destroyed) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), 2_000)
      socket.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      socket.end()
      socket.resume()
    })
  }

  destroy(): void {
    this.#reader.close(this.#failure)
    this.#socket.destroy()
  }

  async #read<T>(command: string, timeoutMs: number | null, read: () => Promise<T>): Promise<T> {
    this.#check()
    const socket = this.#socket
    const onTimeout = () => {
      this.fail(new MailClientError('timeout', `No reply to ${command} within ${timeoutMs} ms`))
    }
    // Inactivity, not total time: the timer restarts whenever octets arrive.
    if (timeoutMs !== null) {
      socket.setTimeout(timeoutMs)
      socket.on('timeout', onTimeout)
    }
    try {
      return await read()
    } catch (error) {
      if (this.#failure !== null) throw this.#failure
      if (error instanceof MailClientError) throw this.fail(error)
      if (error instanceof ConnectionClosedError) throw this.fail(this.#closedError(command, null))
      throw this.fail(this.#closedError(command, error))
    } finally {
      if (timeoutMs !== null) {
        socket.setTimeout(0)
        socket.off('timeout', onTimeout)
      }
    }
  }

  #check(): void {
    if (this.#failure !== null) {
      throw new MailClientError(
        this.#failure.kind === 'timeout' ? 'timeout' : 'closed',
        `The connection is no longer usable (${this.#failure.message})`,
        { cause: this.#failure },
      )
    }
  }

  #connected(): Promise<void> {
    const socket = this.#socket
    const where = `${isIP(this.#host) === 6 ? `[${this.#host}]` : this.#host}:${this.#port}`
    return this.#settle(socket, 'connect', (error) =>
      error === 'timeout'
        ? new MailClientError('timeout', `No connection to ${where} within ${this.timeoutMs} ms`)
        : new MailClientError(
            'connect',
            `Cannot connect to ${where}${error === null ? '' : `: ${error.message}`}`,
            { cause: error },
          ),
    )
  }

  /** The client side of the handshake; `host` is what the certificate is checked against. */
  async #handshake(command: string): Promise<void> {
    const name = this.#servername
    let secure: TLSSocket
    try {
      secure = tlsConnect({
        ...this.#tlsOptions,
        socket: this.#socket,
        host: name,
        // RFC 6066 §3: SNI carries host names only, never an address literal.
        servername: isIP(name) === 0 ? name : undefined,
      })
    } catch (error) {
      // Options Node refuses at once (a PEM it cannot read).
      const reason = error instanceof Error ? error.message : String(error)
      throw this.fail(new MailClientError('tls', `Cannot start TLS: ${reason}`, { cause: error }))
    }
    this.#guard(secure)
    this.#socket = secure
    await this.#settle(secure, 'secureConnect', (error) =>
      error === 'timeout'
        ? new MailClientError(
            'timeout',
            `The TLS handshake (${command}) took over ${this.timeoutMs} ms`,
          )
        : new MailClientError(
            'tls',
            `The TLS handshake (${command}) with ${name} failed: ${error?.message ?? 'connection closed'}`,
            { cause: error },
          ),
    )
    this.#reader.attach(secure)
  }

  /** Waits for `event`, or fails the connection with the error `describe` makes. */
  #settle(
    socket: Socket,
    event: string,
    describe: (error: Error | null | 'timeout') => MailClientError,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done('timeout'), this.timeoutMs)
      const onEvent = () => done(undefined)
      const onError = (error: Error) => done(error)
      const onClose = () => done(null)
      const done = (error: Error | null | 'timeout' | undefined) => {
        clearTimeout(timer)
        socket.off(event, onEvent)
        socket.off('error', onError)
        socket.off('close', onClose)
        if (error === undefined) resolve()
        else reject(this.fail(describe(error)))
      }
      socket.on(event, onEvent)
      socket.on('error', onError)
      socket.on('close', onClose)
    })
  }

  /** Every socket keeps an 'error' listener, so no socket error reaches the process unhandled. */
  #guard(socket: Socket): void {
    const onError = (error: Error) => {
      this.#lastError = error
    }
    socket.on('error', onError)
    socket.once('close', () => socket.off('error', onError))
  }

  #closedError(command: string, error: unknown): MailClientError {
    const cause = error ?? this.#lastError
    const detail = cause instanceof Error ? `: ${cause.message}` : ''
    const farewell = this.farewell === '' ? '' : ` (it said "${this.farewell}")`
    return new MailClientError(
      'closed',
      `The server closed the connection while ${command} waited for a reply${farewell}${detail}`,
      { cause },
    )
  }
}
