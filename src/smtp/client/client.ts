import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import type { Reply } from '../proto/index.ts'
import { noCapabilities, parseCapabilities, type SmtpCapabilities } from './capabilities.ts'
import type { MessageSource, SendEnvelope, SendResult } from './envelope.ts'
import { SmtpClientError } from './errors.ts'
import { type ConnectOptions, resolveTimeouts, type SmtpTimeouts } from './options.ts'
import { sendMessage } from './send.ts'
import { SmtpTransport } from './transport.ts'

/**
 * An SMTP client session (RFC 5321) to one server: greeting, EHLO, STARTTLS, AUTH, and any
 * number of mail transactions. Commands run one at a time; a reply the caller should judge is
 * returned, and a reply that leaves nothing to judge rejects with SmtpClientError kind 'reply'.
 */
export class SmtpClient {
  readonly greeting: Reply
  readonly #transport: SmtpTransport
  readonly #options: ConnectOptions
  readonly #timeouts: SmtpTimeouts
  #capabilities: SmtpCapabilities = noCapabilities()
  #isBusy = false

  private constructor(
    transport: SmtpTransport,
    options: ConnectOptions,
    timeouts: SmtpTimeouts,
    greeting: Reply,
  ) {
    this.#transport = transport
    this.#options = options
    this.#timeouts = timeouts
    this.greeting = greeting
  }

  /** Connects and reads the greeting; a greeting other than 2xx rejects, kind 'reply'. */
  static async connect(options: ConnectOptions): Promise<SmtpClient> {
    const timeouts = resolveTimeouts(options.timeouts)
    const transport = await SmtpTransport.open(options, timeouts.connect)
    try {
      if (options.implicitTls === true) {
        const name = options.servername ?? options.host
        await transport.startTls(options.tls ?? {}, name, 'connect', timeouts.connect)
      }
      const greeting = await transport.readReply('greeting', timeouts.greeting)
      if (!isCompletion(greeting)) {
        // RFC 5321 §3.1: after a 554 greeting the server waits for QUIT; after 421 it is
        // already closing, and the transport has given up (quit() then only closes).
        await new SmtpClient(transport, options, timeouts, greeting).quit()
        throw SmtpClientError.fromReply('greeting', greeting)
      }
      return new SmtpClient(transport, options, timeouts, greeting)
    } catch (error) {
      transport.destroy()
      throw error
    }
  }

  /** What the last EHLO announced; nothing before hello() and after startTls(). */
  get capabilities(): SmtpCapabilities {
    return this.#capabilities
  }

  get isSecure(): boolean {
    return this.#transport.isSecure
  }

  get remoteAddress(): string {
    return this.#transport.remoteAddress
  }

  /** False after a protocol error, a timeout, a 421, or once closed. */
  get isUsable(): boolean {
    return this.#transport.isUsable
  }

