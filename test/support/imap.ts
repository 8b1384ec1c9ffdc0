import type { TestContext } from 'node:test'
import { AuthThrottle } from '../../src/auth/index.ts'
import type { Directory } from '../../src/directory/index.ts'
import { createImapServer, type ImapSessionConfig } from '../../src/imap/server/index.ts'
import type { Store } from '../../src/store/index.ts'
import { startHandlerServer } from './handler-server.ts'
import { connectSocket, TextClient } from './text-client.ts'

export const ALICE = { address: 'alice@example.test', password: 'alice-secret-1' }

export const TEST_IMAP_CONFIG: ImapSessionConfig = {
  timeoutMs: 30 * 60 * 1000,
  maxErrors: 20,
  maxCommands: 100_000,
  allowPlaintext: 'loopback',
  maxMessageSize: 10 * 1024 * 1024,
}

export interface ImapTestServer {
  port: number
  store: Store
  directory: Directory
  throttle: AuthThrottle
}

/**
 * The IMAP handler on its own loopback listener over a fresh SQLite store, with the domain
 * example.test and the account alice. (The server is not in src/server's listener table yet.)
 */
export async function startImapServer(
  t: TestContext,
  options: { config?: Partial<ImapSessionConfig>; throttle?: AuthThrottle } = {},
): Promise<ImapTestServer> {
  const throttle = options.throttle ?? new AuthThrottle()
  const { port, store, directory } = await startHandlerServer(t, {
    name: 'imap',
    users: [ALICE],
    handler: (deps) =>
      createImapServer({
        hostname: 'imap.example.test',
        config: { ...TEST_IMAP_CONFIG, ...options.config },
        throttle,
        ...deps,
      }),
  })
  return { port, store, directory, throttle }
}

/** The answer to one command: the untagged lines before it and the tagged line (no CRLFs). */
export interface ImapResponse {
  untagged: string[]
  tagged: string
}

/**
 * A deliberately plain IMAP client for transcript tests: it sends exactly what it is told and
 * reads lines, so tests can pipeline, split or malform commands at will. Literals in responses
 * are not understood (nothing in the server sends one yet).
 */
export class ImapTestClient extends TextClient {
  static async connect(t: TestContext, port: number, options: { tls?: boolean } = {}) {
    return new ImapTestClient(await connectSocket(t, port, options), 'latin1')
  }

  /** Sends `${tag} ${text}` (a binary string) and reads up to the tagged response for `tag`. */
  async command(tag: string, text: string): Promise<ImapResponse> {
    // A binary string, like the responses: one char per octet.
    this.write(Buffer.from(`${tag} ${text}\r\n`, 'latin1'))
    return this.response(tag)
  }

  /** Reads lines until the one tagged `tag`; the ones before it are the untagged part. */
  async response(tag: string, timeoutMs = 10_000): Promise<ImapResponse> {
    const untagged: string[] = []
    for (;;) {
      const line = await this.readLine(timeoutMs)
      if (line.startsWith(`${tag} `)) return { untagged, tagged: line }
      untagged.push(line)
    }
  }

  /**
   * The next response without its final CRLF: a greeting, a continuation request, one response.
   * A response with literals is returned whole, each literal's "{n}" CRLF and octets in place.
   * Text is binary (one char per octet): 8-bit octets come back as latin1 characters.
   */
  readLine(timeoutMs = 10_000): Promise<string> {
    return this.readWith(() => {
      let from = 0
      for (;;) {
        const end = this.buffer.indexOf('\r\n', from)
        if (end < 0) return null
        const literal = /\{(\d+)\}$/.exec(this.buffer.slice(from, end))
        if (literal === null) {
          const line = this.buffer.slice(0, end)
          this.buffer = this.buffer.slice(end + 2)
          return line
        }
        const after = end + 2 + Number(literal[1])
        if (this.buffer.length < after) return null
        from = after
      }
    }, timeoutMs)
  }

  /** A LOGIN as alice (after the greeting); returns the tagged line. */
  async login(user: { address: string; password: string } = ALICE): Promise<string> {
    return (await this.command('L1', `LOGIN "${user.address}" "${user.password}"`)).tagged
  }

  async startTls(tag = 'S1'): Promise<void> {
    const response = await this.command(tag, 'STARTTLS')
    if (!response.tagged.startsWith(`${tag} OK`)) throw new Error(`STARTTLS: ${response.tagged}`)
    await this.handshake()
  }

  /** The TLS handshake, after a STARTTLS whose OK the test read itself. */
  handshake(): Promise<void> {
    return this.upgradeToTls()
  }
}
