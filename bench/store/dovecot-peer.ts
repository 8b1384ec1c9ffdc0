// The Dovecot half of the store benchmark: the same deliveries and the same mailbox opening as
// Postern's half, done by Debian's Dovecot binaries on a private config in a temporary directory.
// No Dovecot master runs: dovecot-lda, imap and doveadm are all run standalone, each execs
// doveconf to read the config file (as an LDA run by an MTA also does when the config socket is
// not readable), and nothing under /etc/dovecot or /var is touched.
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
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Readable } from 'node:stream'

const LDA = '/usr/lib/dovecot/dovecot-lda'
const IMAP = '/usr/lib/dovecot/imap'
const DOVEADM = '/usr/bin/doveadm'
const OPEN_TIMEOUT_MS = 120_000

export interface DovecotPeer {
  /**
   * Delivers the messages into INBOX with dovecot-lda, one process per message as an MTA runs it,
   * started in order, at most `concurrency` at once. With concurrency > 1 two neighbours may swap
   * UIDs, as they would under a real MTA. Returns elapsed ms.
   */
  deliver(messages: readonly Buffer[], concurrency?: number): Promise<number>
  /**
   * Opens INBOX on a fresh imap process: `SELECT INBOX (CONDSTORE)`, then once it completes
   * `UID FETCH 1:* (FLAGS MODSEQ)`. Returns ms from writing the SELECT to reading the FETCH's
   * tagged OK, which covers splitting the responses into lines here as any client would. Process
   * start, config reading and mail user setup are excluded: imap sends the PREAUTH greeting only
   * once they are done, and the clock starts after it.
   *
   * The first open after deliveries costs several times more than later ones (and is what a user
   * sees after new mail): that session takes the \Recent flags, so Dovecot renames every file
   * from new/ to cur/, and its CONDSTORE adds the modseq extension to the index (Dovecot tracks
   * modseqs only once a client has asked for them). Later opens mostly read.
   */
  open(): Promise<number>
  /** Number of messages in INBOX (sanity check), from `doveadm mailbox status`. */
  count(): Promise<number>
  /** Removes the temporary directory (config, log and maildir). */
  close(): Promise<void>
}

export async function startDovecotPeer(): Promise<DovecotPeer> {
  const missing = [LDA, IMAP, DOVEADM].find((binary) => !existsSync(binary))
  if (missing !== undefined) {
    throw new Error(
      `Cannot run the Dovecot peer, "${missing}" is missing: apt-get install -y dovecot-core dovecot-imapd`,
    )
  }
  const identity = resolveIdentity()
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-bench-dovecot-'))
  const home = path.join(dir, 'home')
  const configPath = path.join(dir, 'dovecot.conf')
  const logPath = path.join(dir, 'dovecot.log')
  mkdirSync(home)
  writeFileSync(configPath, dovecotConfig(dir, home, logPath, identity))
  // Everything runs as the mail user, which must be able to create the log, run dir and maildir.
  chmodSync(dir, 0o755)
  if (identity.switchTo) {
    for (const file of [dir, home, configPath]) chownSync(file, identity.uid, identity.gid)
  }

  const spawnOptions = {
    cwd: dir,
    // Standalone Dovecot takes the user from USER and the home from HOME (no userdb lookup).
    env: { USER: identity.name, HOME: home },
    ...(identity.switchTo ? { uid: identity.uid, gid: identity.gid } : {}),
  }
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'latin1') : '')
  const failure = (what: string, detail: string) =>
    new Error(`${what}: ${detail.trim()}\nDovecot log (end):\n${log().slice(-2000)}`)

  /** Runs one process to completion, feeding it `input`; rejects unless it exits with 0. */
  const run = (binary: string, args: string[], input?: Buffer) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(binary, args, { ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe'] })
      const output = collect(child.stdout)
      const errors = collect(child.stderr)
      // A process that fails early closes its stdin; its exit status tells why, not the EPIPE.
      child.stdin.on('error', () => {})
      child.stdin.end(input)
      child.once('error', reject)
      child.once('close', (code, signal) => {
        if (code === 0) resolve(output())
        else reject(failure(`${path.basename(binary)} exited with ${code ?? signal}`, errors()))
      })
    })

  return {
    async deliver(messages, concurrency = 2) {
      let next = 0
      const worker = async () => {
        while (next < messages.length) {
          const message = messages[next++] as Buffer
          // -f is the envelope sender an MTA passes; the recipient defaults to USER.
          await run(LDA, ['-c', configPath, '-f', 'bench@example.invalid'], message)
        }
      }
      const started = performance.now()
      const workers = Math.max(1, Math.min(concurrency, messages.length))
      await Promise.all(Array.from({ length: workers }, worker))
      return performance.now() - started
    },

    async open() {
      const child = spawn(IMAP, ['-c', configPath], { ...spawnOptions, stdio: 'pipe' })
      const session = new LineReader(child)
      try {
        const greeting = await session.until('*')
        if (!greeting[0]?.startsWith('* PREAUTH'))
          throw failure('imap did not PREAUTH', greeting[0] ?? '')
        const started = performance.now()
        child.stdin.write('a SELECT INBOX (CONDSTORE)\r\n')
        const select = await session.until('a')
        // A client needs EXISTS from SELECT before it knows what the FETCH brings, so the two
        // commands are not pipelined.
        child.stdin.write('b UID FETCH 1:* (FLAGS MODSEQ)\r\n')
        const fetch = await session.until('b')
        const elapsed = performance.now() - started
        const selected = select.at(-1) ?? ''
        const fetched = fetch.at(-1) ?? ''
        if (!/^a OK/.test(selected) || !/^b OK/.test(fetched)) {
          throw failure('Dovecot refused to open INBOX', `${selected}\n${fetched}`)
        }
        const exists = Number(
          select.map((line) => /^\* (\d+) EXISTS$/.exec(line)?.[1]).find(Boolean) ?? 0,
        )
        const fetches = fetch.filter((line) => / FETCH \(.*MODSEQ/.test(line)).length
        if (fetches !== exists)
          throw failure('FETCH and EXISTS disagree', `${fetches} != ${exists}`)
        child.stdin.end('c LOGOUT\r\n')
        await session.until('c')
        return elapsed
      } finally {
        child.kill()
      }
    },

    async count() {
      const args = ['-c', configPath, ...'-f flow mailbox status messages INBOX'.split(' ')]
      const output = await run(DOVEADM, args)
      const match = /messages=(\d+)/.exec(output)
      if (match === null) throw failure('Unexpected doveadm output', output)
      return Number(match[1])
    },

    async close() {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
    },
  }
}

