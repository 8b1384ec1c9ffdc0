import { connect, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'

/** Connects to 127.0.0.1:port, in TLS from the first octet when asked (certificate not checked). */
export async function connectSocket(
  t: TestContext,
  port: number,
  options: { tls?: boolean } = {},
): Promise<Socket | TLSSocket> {
  const socket = options.tls
    ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
    : connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve())
    socket.once('error', reject)
  })
  t.after(() => socket.destroy())
  return socket
}

/**
 * What the plain protocol clients of the transcript tests share: a socket whose input collects
 * in a text buffer (one character per octet with 'latin1'), responses taken from its front by
 * the protocol's parser as they complete, STARTTLS-style upgrades in place, and the close.
 */
export class TextClient {
  socket: Socket | TLSSocket
  /** What has arrived and no response has taken yet. */
  protected buffer = ''
  readonly #encoding: BufferEncoding
  #waiters: Array<() => void> = []
  #isClosed = false

  constructor(socket: Socket | TLSSocket, encoding: BufferEncoding) {
    this.socket = socket
    this.#encoding = encoding
    this.#listen(socket)
  }

  get isClosed(): boolean {
    return this.#isClosed
  }

  write(data: string | Buffer): void {
    this.socket.write(data)
  }

  /** Waits until `take` returns a response from the buffer; rejects at close or timeout. */
  protected async readWith<T>(take: () => T | null, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const taken = take()
      if (taken !== null) return taken
      if (this.#isClosed) {
        throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer)}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new Error(`no response within ${timeoutMs} ms; got ${JSON.stringify(this.buffer)}`)
      }
      await this.#wait(left)
    }
  }

  /** Resolves once the server has closed the connection. */
  async closed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.#isClosed) {
      if (Date.now() > deadline) throw new Error('connection still open')
      await this.#wait(50)
    }
  }

  /** Starts TLS on the connection (after the protocol's "go ahead"), certificate not checked. */
  protected async upgradeToTls(): Promise<void> {
    const plain = this.socket
    plain.removeAllListeners('data')
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false })
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve())
      secure.once('error', reject)
    })
    this.socket = secure
    this.#listen(secure)
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

  #listen(socket: Socket | TLSSocket): void {
    socket.setEncoding(this.#encoding)
    socket.on('data', (chunk: string) => {
      this.buffer += chunk
      this.#wake()
    })
    socket.on('close', () => {
      this.#isClosed = true
      this.#wake()
    })
    socket.on('error', () => {})
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake()
  }
}
