// A bare socket client for the resource-attack torture tests: thousands of them may be open at
// once, so it registers nothing with the test context; it reads lines, exact counts and IMAP
// responses with their literals, each within a time bound, and reports how the connection ended.

import { connect, type Socket } from 'node:net'

export class WireClient {
  readonly socket: Socket
  /** When the connection closed (ms since the epoch), null while it is open. */
  closedAt: number | null = null
  #buffer = ''
  #waiters: Array<() => void> = []
  /** Keeps at most this many unread characters (a client that only counts replies). */
  readonly #maxBuffered: number

  private constructor(socket: Socket, maxBuffered: number) {
    this.socket = socket
    this.#maxBuffered = maxBuffered
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk
      if (this.#buffer.length > this.#maxBuffered) {
        this.#buffer = this.#buffer.slice(this.#buffer.length - this.#maxBuffered)
      }
      this.#wake()
    })
    socket.on('close', () => {
      this.closedAt = Date.now()
      this.#wake()
    })
    socket.on('error', () => {})
  }

  /** Connects to 127.0.0.1:port within `timeoutMs`. */
  static async connect(
    port: number,
    options: { timeoutMs?: number; maxBuffered?: number } = {},
  ): Promise<WireClient> {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true })
    const timeoutMs = options.timeoutMs ?? 10_000
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`no connection to port ${port} within ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        resolve()
      })
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
    })
    return new WireClient(socket, options.maxBuffered ?? 64 * 1024 * 1024)
  }

  get isClosed(): boolean {
    return this.closedAt !== null
  }

  /** What has arrived and was not read yet. */
  get unread(): string {
    return this.#buffer
  }

  /** Writes and waits while the socket's buffer is full; false once the connection is gone. */
  async write(data: string | Buffer): Promise<boolean> {
    const { socket } = this
    if (this.isClosed || socket.destroyed || !socket.writable) return false
    if (socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)) return true
    await new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done)
        socket.off('close', done)
        resolve()
      }
      socket.on('drain', done)
      socket.on('close', done)
    })
    return !this.isClosed
  }

  /** The next line without its CRLF. */
  readLine(timeoutMs: number): Promise<string> {
    return this.#readWith(timeoutMs, () => {
      const end = this.#buffer.indexOf('\r\n')
      if (end < 0) return null
      const line = this.#buffer.slice(0, end)
      this.#buffer = this.#buffer.slice(end + 2)
      return line
    })
  }

  /** Exactly `count` characters (octets: the socket reads latin1). */
  readExact(count: number, timeoutMs: number): Promise<string> {
    return this.#readWith(timeoutMs, () => {
      if (this.#buffer.length < count) return null
      const taken = this.#buffer.slice(0, count)
      this.#buffer = this.#buffer.slice(count)
      return taken
    })
  }

  /** Everything up to and including `terminator`. */
  readThrough(terminator: string, timeoutMs: number): Promise<string> {
    return this.#readWith(timeoutMs, () => {
      const end = this.#buffer.indexOf(terminator)
      if (end < 0) return null
      const taken = this.#buffer.slice(0, end + terminator.length)
      this.#buffer = this.#buffer.slice(end + terminator.length)
      return taken
    })
  }

  /** Removes and returns every complete line that has arrived (for clients that count replies). */
  takeLines(): string[] {
    const end = this.#buffer.lastIndexOf('\r\n')
    if (end < 0) return []
    const lines = this.#buffer.slice(0, end).split('\r\n')
    this.#buffer = this.#buffer.slice(end + 2)
    return lines
  }

  /** Resolves once the connection is closed; rejects after `timeoutMs`. */
  async closed(timeoutMs: number): Promise<void> {
    await this.#readWith(timeoutMs, () => (this.isClosed ? true : null), true)
  }

  destroy(): void {
    this.socket.destroy()
  }

  async #readWith<T>(timeoutMs: number, take: () => T | null, isWaitingForClose = false) {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const taken = take()
      if (taken !== null) return taken
      if (this.isClosed && !isWaitingForClose) {
        throw new Error(`connection closed; unread: ${preview(this.#buffer)}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new Error(`nothing within ${timeoutMs} ms; unread: ${preview(this.#buffer)}`)
      }
      await this.#wait(left)
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.#waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake()
  }
}

/** A short, printable view of what a client has not read, for failure messages. */
function preview(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…(${text.length})` : text)
}

/** One SMTP reply (all its lines), as "250 2.0.0 Ok" or "250-first\r\n250 last". */
export async function readSmtpReply(client: WireClient, timeoutMs: number): Promise<string> {
  const lines: string[] = []
  for (;;) {
    const line = await client.readLine(timeoutMs)
    lines.push(line)
    if (!/^\d{3}-/.test(line)) return lines.join('\r\n')
  }
}

/** An IMAP response up to the line tagged `tag`; literals are read into their lines. */
export interface ImapAnswer {
  untagged: string[]
  tagged: string
}

export async function readImapResponse(
  client: WireClient,
  tag: string,
  timeoutMs: number,
): Promise<ImapAnswer> {
  const untagged: string[] = []
  for (;;) {
    const line = await readImapLine(client, timeoutMs)
    if (line.startsWith(`${tag} `)) return { untagged, tagged: line }
    untagged.push(line)
  }
}

/** One IMAP response line with the literals it carries ({n} then n octets) put inline. */
export async function readImapLine(client: WireClient, timeoutMs: number): Promise<string> {
  let line = await client.readLine(timeoutMs)
  for (;;) {
    const literal = /\{(\d+)\}$/.exec(line)
    if (literal === null) return line
    const octets = await client.readExact(Number(literal[1]), timeoutMs)
    line += `\r\n${octets}${await client.readLine(timeoutMs)}`
  }
}

/** A POP3 multi-line response's body (after its +OK line; not empty), dot-stuffing undone. */
export async function readPop3Body(client: WireClient, timeoutMs: number): Promise<string> {
  const taken = await client.readThrough('\r\n.\r\n', timeoutMs)
  const body = taken.slice(0, taken.length - 3)
  return (body.startsWith('..') ? body.slice(1) : body).replaceAll('\r\n..', '\r\n.')
}
