import { chownSync, existsSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import {
  DOVECOT_BINARY,
  type DovecotDir,
  type DovecotIdentity,
  type DovecotMaster,
  dovecotConfig,
  makeDovecotDir,
  readDovecotLog,
  resolveDovecotIdentity,
  startDovecotMaster,
} from './dovecot-instance.ts'

export { DOVECOT_BINARY } from './dovecot-instance.ts'

/** Debian's dovecot-pop3d installs the POP3 server here. */
const DOVECOT_POP3_BINARY = '/usr/lib/dovecot/pop3'

const COMMAND_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 5_000

/**
 * A private Dovecot IMAP server: the reference our ENVELOPE and BODYSTRUCTURE output is compared
 * with.
 *
 * Every string that goes in or comes out is a binary string: one character per octet (latin1), so
 * `Buffer.from(s, 'latin1')` gives the exact bytes back and comparisons are byte-exact, even for
 * 8-bit headers that are not UTF-8.
 */
export interface Dovecot {
  readonly port: number
  /** The POP3 listener on the same maildir, when started with `pop3: true`; else null. */
  readonly pop3Port: number | null
  readonly user: string
  readonly password: string
  /** The temporary directory with the config, the log, runtime files and the maildir. */
  readonly dir: string
  readonly configPath: string
  /** The Dovecot log so far (errors about a message show up here). */
  log(): string
  /**
   * Empties INBOX, APPENDs the messages in order and runs `UID FETCH 1:* (<items>)`. Returns, per
   * message, its FETCH data exactly as sent after `* <n> FETCH `, literals inline, without the
   * final CRLF. Throws if Dovecot refuses an APPEND. Calls on one instance run one at a time.
   */
  imapFetch(messages: readonly Buffer[], items: string): Promise<string[]>
  /**
   * Runs one command (without tag or CRLF) on a logged-in connection that stays open for the test,
   * and returns the raw untagged responses and the tagged line, each ending in CRLF. Synchronizing
   * literals (`{n}` CRLF and n octets) in the line are sent after Dovecot's `+`.
   */
  imapCommand(line: string): Promise<string>
}

/**
 * Starts Dovecot with a generated config in a temporary directory (./dovecot-instance.ts): IMAP
 * (and POP3 too with `pop3: true`) on 127.0.0.1 and free ports, no TLS, one passwd-file user, a
 * maildir in the same directory. Nothing under /etc/dovecot or /var is read or written. Dovecot
 * is stopped and the directory removed when the test ends. `settings` adds top-level
 * dovecot.conf lines.
 */
export async function startDovecot(
  t: TestContext,
  options: { settings?: string; pop3?: boolean } = {},
): Promise<Dovecot> {
  if (!existsSync(DOVECOT_BINARY)) {
    throw new Error(
      `Cannot start Dovecot, "${DOVECOT_BINARY}" is missing: install dovecot-imapd (apt-get install -y dovecot-imapd)`,
    )
  }
  if (options.pop3 === true && !existsSync(DOVECOT_POP3_BINARY)) {
    throw new Error(
      `Cannot start Dovecot's POP3 server, "${DOVECOT_POP3_BINARY}" is missing: install dovecot-pop3d (apt-get install -y dovecot-pop3d)`,
    )
  }
  const identity = resolveDovecotIdentity('dovecot-imapd')
  const files = makeDovecotDir('postern-dovecot-')
  const { dir, configPath } = files
  const user = 'postern'
  const password = 'postern-test-password'
  writeFileSync(files.passwdPath, `${user}:{PLAIN}${password}\n`, { mode: 0o644 })
  if (identity.isRoot) {
    for (const sub of [files.mailDir, files.homeDir]) {
      chownSync(sub, identity.mailUid, identity.mailGid)
    }
  }

  let master: DovecotMaster | null = null
  const connections = new Set<ImapConnection>()
  t.after(async () => {
    for (const connection of connections) connection.destroy()
    await master?.stop()
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
  })
  const readLog = () => readDovecotLog(files)

  const started = await startDovecotMaster({
    files,
    config: (port, [pop3Port]) =>
      imapConfig(files, port, identity, options.settings ?? '', pop3Port ?? null),
    connect: (port, timeoutMs) => ImapConnection.open(port, timeoutMs),
    stopTimeoutMs: STOP_TIMEOUT_MS,
    extraPorts: options.pop3 === true ? 1 : 0,
  })
  master = started.master
  const { port } = master
  const commandConnection = started.connection
  connections.add(commandConnection)
  await commandConnection.login(user, password)

  let fetchQueue: Promise<unknown> = Promise.resolve()
  return {
    port,
    pop3Port: started.extraPorts[0] ?? null,
    user,
    password,
    dir,
    configPath,
    log: readLog,

    imapFetch(messages, items) {
      const result = fetchQueue.then(async () => {
        const connection = await ImapConnection.open(port)
        connections.add(connection)
        try {
          await connection.login(user, password)
          return await fetchMessages(connection, messages, items)
        } catch (error) {
          throw new Error(`${(error as Error).message}\nDovecot log:\n${readLog()}`)
        } finally {
          connection.destroy()
          connections.delete(connection)
        }
      })
      fetchQueue = result.catch(() => {})
      return result
    },

    async imapCommand(line) {
      const { untagged, tagged } = await commandConnection.run(splitLiterals(line))
      return [...untagged, tagged].map((response) => `${response.toString('latin1')}\r\n`).join('')
    },
  }
}

function imapConfig(
  files: DovecotDir,
  port: number,
  identity: DovecotIdentity,
  settings: string,
  pop3Port: number | null,
): string {
  return dovecotConfig({
    files,
    generatedBy: 'test/support/dovecot.ts for one test',
    instanceName: `postern-test-${port}`,
    identity,
    passwordScheme: 'PLAIN',
    listeners: [
      { protocol: 'imap', port },
      ...(pop3Port === null ? [] : [{ protocol: 'pop3' as const, port: pop3Port }]),
    ],
    settings: `mail_fsync = never\n${settings}`,
  })
}

async function fetchMessages(
  connection: ImapConnection,
  messages: readonly Buffer[],
  items: string,
): Promise<string[]> {
  if (messages.length === 0) return []
  const select = await connection.expectOk(['SELECT INBOX'])
  const exists = select.untagged
    .map((response) => /^\* (\d+) EXISTS$/.exec(response.toString('latin1')))
    .find((match) => match !== null)
  // Empty INBOX first, so that sequence number n is messages[n - 1] whatever earlier calls stored.
  if (exists !== undefined && exists[1] !== '0') {
    await connection.expectOk(['STORE 1:* +FLAGS.SILENT (\\Deleted)'])
    await connection.expectOk(['EXPUNGE'])
  }
  for (const [index, message] of messages.entries()) {
    const { tagged } = await connection.run(['APPEND INBOX ', message])
    if (!isOk(tagged)) {
      throw new Error(
        `Dovecot refused APPEND of message ${index + 1} of ${messages.length} (${message.length} octets): ${tagged.toString('latin1')}`,
      )
    }
  }
  const fetched = await connection.expectOk([`UID FETCH 1:* (${items})`])
  const results: Array<string | undefined> = new Array(messages.length).fill(undefined)
  for (const response of fetched.untagged) {
    const text = response.toString('latin1')
    const match = /^\* (\d+) FETCH /.exec(text)
    if (match === null) continue
    const index = Number(match[1]) - 1
    if (index < 0 || index >= messages.length || results[index] !== undefined) {
      throw new Error(`Unexpected FETCH response for message ${match[1]}: ${text.slice(0, 200)}`)
    }
    results[index] = text.slice(match[0].length)
  }
  return results.map((result, index) => {
    if (result === undefined)
      throw new Error(`Dovecot sent no FETCH response for message ${index + 1}`)
    return result
  })
}

/** Turns a command line into text and literal segments: `{n}` CRLF is followed by n octets. */
function splitLiterals(line: string): Array<string | Buffer> {
  if (Buffer.from(line, 'latin1').toString('latin1') !== line) {
    throw new Error('Cannot send the IMAP command, it must be a binary string (one char per octet)')
  }
  const segments: Array<string | Buffer> = []
  const literal = /\{(\d+)\}\r\n/g
  let start = 0
  for (let match = literal.exec(line); match !== null; match = literal.exec(line)) {
    const end = literal.lastIndex + Number(match[1])
    segments.push(
      line.slice(start, match.index),
      Buffer.from(line.slice(literal.lastIndex, end), 'latin1'),
    )
    start = end
    literal.lastIndex = end
  }
  segments.push(line.slice(start))
  return segments
}

function isOk(tagged: Buffer): boolean {
  return /^\S+ OK( |$)/.test(tagged.toString('latin1', 0, 64))
}

/**
 * A deliberately small IMAP client (RFC 9051 §2.2): it reads whole responses, literals included,
 * and writes commands, waiting for the continuation request before each synchronizing literal.
 */
class ImapConnection {
  readonly #socket: Socket
  #buffer: Buffer = Buffer.alloc(0)
  #closedError: Error | null = null
  #wake: (() => void) | null = null
  #nextTag = 1

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
      this.#wake?.()
    })
    socket.on('error', (error) => {
      this.#closedError ??= error
      this.#wake?.()
    })
    socket.on('close', () => {
      this.#closedError ??= new Error('Dovecot closed the connection')
      this.#wake?.()
    })
  }

  /** Connects and reads the greeting, skipping "Waiting for authentication process" notices. */
  static async open(port: number, timeoutMs = COMMAND_TIMEOUT_MS): Promise<ImapConnection> {
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const connection = new ImapConnection(socket)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const greeting = (await connection.readResponse(deadline)).toString('latin1')
      if (/^\* OK Waiting for authentication/i.test(greeting)) continue
      if (greeting.startsWith('* OK')) return connection
      connection.destroy()
      throw new Error(`Unexpected IMAP greeting: ${greeting}`)
    }
  }

  async login(user: string, password: string): Promise<void> {
    await this.expectOk([`LOGIN ${quote(user)} ${quote(password)}`])
  }

  async expectOk(
    segments: Array<string | Buffer>,
  ): Promise<{ untagged: Buffer[]; tagged: Buffer }> {
    const result = await this.run(segments)
    if (!isOk(result.tagged)) {
      throw new Error(
        `IMAP command "${commandName(segments)}" failed: ${result.tagged.toString('latin1')}`,
      )
    }
    return result
  }

  /** Sends one tagged command and collects responses up to and including its tagged one. */
  async run(segments: Array<string | Buffer>): Promise<{ untagged: Buffer[]; tagged: Buffer }> {
    const deadline = Date.now() + COMMAND_TIMEOUT_MS
    const tag = `P${this.#nextTag++}`
    const untagged: Buffer[] = []
    const isTagged = (response: Buffer) =>
      response.length > tag.length && response.toString('latin1', 0, tag.length + 1) === `${tag} `
    this.#socket.write(`${tag} `, 'latin1')
    for (const segment of segments) {
      if (typeof segment === 'string') {
        this.#socket.write(segment, 'latin1')
        continue
      }
      this.#socket.write(`{${segment.length}}\r\n`, 'latin1')
      for (;;) {
        const response = await this.readResponse(deadline)
        if (response[0] === 0x2b /* + */) break
        // The server refused the literal (RFC 9051 §7.5: a tagged NO or BAD instead of "+").
        if (isTagged(response)) return { untagged, tagged: response }
        untagged.push(response)
      }
      this.#socket.write(segment)
    }
    this.#socket.write('\r\n')
    for (;;) {
      const response = await this.readResponse(deadline)
      if (isTagged(response)) return { untagged, tagged: response }
      untagged.push(response)
    }
  }

  /**
   * One response: a line, plus for each line that ends in a literal announcement `{n}` the n
   * octets after it and the line that continues the response. The octets of a literal are never
   * searched for CRLF. Returned without the final CRLF.
   */
  async readResponse(deadline: number): Promise<Buffer> {
    let offset = 0
    for (;;) {
      const lineEnd = this.#buffer.indexOf('\r\n', offset)
      if (lineEnd === -1) {
        await this.#more(deadline)
        continue
      }
      // literal = "{" number "}" CRLF *CHAR8; literal8 adds a "~" in front (RFC 9051 §9)
      const tail = this.#buffer.toString('latin1', Math.max(offset, lineEnd - 24), lineEnd)
      const announced = /\{(\d+)\}$/.exec(tail)
      if (announced === null) {
        const response = Buffer.from(this.#buffer.subarray(0, lineEnd))
        this.#buffer = this.#buffer.subarray(lineEnd + 2)
        return response
      }
      const literalEnd = lineEnd + 2 + Number(announced[1])
      while (this.#buffer.length < literalEnd) await this.#more(deadline)
      offset = literalEnd
    }
  }

  destroy(): void {
    this.#socket.destroy()
  }

  async #more(deadline: number): Promise<void> {
    if (this.#closedError !== null) throw this.#closedError
    const left = deadline - Date.now()
    if (left <= 0) {
      throw new Error(
        `Timed out waiting for Dovecot; unparsed input: ${JSON.stringify(this.#buffer.toString('latin1', 0, 500))}`,
      )
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, left)
      this.#wake = done
      function done() {
        clearTimeout(timer)
        resolve()
      }
    })
    this.#wake = null
  }
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`
}

function commandName(segments: Array<string | Buffer>): string {
  const first = segments[0]
  return typeof first === 'string' ? first.slice(0, 80) : ''
}
