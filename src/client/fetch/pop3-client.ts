// The POP3 side of `postern fetch` (RFC 1939, with CAPA from RFC 2449, STLS from RFC 2595 and
// AUTH from RFC 5034): log in, list the maildrop by number, size and unique id, download
// messages byte for byte, mark them deleted and QUIT so that the server removes them.
import {
  DEFAULT_MAX_MESSAGE_OCTETS,
  MailClientError,
  type MailConnectOptions,
  MailSocket,
} from './mail-socket.ts'

export type Pop3ConnectOptions = MailConnectOptions

export interface Pop3ListEntry {
  number: number
  size: number
}

export interface Pop3UidlEntry {
  number: number
  uid: string
}

/**
 * A status line: RFC 2449 §4 allows 512 octets, CRLF included; servers that say more in an
 * -ERR are tolerated up to this.
 */
const MAX_STATUS_LINE_OCTETS = 8 * 1024
/** A line of a message: RFC 5322 §2.1.1 says 998 octets, real mail has longer; 1 MiB, CRLF. */
const MAX_CONTENT_LINE_OCTETS = 1024 * 1024 + 2
/** A LIST or UIDL listing: far more than the lines of a million messages. */
const MAX_LISTING_OCTETS = 64 * 1024 * 1024
/** RFC 2449 §4: a command line is at most 255 octets, CRLF included. */
const MAX_COMMAND_LINE_OCTETS = 255
const CRLF = Buffer.from('\r\n')

interface Reply {
  /** '+OK', '-ERR', or '+' for a SASL continuation (RFC 5034 §4). */
  status: '+OK' | '-ERR' | '+'
  text: string
}

/** A POP3 client for downloading a maildrop. One command at a time. */
export class Pop3Client {
  readonly #socket: MailSocket
  readonly #security: Pop3ConnectOptions['security']
  readonly #maxMessageOctets: number
  #capabilities: string[] = []

  private constructor(socket: MailSocket, options: Pop3ConnectOptions) {
    this.#socket = socket
    this.#security = options.security
    this.#maxMessageOctets = options.maxMessageOctets ?? DEFAULT_MAX_MESSAGE_OCTETS
  }

  /**
   * Connects, reads the greeting and asks CAPA; for 'starttls' upgrades with STLS first and asks
   * again, and refuses to go on if the server does not offer STLS.
   */
  static async connect(options: Pop3ConnectOptions): Promise<Pop3Client> {
    const socket = await MailSocket.connect(options)
    const client = new Pop3Client(socket, options)
    try {
      const greeting = await client.#reply('the greeting')
      if (greeting.status !== '+OK') {
        throw new MailClientError('connect', `The server refused the connection: ${greeting.text}`)
      }
      client.#capabilities = await client.#capa()
      if (options.security === 'starttls') await client.#startTls()
    } catch (error) {
      socket.destroy()
      throw error
    }
    return client
  }

  /** The CAPA lines (RFC 2449 §5), empty if the server has no CAPA. */
  get capabilities(): readonly string[] {
    return this.#capabilities
  }

  /**
   * Logs in: AUTH PLAIN (RFC 5034, RFC 4616) where CAPA lists "SASL … PLAIN", else USER and PASS
   * (RFC 1939 §7). A refusal fails with kind 'auth' and the server's text.
   */
  async login(user: string, password: string): Promise<void> {
    // RFC 8314 §5: credentials go over plain text only where the caller chose no security.
    if (!this.#socket.isTls && this.#security !== 'none') {
      throw new MailClientError('auth', 'Refusing to send the password over a plain connection')
    }
    if (user.includes('\0') || password.includes('\0')) {
      throw new MailClientError('auth', 'A user name or password cannot contain NUL')
    }
    const sasl = this.#capabilities.find((line) => /^SASL /i.test(line)) ?? ''
    const reply = sasl.toUpperCase().split(' ').includes('PLAIN')
      ? await this.#authPlain(user, password)
      : await this.#userPass(user, password)
    if (reply.status !== '+OK') throw new MailClientError('auth', `Login failed: ${reply.text}`)
  }

