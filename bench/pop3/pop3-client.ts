// The pop3 benchmark's client: one POP3 session at a time per connection, each command sent
// once the previous answer is in (no pipelining), raw sockets, and as little parsing as
// checking the answers needs. The server sends nothing unasked, so an answer is complete when
// the bytes received so far end as one does: CRLF for a single line, CRLF "." CRLF for a
// multi-line one (inside a message such a line is dot-stuffed, RFC 1939 §3).
import { connect, type Socket } from 'node:net'

const RESPONSE_TIMEOUT_MS = 30_000
const TERMINATOR = Buffer.from('\r\n.\r\n')
const STUFFED = Buffer.from('\r\n..')

export interface Pop3Login {
  login: string
  password: string
}

export interface SessionOutcome {
  messages: number
  /** Octets of the messages after undoing the dot-stuffing, as LIST counts them. */
  octets: number
}

/**
 * login, STAT, LIST, UIDL, RETR of every message, QUIT. Checks that STAT, LIST and UIDL agree
 * on the count, that each RETR's message (dot-stuffing undone) has the octets LIST gave, and
 * that `expectMessages` are there; throws otherwise or at any -ERR. With `keep`, the messages
 * are handed to it (the benchmark compares them once with what it stored).
 */
export async function runSession(
  port: number,
  user: Pop3Login,
  expectMessages: number,
  keep?: (message: Buffer) => void,
): Promise<SessionOutcome> {
  const connection = await Pop3Connection.open(port)
  try {
    ok(await connection.line(), 'greeting')
    ok(await connection.command(`USER ${user.login}`, false), 'USER')
    ok(await connection.command(`PASS ${user.password}`, false), `PASS for ${user.login}`)
    const stat = ok(await connection.command('STAT', false), 'STAT').toString('latin1')
    const count = Number(/^\+OK (\d+) \d+/.exec(stat)?.[1] ?? Number.NaN)
    if (count !== expectMessages) {
      throw new Error(`STAT for ${user.login} says ${count} messages, not ${expectMessages}`)
    }
    const sizes = listing(ok(await connection.command('LIST', true), 'LIST'))
    const uids = listing(ok(await connection.command('UIDL', true), 'UIDL'))
    if (sizes.length !== count || uids.length !== count) {
      throw new Error(`${user.login}: STAT ${count}, LIST ${sizes.length}, UIDL ${uids.length}`)
    }
    let octets = 0
    for (let n = 1; n <= count; n += 1) {
      const response = ok(await connection.command(`RETR ${n}`, true), `RETR ${n}`)
      const size = unstuffedSize(response)
      if (size !== Number(sizes[n - 1])) {
        throw new Error(`${user.login}: RETR ${n} gave ${size} octets, LIST said ${sizes[n - 1]}`)
      }
      octets += size
      keep?.(unstuff(response))
    }
    ok(await connection.command('QUIT', false), 'QUIT')
    return { messages: count, octets }
  } finally {
    connection.close()
  }
}

/** The response's bytes; throws unless it starts with "+OK". */
function ok(response: Buffer, what: string): Buffer {
  if (response[0] === 0x2b /* + */) return response
  throw new Error(`${what}: ${response.toString('latin1', 0, 200).trim()}`)
}

/** The second word of each line of a multi-line response (LIST's size, UIDL's id). */
function listing(response: Buffer): string[] {
  const lines = response.toString('latin1').split('\r\n')
  // The status line first; the last two are "." and the empty string after its CRLF.
  return lines.slice(1, -2).map((line) => line.split(' ')[1] ?? '')
}

/** The message's octets in a RETR response: between the status line and ".", unstuffed. */
function unstuffedSize(response: Buffer): number {
  const start = response.indexOf('\r\n') + 2
  const end = response.length - 3
  let stuffed = 0
  for (let at = response.indexOf(STUFFED, start - 2); at >= 0 && at < end; ) {
    stuffed += 1
    at = response.indexOf(STUFFED, at + 3)
  }
  return end - start - stuffed
}

function unstuff(response: Buffer): Buffer {
  const body = response.toString('latin1', response.indexOf('\r\n') + 2, response.length - 3)
  // Every line that starts with "." was stuffed (RFC 1939 §3): one dot comes off each.
  return Buffer.from(body.replace(/^\./gm, ''), 'latin1')
}

/** One connection; `line()` and `command()` resolve with one whole response. */
class Pop3Connection {
  readonly #socket: Socket
  #chunks: Buffer[] = []
  #isMultiLine = false
  #waiting: { resolve: (response: Buffer) => void; reject: (error: Error) => void } | null = null
  #failure: Error | null = null

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => this.#receive(chunk))
    socket.on('error', (error) => this.#fail(error))
    socket.on('close', () => this.#fail(new Error('the server closed the connection')))
  }

  static open(port: number): Promise<Pop3Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', noDelay: true })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new Pop3Connection(socket))
      })
    })
  }

  /** The next single-line response (the greeting). */
  line(): Promise<Buffer> {
    return this.#expect(false)
  }

  command(line: string, isMultiLine: boolean): Promise<Buffer> {
    const response = this.#expect(isMultiLine)
    this.#socket.write(`${line}\r\n`, 'latin1')
    return response
  }

  close(): void {
    this.#socket.destroy()
  }

  #expect(isMultiLine: boolean): Promise<Buffer> {
    if (this.#failure !== null) return Promise.reject(this.#failure)
    this.#isMultiLine = isMultiLine
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = null
        reject(new Error(`no complete response within ${RESPONSE_TIMEOUT_MS} ms`))
      }, RESPONSE_TIMEOUT_MS)
      this.#waiting = {
        resolve: (response) => {
          clearTimeout(timer)
          resolve(response)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      }
    })
  }

  #receive(chunk: Buffer): void {
    this.#chunks.push(chunk)
    if (!this.#isComplete(chunk)) return
    const chunks = this.#chunks
    this.#chunks = []
    const waiting = this.#waiting
    this.#waiting = null
    const response = chunks.length === 1 ? chunk : Buffer.concat(chunks)
    if (waiting === null) {
      this.#fail(new Error(`unexpected data: ${response.toString('latin1', 0, 100)}`))
      return
    }
    waiting.resolve(response)
  }

  #isComplete(last: Buffer): boolean {
    if (last[last.length - 1] !== 0x0a) return false
    const first = this.#chunks[0] as Buffer
    // A single line, or an -ERR where a multi-line answer was hoped for.
    if (!this.#isMultiLine || first[0] === 0x2d /* - */) return true
    if (last.length >= TERMINATOR.length) {
      return last.compare(TERMINATOR, 0, 5, last.length - 5) === 0
    }
    const tail = Buffer.concat(this.#chunks.slice(-6))
    return tail.length >= 5 && tail.compare(TERMINATOR, 0, 5, tail.length - 5) === 0
  }

  #fail(error: Error): void {
    this.#failure ??= error
    const waiting = this.#waiting
    this.#waiting = null
    waiting?.reject(error)
  }
}
