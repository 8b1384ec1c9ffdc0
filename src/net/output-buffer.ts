import { type Connection, isLoopback } from './connection.ts'

/** Output is written once this much is waiting, even in the middle of a pipelined burst. */
const WRITE_THRESHOLD_OCTETS = 64 * 1024

/**
 * A session's responses, collected and written in one go: when the session has no complete
 * command left to read (so a pipelined burst is answered in one write), or once much is
 * waiting (a long RETR or FETCH goes out as it is produced, at the pace the peer reads).
 */
export class OutputBuffer {
  readonly #connection: Connection
  #chunks: Buffer[] = []
  #octets = 0

  constructor(connection: Connection) {
    this.#connection = connection
  }

  async send(data: string | Buffer): Promise<void> {
    const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    this.#chunks.push(buffer)
    this.#octets += buffer.length
    if (this.#octets >= WRITE_THRESHOLD_OCTETS) await this.flush()
  }

  async flush(): Promise<void> {
    if (this.#octets === 0) return
    const out =
      this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks)
    this.#chunks = []
    this.#octets = 0
    await this.#connection.write(out)
  }
}

/** Who may send a password without TLS: nobody, loopback clients, or anyone. */
export type PlaintextPolicy = 'never' | 'loopback' | 'always'

/**
 * Whether a password may cross this connection (RFC 8314 §3, RFC 2595 §4, RFC 9051 §6.2.3):
 * over TLS, or in plaintext where the operator's policy allows it for this peer.
 */
export function mayAuthenticateOn(connection: Connection, policy: PlaintextPolicy): boolean {
  if (connection.isTls || policy === 'always') return true
  return policy === 'loopback' && isLoopback(connection.remoteAddress)
}