  /**
   * EHLO, or HELO when the server refuses EHLO with a 5xx (RFC 5321 §4.1.1.1 and §3.2: a server
   * that does not know EHLO answers 500 or 502). A 4xx rejects, kind 'reply'.
   */
  hello(name: string): Promise<SmtpCapabilities> {
    return this.#exclusive(async () => {
      checkArgument(name, 'EHLO name')
      const ehlo = await this.#command(`EHLO ${name}\r\n`, 'EHLO')
      if (isCompletion(ehlo)) {
        this.#capabilities = parseCapabilities(ehlo)
        return this.#capabilities
      }
      if (ehlo.code < 500) throw SmtpClientError.fromReply('EHLO', ehlo)
      const helo = await this.#command(`HELO ${name}\r\n`, 'HELO')
      if (!isCompletion(helo)) throw SmtpClientError.fromReply('HELO', helo)
      this.#capabilities = noCapabilities()
      return this.#capabilities
    })
  }

  /**
   * STARTTLS (RFC 3207): a 220, then the handshake. The capabilities are forgotten, as RFC 3207
   * §4.2 requires: call hello() again. `tlsOptions` add to those given to connect().
   */
  startTls(tlsOptions: TlsConnectionOptions = {}): Promise<void> {
    return this.#exclusive(async () => {
      const answer = await this.#command('STARTTLS\r\n', 'STARTTLS')
      if (answer.code !== 220) throw SmtpClientError.fromReply('STARTTLS', answer)
      const name = this.#options.servername ?? this.#options.host
      const options = { ...this.#options.tls, ...tlsOptions }
      this.#capabilities = noCapabilities()
      await this.#transport.startTls(options, name, 'STARTTLS', this.#timeouts.command)
    })
  }

  /**
   * AUTH (RFC 4954) with PLAIN when offered, its response on the AUTH line (§4), else LOGIN.
   * Anything but 235 rejects with the reply; no mechanism in common rejects kind 'protocol'.
   */
  authenticate(username: string, password: string): Promise<void> {
    return this.#exclusive(async () => {
      const offered = this.#capabilities.auth
      let answer: Reply
      if (offered.includes('PLAIN')) {
        // RFC 4616 §2: [authzid] NUL authcid NUL passwd, so neither may contain a NUL.
        if (username.includes('\0') || password.includes('\0')) {
          throw new TypeError('PLAIN cannot carry a NUL in the user name or password')
        }
        answer = await this.#command(
          `AUTH PLAIN ${base64(`\0${username}\0${password}`)}\r\n`,
          'AUTH',
        )
      } else if (offered.includes('LOGIN')) {
        answer = await this.#command('AUTH LOGIN\r\n', 'AUTH')
        if (answer.code === 334) answer = await this.#command(`${base64(username)}\r\n`, 'AUTH')
        if (answer.code === 334) answer = await this.#command(`${base64(password)}\r\n`, 'AUTH')
      } else {
        const list = offered.length === 0 ? 'none' : offered.join(' ')
        throw new SmtpClientError(
          'protocol',
          'AUTH',
          `No AUTH mechanism in common (offered: ${list})`,
        )
      }
      if (answer.code === 334) {
        // A challenge we have no answer to: "*" cancels the exchange (RFC 4954 §4).
        answer = await this.#command('*\r\n', 'AUTH')
      }
      if (answer.code !== 235) throw SmtpClientError.fromReply('AUTH', answer)
    })
  }

  /**
   * One message. Parameters go only to extensions the peer announced; the caller decides
   * beforehand whether the message may go to this peer at all. Per-recipient and per-message
   * refusals are in the result; only a failed connection rejects.
   */
  send(envelope: SendEnvelope, message: MessageSource): Promise<SendResult> {
    return this.#exclusive(() =>
      sendMessage(
        { transport: this.#transport, capabilities: this.#capabilities, timeouts: this.#timeouts },
        envelope,
        message,
      ),
    )
  }

  /** RSET (RFC 5321 §4.1.1.5): whatever the server answered. */
  reset(): Promise<Reply> {
    return this.#exclusive(() => this.#command('RSET\r\n', 'RSET'))
  }

  /** QUIT, then close (RFC 5321 §4.1.1.10). Waits for 221 at most the command timeout. */
  async quit(): Promise<void> {
    if (this.#transport.isUsable && !this.#isBusy) {
      try {
        await this.#command('QUIT\r\n', 'QUIT')
      } catch {
        // The session is over either way.
      }
    }
    this.close()
  }

  close(): void {
    this.#transport.destroy()
  }

  async #command(line: string, phase: string): Promise<Reply> {
    await this.#transport.write(line, phase, this.#timeouts.command)
    return this.#transport.readReply(phase, this.#timeouts.command)
  }

  /** SMTP is one exchange at a time; a second caller would read the first one's reply. */
  async #exclusive<T>(run: () => Promise<T>): Promise<T> {
    if (this.#isBusy) throw new Error('SmtpClient: a command is already running')
    this.#isBusy = true
    try {
      return await run()
    } finally {
      this.#isBusy = false
    }
  }
}

function isCompletion(answer: Reply): boolean {
  return answer.code >= 200 && answer.code < 300
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64')
}

/** A value put on a command line: nothing that could end the line or add a parameter. */
function checkArgument(value: string, what: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  if (value === '' || /[\u0000-\u0020\u007f]/.test(value)) {
    throw new TypeError(`Not a valid ${what}: ${JSON.stringify(value)}`)
  }
}
