// For tests only: a scripted POP3 or IMAP peer on loopback, so the clients' error paths can be
// driven with exactly the octets a broken or hostile server would send.
import { createServer, type Socket } from 'node:net'
import type { TestContext } from 'node:test'

/** One accepted connection, seen from the fake server's side. */
export class FakeSession {
  readonly socket: Socket
  /** Every line the client sent, without line ends, in order. */
  readonly lines: string[] = []
  #buffer = Buffer.alloc(0)
  #isClosed = false
  #wake: (() => void) | null = null

  constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk])
      this.#wake?.()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#isClosed = true
      this.#wake?.()
    })
  }

  get isClosed(): boolean {
    return this.#isClosed
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** The next line the client sends, without CRLF; null if it closes first. */
  async readLine(): Promise<string | null> {
    for (;;) {
      const lf = this.#buffer.indexOf(0x0a)
      if (lf >= 0) {
        const line = this.#buffer.toString('utf8', 0, lf).replace(/\r$/, '')
        this.#buffer = this.#buffer.subarray(lf + 1)
        this.lines.push(line)
        return line
      }
      if (this.#isClosed) return null
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
      this.#wake = null
    }
  }

  /** Exactly `count` octets (a literal the client sends). */
  async readBytes(count: number): Promise<Buffer> {
    while (this.#buffer.length < count && !this.#isClosed) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
      this.#wake = null
    }
    const bytes = this.#buffer.subarray(0, count)
    this.#buffer = this.#buffer.subarray(count)
    return bytes
  }

  /** Reads a line from the client and checks it; returns it. */
  async expect(pattern: RegExp): Promise<string> {
    const line = await this.readLine()
    if (line === null || !pattern.test(line)) {
      throw new Error(`the client sent ${JSON.stringify(line)}, expected ${pattern}`)
    }
    return line
  }

  /** Closes the connection once what was written has gone out. */
  end(): void {
    this.socket.end()
  }
}

/**
 * Listens on 127.0.0.1 and runs `script` for each connection; the port and the sessions so far.
 * A script that throws ends its connection. Everything is closed when the test ends.
 */
export async function startFakeServer(
  t: TestContext,
  script: (session: FakeSession) => Promise<void>,
): Promise<{ port: number; sessions: FakeSession[]; errors: Error[] }> {
  const sessions: FakeSession[] = []
  const errors: Error[] = []
  const server = createServer((socket) => {
    const session = new FakeSession(socket)
    sessions.push(session)
    script(session).catch((error: Error) => {
      errors.push(error)
      socket.destroy()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const session of sessions) session.socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { port: address.port, sessions, errors }
}
