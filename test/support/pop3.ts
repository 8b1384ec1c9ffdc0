import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { type Config, loadConfig } from '../../src/config/index.ts'
import { createDirectory, type Directory } from '../../src/directory/index.ts'
import { type RunningServer, startServer } from '../../src/server/index.ts'
import type { MailboxId, Store } from '../../src/store/index.ts'
import { silentLogger } from '../../src/util/index.ts'
import { getFreePorts } from './free-port.ts'
import { makeTempDir } from './temp-dir.ts'
import { connectSocket, TextClient } from './text-client.ts'

export const ALICE = { address: 'alice@example.test', password: 'alice-secret-1' }
export const BOB = { address: 'bob@example.test', password: 'bob-secret-1' }

export interface Pop3TestServer {
  server: RunningServer
  config: Config
  store: Store
  directory: Directory
  ports: { pop3: number; pop3s: number }
  /** Delivers each message into the account's INBOX (ALICE by default); returns the UIDs. */
  deliver(messages: ReadonlyArray<string | Buffer>, address?: string): Promise<number[]>
  inboxOf(address: string): Promise<MailboxId>
}

/**
 * A real Postern (SQLite store in a temp dir) with the pop3 and pop3s listeners on free loopback
 * ports, the domain example.test and the accounts alice and bob. `toml` is appended to the config.
 */
export async function startPop3Server(t: TestContext, toml = ''): Promise<Pop3TestServer> {
  const dir = makeTempDir(t, 'postern-pop3-')
  const [pop3 = 0, pop3s = 0] = await getFreePorts(2)
  const file = path.join(dir, 'postern.toml')
  writeFileSync(
    file,
    [
      'hostname = "pop.example.test"',
      'data_dir = "data"',
      'shutdown_grace_ms = 200',
      '[listen]',
      `pop3 = "127.0.0.1:${pop3}"`,
      `pop3s = "127.0.0.1:${pop3s}"`,
      '[dns]',
      'servers = ["127.0.0.1:9"]',
      toml,
    ].join('\n'),
  )
  const config = loadConfig({ path: file })
  const server = await startServer(config, { log: silentLogger })
  t.after(() => server.stop())
  const directory = createDirectory(server.store, { keepApopSecrets: config.pop3.apop })
  await directory.addDomain('example.test')
  await directory.addUser(ALICE.address, ALICE.password)
  await directory.addUser(BOB.address, BOB.password)
  const store = server.store
  const inboxOf = async (address: string) => {
    const account = await store.getAccount(address)
    const inbox = account === null ? null : await store.getMailbox(account.id, 'INBOX')
    if (inbox === null) throw new Error(`no INBOX for ${address}`)
    return inbox.id
  }
  return {
    server,
    config,
    store,
    directory,
    ports: { pop3, pop3s },
    inboxOf,
    async deliver(messages, address = ALICE.address) {
      const mailboxId = await inboxOf(address)
      const uids: number[] = []
      for (const message of messages) {
        const bytes = typeof message === 'string' ? Buffer.from(message, 'latin1') : message
        const [result] = await store.deliver({ bytes }, [{ mailboxId }])
        if (result?.status !== 'stored') throw new Error('delivery failed')
        uids.push(result.uid)
      }
      return uids
    },
  }
}

/** One POP3 response: the status line and, for multi-line ones, the un-stuffed lines. */
export interface Pop3Response {
  isOk: boolean
  /** The first line without its CRLF. */
  status: string
  /** Dot-stuffing undone, without the terminating line. Empty for single-line responses. */
  lines: string[]
  /** The response exactly as received. */
  raw: string
}

/**
 * A deliberately plain POP3 client for transcript tests: it sends exactly what it is told and
 * reads responses one at a time, so tests can pipeline, split or malform commands at will.
 * Text is read as Latin-1, so every octet of a message comes back as one character.
 */
export class Pop3TestClient extends TextClient {
  static async connect(t: TestContext, port: number, options: { tls?: boolean } = {}) {
    return new Pop3TestClient(await connectSocket(t, port, options), 'latin1')
  }

  /** Sends one command (CRLF added) and reads a single-line response. */
  async command(line: string): Promise<Pop3Response> {
    this.write(`${line}\r\n`)
    return this.read()
  }

  /** Sends one command and reads a multi-line response (or the -ERR that replaces it). */
  async multi(line: string): Promise<Pop3Response> {
    this.write(`${line}\r\n`)
    return this.read({ multiline: true })
  }

  /** The greeting, a login with USER/PASS, and the +OK that opens the maildrop. */
  async login(user: { address: string; password: string } = ALICE): Promise<Pop3Response> {
    await this.read()
    const sent = await this.command(`USER ${user.address}`)
    if (!sent.isOk) throw new Error(`USER failed: ${sent.raw}`)
    return this.command(`PASS ${user.password}`)
  }

  async startTls(): Promise<void> {
    const response = await this.command('STLS')
    if (!response.isOk) throw new Error(`STLS failed: ${response.raw}`)
    await this.upgradeToTls()
  }

  /** Reads the next complete response; rejects if the connection closes first. */
  read(options: { multiline?: boolean; timeoutMs?: number } = {}): Promise<Pop3Response> {
    return this.readWith(() => this.#take(options.multiline ?? false), options.timeoutMs ?? 10_000)
  }

  #take(multiline: boolean): Pop3Response | null {
    const first = this.buffer.indexOf('\r\n')
    if (first < 0) return null
    const status = this.buffer.slice(0, first)
    const isOk = status.startsWith('+OK')
    if (!multiline || !isOk) {
      const raw = this.buffer.slice(0, first + 2)
      this.buffer = this.buffer.slice(first + 2)
      return { isOk, status, lines: [], raw }
    }
    const lines: string[] = []
    let offset = first + 2
    for (;;) {
      const end = this.buffer.indexOf('\r\n', offset)
      if (end < 0) return null
      const line = this.buffer.slice(offset, end)
      offset = end + 2
      if (line === '.') break
      lines.push(line.startsWith('.') ? line.slice(1) : line)
    }
    const raw = this.buffer.slice(0, offset)
    this.buffer = this.buffer.slice(offset)
    return { isOk, status, lines, raw }
  }
}
