import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { type Config, loadConfig } from '../../src/config/index.ts'
import { createDirectory, type Directory } from '../../src/directory/index.ts'
import { type RunningServer, startServer } from '../../src/server/index.ts'
import type { Store } from '../../src/store/index.ts'
import { silentLogger } from '../../src/util/index.ts'
import { getFreePorts } from './free-port.ts'
import { makeTempDir } from './temp-dir.ts'
import { connectSocket, TextClient } from './text-client.ts'

export interface SmtpTestServer {
  server: RunningServer
  config: Config
  store: Store
  directory: Directory
  ports: { smtp: number; submission: number; submissions: number }
}

export const ALICE = { address: 'alice@example.test', password: 'alice-secret-1' }
export const BOB = { address: 'bob@example.test', password: 'bob-secret-1' }

/**
 * A real Postern (SQLite store in a temp dir) with the three SMTP listeners on free loopback
 * ports, the domain example.test and the accounts alice and bob. `toml` is appended to the config.
 */
export async function startSmtpServer(t: TestContext, toml = ''): Promise<SmtpTestServer> {
  const dir = makeTempDir(t, 'postern-smtp-')
  const [smtp = 0, submission = 0, submissions = 0] = await getFreePorts(3)
  const file = path.join(dir, 'postern.toml')
  writeFileSync(
    file,
    [
      'hostname = "mx.example.test"',
      'data_dir = "data"',
      'shutdown_grace_ms = 200',
      '[listen]',
      `smtp = "127.0.0.1:${smtp}"`,
      `submission = "127.0.0.1:${submission}"`,
      `submissions = "127.0.0.1:${submissions}"`,
      // Nothing answers DNS on the discard port: mail for other domains stays queued (a
      // temporary failure) instead of the queue asking the real DNS from a test.
      ...(toml.includes('[dns]') ? [] : ['[dns]', 'servers = ["127.0.0.1:9"]']),
      // With no DNS to ask, inbound SPF/DKIM/DMARC would only ever be a temporary error (451):
      // tests of the MX listener that are not about mail authentication leave it off.
      ...(toml.includes('[dns]') || toml.includes('[mailauth]')
        ? []
        : ['[mailauth]', 'verify = false']),
      toml,
    ].join('\n'),
  )
  const config = loadConfig({ path: file })
  const server = await startServer(config, { log: silentLogger })
  t.after(() => server.stop())
  const directory = createDirectory(server.store)
  await directory.addDomain('example.test')
  await directory.addUser(ALICE.address, ALICE.password)
  await directory.addUser(BOB.address, BOB.password)
  return {
    server,
    config,
    store: server.store,
    directory,
    ports: { smtp, submission, submissions },
  }
}

/** One SMTP reply: its code and its lines' text (without code, separator or CRLF). */
export interface SmtpReply {
  code: number
  lines: string[]
  /** The reply exactly as received. */
  raw: string
}

/**
 * A deliberately plain SMTP client for transcript tests: it sends exactly what it is told and
 * reads replies one at a time, so tests can pipeline, split or malform commands at will.
 */
export class SmtpTestClient extends TextClient {
  static async connect(t: TestContext, port: number, options: { tls?: boolean } = {}) {
    return new SmtpTestClient(await connectSocket(t, port, options), 'utf8')
  }

  /** Sends one command line (CRLF added) and reads its reply. */
  async command(line: string): Promise<SmtpReply> {
    this.write(`${line}\r\n`)
    return this.read()
  }

  /** Reads the next complete reply; rejects if the connection closes first. */
  read(timeoutMs = 10_000): Promise<SmtpReply> {
    return this.readWith(() => this.#takeReply(), timeoutMs)
  }

  /** EHLO, and the extension keywords it listed. */
  async ehlo(name = 'client.example.org'): Promise<string[]> {
    const reply = await this.command(`EHLO ${name}`)
    if (reply.code !== 250) throw new Error(`EHLO failed: ${reply.raw}`)
    return reply.lines.slice(1)
  }

  async startTls(): Promise<void> {
    const reply = await this.command('STARTTLS')
    if (reply.code !== 220) throw new Error(`STARTTLS failed: ${reply.raw}`)
    await this.upgradeToTls()
  }

  /** STARTTLS (unless already on TLS), EHLO and AUTH PLAIN. */
  async login(user: { address: string; password: string }): Promise<void> {
    if (!('encrypted' in this.socket)) {
      await this.ehlo()
      await this.startTls()
    }
    await this.ehlo()
    const token = Buffer.from(`\0${user.address}\0${user.password}`).toString('base64')
    const reply = await this.command(`AUTH PLAIN ${token}`)
    if (reply.code !== 235) throw new Error(`AUTH failed: ${reply.raw}`)
  }

  /** MAIL, RCPTs, DATA with `message` (dot-stuffed here); the final reply. */
  async send(from: string, to: string[], message: string): Promise<SmtpReply> {
    const mail = await this.command(`MAIL FROM:<${from}>`)
    if (mail.code !== 250) return mail
    let accepted = 0
    for (const recipient of to) {
      if ((await this.command(`RCPT TO:<${recipient}>`)).code === 250) accepted += 1
    }
    const data = await this.command('DATA')
    if (data.code !== 354) return data
    if (accepted === 0) throw new Error('DATA accepted without recipients')
    const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')
    this.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`)
    return this.read()
  }

  #takeReply(): SmtpReply | null {
    const lines: string[] = []
    let offset = 0
    for (;;) {
      const end = this.buffer.indexOf('\r\n', offset)
      if (end < 0) return null
      const line = this.buffer.slice(offset, end)
      offset = end + 2
      lines.push(line.slice(4))
      if (line[3] !== '-') {
        const raw = this.buffer.slice(0, offset)
        this.buffer = this.buffer.slice(offset)
        return { code: Number(line.slice(0, 3)), lines, raw }
      }
    }
  }
}