interface Identity {
  /** USER for Dovecot. Its internal users only matter to services we never start. */
  name: string
  uid: number
  gid: number
  /** When running as root: Dovecot refuses mail access as root, so children run as `uid`/`gid`. */
  switchTo: boolean
}

function resolveIdentity(): Identity {
  const uid = process.getuid?.() ?? 0
  if (uid !== 0) {
    const name = userInfo().username
    return { name, uid, gid: process.getgid?.() ?? uid, switchTo: false }
  }
  // The same unprivileged system user as test/support/dovecot-instance.ts, which Debian always has.
  for (const name of ['mail', 'nobody']) {
    const fields = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .find((entry) => entry[0] === name && entry.length >= 4)
    if (fields) return { name, uid: Number(fields[2]), gid: Number(fields[3]), switchTo: true }
  }
  throw new Error('Cannot run the Dovecot peer as root: no "mail" or "nobody" user to run it as')
}

/**
 * Only paths, the allowed uid/gid (the default first_valid_uid = 500 refuses "mail") and ssl are
 * set; everything else is Dovecot's default so the figures are those of a stock install. Notably
 * mail_fsync stays `optimized` (doveconf -d, 2.3.19): per LDA delivery, strace shows an fsync of
 * the message before its rename from tmp/ into new/, then fdatasync of new/ and of
 * dovecot-uidlist; index and cache writes are not synced. mailbox_list_index stays yes.
 */
function dovecotConfig(dir: string, home: string, logPath: string, identity: Identity): string {
  return `# Generated by bench/store/dovecot-peer.ts. Nothing outside ${dir} is used.
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${logPath}
ssl = no
first_valid_uid = ${identity.uid}
last_valid_uid = ${identity.uid}
first_valid_gid = ${identity.gid}
last_valid_gid = ${identity.gid}
mail_location = maildir:${home}/Maildir
`
}

/** Gathers a child's output as a binary string, for error messages and doveadm's answer. */
function collect(stream: Readable | null): () => string {
  const chunks: string[] = []
  stream?.setEncoding('latin1').on('data', (chunk: string) => chunks.push(chunk))
  return () => chunks.join('')
}

/** Collects the imap process's output lines; IMAP responses here never carry literals. */
class LineReader {
  readonly #lines: string[] = []
  #partial = ''
  #ended: Error | null = null
  #wake: (() => void) | null = null

  constructor(child: ChildProcess) {
    child.stdout?.setEncoding('latin1').on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\r\n')
      this.#partial = parts.pop() ?? ''
      for (const line of parts) this.#lines.push(line)
      this.#wake?.()
    })
    // If imap dies, its exit (below) is the error to report, not EPIPE on a later write.
    child.stdin?.on('error', () => {})
    child.once('error', (error) => {
      this.#ended = error
      this.#wake?.()
    })
    const errors = collect(child.stderr)
    child.once('close', (code) => {
      this.#ended ??= new Error(`imap exited (${code}) mid-session: ${errors().trim()}`)
      this.#wake?.()
    })
  }

  /** Lines up to and including the first one that starts with `tag` and a space. */
  async until(tag: string): Promise<string[]> {
    const deadline = Date.now() + OPEN_TIMEOUT_MS
    const prefix = `${tag} `
    // Lines already scanned are not scanned again: a 20k-message FETCH arrives in many chunks.
    let scanned = 0
    for (;;) {
      for (; scanned < this.#lines.length; scanned++) {
        if (this.#lines[scanned]?.startsWith(prefix)) return this.#lines.splice(0, scanned + 1)
      }
      if (this.#ended) throw this.#ended
      if (Date.now() > deadline) throw new Error(`Timed out waiting for "${tag}" from imap`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now() + 1)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = null
    }
  }
}
