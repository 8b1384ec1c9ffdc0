import { type ChildProcess, spawn } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { getFreePorts } from './free-port.ts'

/** Where Debian's dovecot-core (pulled in by dovecot-imapd) installs the master binary. */
export const DOVECOT_BINARY = '/usr/sbin/dovecot'

const START_TIMEOUT_MS = 15_000
const COMMAND_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 5_000
const START_ATTEMPTS = 3

// Without root, chroot fails ("Operation not permitted") and anvil restarts with growing delays, so
// the services that chroot by default must not.
const ROOTLESS_SERVICES = ['imap-login', 'anvil', 'ipc', 'old-stats']
  .map((name) => `service ${name} {\n  chroot =\n}\n`)
  .join('')

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
 * Starts Dovecot with a generated config in a temporary directory: IMAP only, on 127.0.0.1 and a
 * free port, no TLS, one passwd-file user, a maildir in the same directory. Nothing under
 * /etc/dovecot or /var is read or written. Dovecot is stopped and the directory removed when the
 * test ends.
 */
export async function startDovecot(t: TestContext): Promise<Dovecot> {
  if (!existsSync(DOVECOT_BINARY)) {
    throw new Error(
      `Cannot start Dovecot, "${DOVECOT_BINARY}" is missing: install dovecot-imapd (apt-get install -y dovecot-imapd)`,
    )
  }
  const identity = resolveIdentity()
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-dovecot-'))
  // Dovecot's unprivileged processes (auth as "dovecot", the maildir as the mail user) must be
  // able to reach the passwd file and their directories.
  chmodSync(dir, 0o755)
  const user = 'postern'
  const password = 'postern-test-password'
  const configPath = path.join(dir, 'dovecot.conf')
  const logPath = path.join(dir, 'dovecot.log')
  const passwdPath = path.join(dir, 'passwd')
  writeFileSync(passwdPath, `${user}:{PLAIN}${password}\n`, { mode: 0o644 })
  for (const sub of ['mail', 'home']) {
    mkdirSync(path.join(dir, sub))
    if (identity.isRoot) chownSync(path.join(dir, sub), identity.mailUid, identity.mailGid)
  }

  let master: ChildProcess | null = null
  let masterExited: Promise<void> = Promise.resolve()
  const connections = new Set<ImapConnection>()
  t.after(async () => {
    for (const connection of connections) connection.destroy()
    if (master !== null && master.exitCode === null && master.signalCode === null) {
      // With -F the child is the master process; SIGTERM makes it stop every Dovecot process.
      master.kill('SIGTERM')
      const timer = setTimeout(() => master?.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await masterExited
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
  })
  const readLog = () => (existsSync(logPath) ? readFileSync(logPath, 'latin1') : '')

  let port = 0
  let commandConnection: ImapConnection | null = null
  for (let attempt = 1; commandConnection === null; attempt += 1) {
    const [freePort] = await getFreePorts(1)
    if (freePort === undefined) throw new Error('Cannot start Dovecot, no free port')
    port = freePort
    writeFileSync(configPath, dovecotConfig({ dir, port, logPath, passwdPath, identity }))
    const child = spawn(DOVECOT_BINARY, ['-F', '-c', configPath], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    master = child
    let output = ''
    child.stdout.setEncoding('latin1').on('data', (chunk: string) => {
      output += chunk
    })
    child.stderr.setEncoding('latin1').on('data', (chunk: string) => {
      output += chunk
    })
    let hasExited = false
    masterExited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        hasExited = true
        resolve()
      })
      child.once('error', (error) => {
        output += `${error.message}\n`
        hasExited = true
        resolve()
      })
    })
    try {
      commandConnection = await connectWhenReady(port, () => hasExited)
    } catch (error) {
      const details = `${output}${readLog()}`
      if (hasExited && /address already in use/i.test(details) && attempt < START_ATTEMPTS) continue
      throw new Error(
        `Cannot start Dovecot on 127.0.0.1:${port}: ${(error as Error).message}\n${details}`,
      )
    }
  }
  connections.add(commandConnection)
  await commandConnection.login(user, password)

  let fetchQueue: Promise<unknown> = Promise.resolve()
  return {
    port,
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
      if (commandConnection === null) throw new Error('Dovecot is not running')
      const { untagged, tagged } = await commandConnection.run(splitLiterals(line))
      return [...untagged, tagged].map((response) => `${response.toString('latin1')}\r\n`).join('')
    },
  }
}

interface Identity {
  isRoot: boolean
  /** Dovecot's own processes (auth, stats…) and the login processes run as these. */
  internalUser: string
  internalGroup: string
  loginUser: string
  /** Mail processes and the maildir belong to this uid/gid. */
  mailUid: number
  mailGid: number
}

function resolveIdentity(): Identity {
  const uid = process.getuid?.() ?? 0
  const gid = process.getgid?.() ?? 0
  if (uid !== 0) {
    // Rootless Dovecot: every process runs as the current user.
    const name = userInfo().username
    return {
      isRoot: false,
      internalUser: name,
      internalGroup: lookupGroupName(gid) ?? name,
      loginUser: name,
      mailUid: uid,
      mailGid: gid,
    }
  }
  for (const name of ['dovecot', 'dovenull']) {
    if (lookupUser(name) === null) {
      throw new Error(
        `Cannot start Dovecot, the system user "${name}" is missing: install dovecot-imapd (apt-get install -y dovecot-imapd)`,
      )
    }
  }
  // Dovecot refuses mail access as root ("Mail access not allowed for root"), so the maildir
  // belongs to an unprivileged system user that Debian always has.
  const mailUser = lookupUser('mail') ?? lookupUser('nobody')
  if (mailUser === null)
    throw new Error('Cannot start Dovecot, no "mail" or "nobody" user for mail')
  return {
    isRoot: true,
    internalUser: 'dovecot',
    internalGroup: 'dovecot',
    loginUser: 'dovenull',
    mailUid: mailUser.uid,
    mailGid: mailUser.gid,
  }
}

function lookupUser(name: string): { uid: number; gid: number } | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':')
    if (fields[0] === name && fields.length >= 4) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) }
    }
  }
  return null
}

function lookupGroupName(gid: number): string | null {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const fields = line.split(':')
    if (fields[2] === String(gid) && fields[0] !== undefined) return fields[0]
  }
  return null
}

function dovecotConfig(options: {
  dir: string
  port: number
  logPath: string
  passwdPath: string
  identity: Identity
}): string {
  const { dir, port, logPath, passwdPath, identity } = options
  return `# Generated by test/support/dovecot.ts for one test. Nothing outside ${dir} is used.
protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = postern-test-${port}
log_path = ${logPath}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = ${identity.internalUser}
default_internal_group = ${identity.internalGroup}
default_login_user = ${identity.loginUser}
first_valid_uid = ${identity.mailUid}
last_valid_uid = ${identity.mailUid}
first_valid_gid = ${identity.mailGid}
last_valid_gid = ${identity.mailGid}
mail_uid = ${identity.mailUid}
mail_gid = ${identity.mailGid}
mail_location = maildir:${dir}/mail/%u
mail_fsync = never
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${passwdPath}
}
userdb {
  driver = static
  args = home=${dir}/home/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
${identity.isRoot ? '' : ROOTLESS_SERVICES}`
}

/** Connects as soon as the master listens, and waits for the greeting of a ready login process. */
async function connectWhenReady(port: number, hasExited: () => boolean): Promise<ImapConnection> {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (hasExited()) throw new Error('Dovecot exited during start')
    try {
      return await ImapConnection.open(port, Math.max(1, deadline - Date.now()))
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ECONNREFUSED' || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
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
