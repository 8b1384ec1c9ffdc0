// For tests only: a scripted SMTP peer on loopback, so client tests can check exactly what went
// over the wire and when, and answer anything, including nonsense.
import { createServer, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import { type SecureContext, TLSSocket } from 'node:tls'
import { SmtpClient } from './client.ts'
import type { SendEnvelope } from './envelope.ts'

/** One accepted connection, seen from the fake server's side. */
export class FakeSession {
  socket: Socket
  /** Every 'data' chunk as it arrived, across the TLS upgrade too. */
  readonly chunks: Buffer[] = []
  #buffer = Buffer.alloc(0)
  #isClosed = false
  #wake: (() => void) | null = null

  constructor(socket: Socket) {
    this.socket = socket
    this.#listen(socket)
  }

  get isClosed(): boolean {
    return this.#isClosed
  }

  /** Received and not yet read by the script. */
  get pending(): Buffer {
    return this.#buffer
  }

  write(text: string | Buffer): void {
    this.socket.write(text)
  }

  /** The next line without its CRLF; rejects if the client closes first. */
  async readLine(): Promise<string> {
    for (;;) {
      const lf = this.#buffer.indexOf(0x0a)
      if (lf >= 0) {
        const line = this.#buffer.subarray(0, lf).toString('utf8').replace(/\r$/, '')
        this.#buffer = this.#buffer.subarray(lf + 1)
        return line
      }
      await this.#more()
    }
  }

  /** Exactly `count` octets. */
  async readBytes(count: number): Promise<Buffer> {
    while (this.#buffer.length < count) await this.#more()
    const bytes = this.#buffer.subarray(0, count)
    this.#buffer = this.#buffer.subarray(count)
    return bytes
  }

  /** Everything up to and including `marker`. */
  async readUntil(marker: string): Promise<Buffer> {
    for (;;) {
      const at = this.#buffer.indexOf(marker)
      if (at >= 0) return this.readBytes(at + marker.length)
      await this.#more()
    }
  }

  /** Reads a line and checks it. */
  async expect(pattern: string | RegExp): Promise<string> {
    const line = await this.readLine()
    const isMatch = typeof pattern === 'string' ? line === pattern : pattern.test(line)
    if (!isMatch)
      throw new Error(`fake server expected ${String(pattern)}, got ${JSON.stringify(line)}`)
    return line
  }

  /** The 220 greeting, then EHLO answered with `extensions`. */
  async greet(extensions: string[]): Promise<void> {
    this.write('220 mx.example.test ESMTP\r\n')
    await this.ehlo(extensions)
  }

  /** Reads EHLO and answers it with `extensions` after the greeting line. */
  async ehlo(extensions: string[]): Promise<void> {
    await this.expect(/^EHLO /)
    const lines = ['fake.example.test Hello', ...extensions]
    this.write(
      lines.map((line, i) => `250${i === lines.length - 1 ? ' ' : '-'}${line}\r\n`).join(''),
    )
  }

  /** Resolves once the client has closed the connection. */
  async closed(): Promise<void> {
    while (!this.#isClosed) await this.#more().catch(() => {})
  }

  /** The server side of STARTTLS: octets after this are read from the TLS socket. */
  async upgrade(secureContext: SecureContext): Promise<void> {
    const plain = this.socket
    plain.removeAllListeners('data')
    const secure = new TLSSocket(plain, { isServer: true, secureContext })
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', () => resolve())
      secure.once('error', reject)
      // A client that refuses the certificate may just close.
      secure.once('close', () => reject(new Error('closed during the TLS handshake')))
    })
    this.socket = secure
    this.#listen(secure)
  }

  #listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk)
      this.#buffer = Buffer.concat([this.#buffer, chunk])
      this.#notify()
    })
    socket.on('close', () => {
      this.#isClosed = true
      this.#notify()
    })
    socket.on('error', () => {})
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  #more(): Promise<void> {
    if (this.#isClosed) return Promise.reject(new Error('the client closed the connection'))
    return new Promise((resolve) => {
      this.#wake = resolve
    })
  }
}

/** A message source yielding exactly these chunks. */
export function messageSource(...chunks: Array<string | Buffer>): {
  size: number
  chunks(): AsyncIterable<Buffer>
} {
  const buffers = chunks.map((chunk) => Buffer.from(chunk))
  return {
    size: buffers.reduce((sum, chunk) => sum + chunk.length, 0),
    async *chunks() {
      yield* buffers
    },
  }
}

export interface FakeServer {
  port: number
  sessions: FakeSession[]
  /** Resolves when the script of the nth session (0-based) has finished; rejects if it threw. */
  done(index?: number): Promise<void>
}

/**
 * Listens on 127.0.0.1 and runs `script` for every connection. The server and its connections
 * are closed after the test.
 */
export async function startFakeServer(
  t: TestContext,
  script: (session: FakeSession) => Promise<void>,
): Promise<FakeServer> {
  const sessions: FakeSession[] = []
  const runs: Array<Promise<void>> = []
  const waiters: Array<() => void> = []
  const server = createServer((socket) => {
    const session = new FakeSession(socket)
    sessions.push(session)
    const run = script(session)
    // Kept for done(); a script nobody waits for must not fail the process.
    run.catch(() => {})
    runs.push(run)
    for (const wake of waiters.splice(0)) wake()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const session of sessions) session.socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    port,
    sessions,
    async done(index = 0) {
      while (runs[index] === undefined) await new Promise<void>((resolve) => waiters.push(resolve))
      await runs[index]
    },
  }
}

/** Short enough that a test that hangs fails quickly, long enough for a busy machine. */
export const TEST_TIMEOUTS = {
  greeting: 5000,
  mail: 5000,
  rcpt: 5000,
  command: 5000,
  dataEnd: 5000,
}

export const MESSAGE = 'From: a@example.org\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nHello\r\n'

export function envelope(...addresses: string[]): SendEnvelope {
  return { sender: 'a@example.org', recipients: addresses.map((address) => ({ address })) }
}

/** Connects and says EHLO to a fake server whose script starts with greet(). */
export async function ready(port: number): Promise<SmtpClient> {
  const client = await SmtpClient.connect({ host: '127.0.0.1', port, timeouts: TEST_TIMEOUTS })
  await client.hello('client.example.org')
  return client
}

/** Reads a DATA body up to the lone dot and returns it as sent (still dot-stuffed). */
export async function readData(session: FakeSession): Promise<string> {
  const wire = await session.readUntil('\r\n.\r\n')
  return wire.subarray(0, wire.length - 3).toString('latin1')
}