  /** LIST (RFC 1939 §5): each message's number and size in octets. */
  async list(): Promise<Pop3ListEntry[]> {
    const entries: Pop3ListEntry[] = []
    await this.#listing('LIST', (line) => {
      // RFC 1939 §5: scan listing = msg SP size, maybe followed by more that is ignored.
      const match = /^([0-9]{1,10}) ([0-9]{1,15})(?: .*)?$/.exec(line)
      if (match === null) return false
      entries.push({ number: Number(match[1]), size: Number(match[2]) })
      return true
    })
    return entries
  }

  /** UIDL (RFC 1939 §7): each message's unique id; kind 'protocol' if the server has no UIDL. */
  async uidl(): Promise<Pop3UidlEntry[]> {
    const entries: Pop3UidlEntry[] = []
    await this.#listing('UIDL', (line) => {
      // RFC 1939 §7: unique-id = 1*70 of 0x21-0x7E; longer ones are tolerated, spaces are not.
      const match = /^([0-9]{1,10}) ([\x21-\x7e]{1,512})$/.exec(line)
      if (match === null) return false
      entries.push({ number: Number(match[1]), uid: match[2] ?? '' })
      return true
    })
    return entries
  }

  /**
   * RETR (RFC 1939 §5): the message with CRLF line ends, dot-stuffing undone (§3), ending with
   * the CRLF before the terminating ".".
   */
  async retrieve(number: number): Promise<Buffer> {
    await this.#simple('RETR', number)
    const parts: Buffer[] = []
    let octets = 0
    await this.#multiline('RETR', MAX_CONTENT_LINE_OCTETS, (line) => {
      octets += line.length + 2
      if (octets > this.#maxMessageOctets) {
        throw new MailClientError(
          'protocol',
          `Message ${number} is larger than the ${this.#maxMessageOctets} octets allowed`,
        )
      }
      parts.push(line, CRLF)
    })
    return Buffer.concat(parts, octets)
  }

  /** DELE (RFC 1939 §5): marks the message; the server removes it only at QUIT (§6). */
  async delete(number: number): Promise<void> {
    await this.#simple('DELE', number)
  }

  /**
   * QUIT (RFC 1939 §6): the server removes the messages marked deleted, then the connection is
   * closed. A -ERR (some could not be removed) fails with kind 'no'.
   */
  async quit(): Promise<void> {
    try {
      this.#send('QUIT', 'QUIT')
      const reply = await this.#reply('QUIT')
      if (reply.status !== '+OK') throw new MailClientError('no', `QUIT failed: ${reply.text}`)
    } finally {
      await this.#socket.close()
    }
  }

  /** Drops the connection without QUIT: the server keeps every message (RFC 1939 §6). */
  close(): void {
    this.#socket.destroy()
  }

  /** RFC 2595 §4: STLS, the handshake, then CAPA again (what was said before TLS is forgotten). */
  async #startTls(): Promise<void> {
    if (!this.#capabilities.some((line) => line.toUpperCase() === 'STLS')) {
      throw new MailClientError('tls', 'The server does not offer STLS')
    }
    this.#send('STLS', 'STLS')
    const reply = await this.#reply('STLS')
    if (reply.status !== '+OK') throw new MailClientError('tls', `STLS failed: ${reply.text}`)
    await this.#socket.startTls('STLS')
    this.#capabilities = []
    this.#capabilities = await this.#capa()
  }

  /** RFC 2449 §5: CAPA; a server without it answers -ERR, which is no capabilities. */
  async #capa(): Promise<string[]> {
    this.#send('CAPA', 'CAPA')
    const reply = await this.#reply('CAPA')
    if (reply.status !== '+OK') return []
    const lines: string[] = []
    let octets = 0
    await this.#multiline('CAPA', MAX_STATUS_LINE_OCTETS, (line) => {
      octets += line.length
      if (octets > MAX_STATUS_LINE_OCTETS * 8) {
        throw new MailClientError('protocol', 'The CAPA list is too long')
      }
      lines.push(line.toString('utf8'))
    })
    return lines
  }

  async #authPlain(user: string, password: string): Promise<Reply> {
    // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd, UTF-8.
    const initial = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64')
    // RFC 5034 §4: the initial response saves a round trip, but only within the 255 octets a
    // command line may have (RFC 2449 §4); else it goes after the server's "+".
    const isInitial = `AUTH PLAIN ${initial}\r\n`.length <= MAX_COMMAND_LINE_OCTETS
    this.#send(isInitial ? `AUTH PLAIN ${initial}` : 'AUTH PLAIN', 'AUTH')
    let reply = await this.#reply('AUTH', true)
    if (reply.status === '+' && !isInitial) {
      this.#send(initial, 'AUTH')
      reply = await this.#reply('AUTH', true)
    }
    if (reply.status === '+') {
      // RFC 5034 §4: PLAIN has no more to say; "*" cancels, and the server answers -ERR.
      this.#send('*', 'AUTH')
      reply = await this.#reply('AUTH')
    }
    return reply
  }

  async #userPass(user: string, password: string): Promise<Reply> {
    // RFC 1939 §3: a command is one line, so its arguments cannot hold CR or LF.
    if (/[\r\n]/.test(user) || /[\r\n]/.test(password)) {
      throw new MailClientError(
        'auth',
        'A user name or password for USER/PASS cannot hold CR or LF',
      )
    }
    this.#send(`USER ${user}`, 'USER')
    const reply = await this.#reply('USER')
    if (reply.status !== '+OK') return reply
    this.#send(`PASS ${password}`, 'PASS')
    return this.#reply('PASS')
  }

  /** A command on one message: +OK, else kind 'no' with the server's text. */
  async #simple(verb: 'RETR' | 'DELE', number: number): Promise<void> {
    // RFC 1939 §3: message numbers start at 1.
    if (!Number.isInteger(number) || number < 1 || number > 2 ** 32) {
      throw new RangeError(`Bad message number ${number}`)
    }
    this.#send(`${verb} ${number}`, verb)
    const reply = await this.#reply(verb)
    if (reply.status !== '+OK') {
      throw new MailClientError('no', `${verb} ${number} failed: ${reply.text}`)
    }
  }

  /** LIST or UIDL; `take` returns false for a line it cannot read. */
  async #listing(verb: 'LIST' | 'UIDL', take: (line: string) => boolean): Promise<void> {
    this.#send(verb, verb)
    const reply = await this.#reply(verb)
    if (reply.status !== '+OK') {
      // RFC 1939 §7: UIDL is optional; a server without it answers -ERR.
      if (verb === 'UIDL') {
        throw new MailClientError('protocol', `The server does not support UIDL: ${reply.text}`)
      }
      throw new MailClientError('no', `${verb} failed: ${reply.text}`)
    }
    let octets = 0
    await this.#multiline(verb, MAX_STATUS_LINE_OCTETS, (line) => {
      octets += line.length + 2
      if (octets > MAX_LISTING_OCTETS) {
        throw new MailClientError('protocol', `The ${verb} listing is too long`)
      }
      const text = line.toString('latin1')
      if (!take(text)) {
        throw new MailClientError('protocol', `Malformed ${verb} line "${text.slice(0, 80)}"`)
      }
    })
  }

  /**
   * The lines of a multi-line response up to the terminating "." (RFC 1939 §3), with the
   * byte-stuffing undone: a line that starts with "." loses that ".". An error `onLine` throws
   * fails the connection, since the rest of the response is still on its way.
   */
  async #multiline(command: string, maxLineOctets: number, onLine: (line: Buffer) => void) {
    for (;;) {
      const line = await this.#socket.readLine(maxLineOctets, command)
      if (line.length === 1 && line[0] === 0x2e) return
      try {
        onLine(line[0] === 0x2e ? line.subarray(1) : line)
      } catch (error) {
        if (error instanceof MailClientError) throw this.#socket.fail(error)
        throw error
      }
    }
  }

  /** A status line: +OK or -ERR and the text after it (RFC 1939 §3), or "+" inside AUTH. */
  async #reply(command: string, allowContinuation = false): Promise<Reply> {
    const line = (await this.#socket.readLine(MAX_STATUS_LINE_OCTETS, command)).toString('utf8')
    const match = /^(\+OK|-ERR|\+)(?: (.*)|)$/i.exec(line)
    const status = match?.[1]?.toUpperCase()
    if (status === '+OK' || status === '-ERR' || (status === '+' && allowContinuation)) {
      return { status, text: match?.[2] ?? '' }
    }
    throw this.#socket.fail(
      new MailClientError(
        'protocol',
        `The server's reply to ${command} is not +OK or -ERR: "${line.slice(0, 200)}"`,
      ),
    )
  }

  #send(line: string, command: string): void {
    this.#socket.write(`${line}\r\n`, command)
  }
}
