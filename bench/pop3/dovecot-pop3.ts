// Dovecot's half of the pop3 benchmark: Debian's dovecot-pop3d on a private config in a
// temporary directory (as test/support/dovecot.ts starts one for the IMAP tests: nothing under
// /etc/dovecot or /var is read or written; rootless when not run as root), plain POP3 on
// 127.0.0.1. The accounts are a passwd-file holding the very argon2id PHC strings Postern
// stored ({ARGON2ID}, verified by Dovecot's libsodium); the messages are Maildir files named as
// Dovecot's own delivery names them (S= the file's size, W= its size with CRLF line ends), with
// LF line ends as Dovecot saves mail by default (mail_save_crlf = no): it sends each LF as CRLF,
// so the octets a client gets are those Postern sends.
//
// Settings that are not Dovecot's defaults, besides those a private instance needs (paths,
// users, the listener) and that this benchmark asks for (plain POP3 with USER/PASS on loopback:
// ssl = no, disable_plaintext_auth = no, auth_mechanisms = plain login; pop3_uidl_format):
// - auth_cache_size = 0, which is the default, written out because Postern has no auth cache
//   either: every login verifies its argon2id hash on both sides.
// - `service pop3 { process_limit }` and `service pop3-login { process_limit }` at least twice
//   the number of clients (defaults 1024 and 100: set only so that a larger
//   POSTERN_BENCH_POP3_CLIENTS is never refused), pop3's 100 in the performance mode below
//   (Dovecot warns when reusable pop3 and login processes could exceed auth's client_limit).
// - With `processMode: 'performance'` (the benchmark's default), the process reuse Dovecot's
//   documentation recommends for busy servers: its "high-performance" login mode,
//   `service pop3-login { service_count = 0; process_min_avail = <cores> }` (login processes
//   that serve many connections), and `service pop3 { service_count = 100; process_min_avail =
//   <cores> }` (a pop3 process serves up to 100 sessions one after the other; all accounts
//   share one mail uid here, as virtual users usually do). With `'stock'`, Dovecot's default:
//   a new login process for every connection and a new pop3 process for every session.
import { type ChildProcess, spawn } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { availableParallelism, tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { getFreePorts } from '../../test/support/free-port.ts'
import type { BenchAccount } from './postern-pop3.ts'
import { readGreeting } from './postern-pop3.ts'

const DOVECOT = '/usr/sbin/dovecot'
const POP3 = '/usr/lib/dovecot/pop3'
const START_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 10_000
/** Maildir file times: one second apart in delivery order, so Dovecot numbers them in order. */
const FIRST_TIME = 1_767_225_600

export type DovecotProcessMode = 'stock' | 'performance'

export interface DovecotPop3 {
  readonly port: number
  /** The master process (every other Dovecot process descends from it). */
  readonly pid: number
  logTail(lines?: number): string
  /** Log lines that report an error, a warning or a fatal condition. */
  problems(): string[]
  /** SIGTERM to the master, which stops every Dovecot process; removes the directory. */
  stop(): Promise<void>
}

/** Why Dovecot's POP3 server cannot run here, or null. */
export function dovecotPop3Unavailable(): string | null {
  for (const binary of [DOVECOT, POP3]) {
    if (!existsSync(binary)) {
      return `"${binary}" is missing: install dovecot-pop3d (apt-get install -y dovecot-pop3d)`
    }
  }
  return null
}

export async function startDovecotPop3(options: {
  accounts: readonly BenchAccount[]
  /** login → PHC string, as Postern stored it. */
  passwordHashes: ReadonlyMap<string, string>
  clients: number
  processMode: DovecotProcessMode
}): Promise<DovecotPop3> {
  const identity = resolveIdentity()
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-bench-pop3-dovecot-'))
  chmodSync(dir, 0o755)
  const passwdPath = path.join(dir, 'passwd')
  const logPath = path.join(dir, 'dovecot.log')
  const configPath = path.join(dir, 'dovecot.conf')
  writeFileSync(
    passwdPath,
    options.accounts
      .map((account) => {
        const hash = options.passwordHashes.get(account.login)
        if (hash === undefined) throw new Error(`no password hash for ${account.login}`)
        return `${account.login}:{ARGON2ID}${hash}\n`
      })
      .join(''),
    { mode: 0o644 },
  )
  const mailRoot = path.join(dir, 'mail')
  for (const sub of [mailRoot, path.join(dir, 'home')]) mkdirSync(sub)
  options.accounts.forEach((account, user) => {
    writeMaildir(path.join(mailRoot, account.login), account.messages, user)
  })
  if (identity.isRoot) {
    for (const sub of [mailRoot, path.join(dir, 'home')]) {
      chownTree(sub, identity.mailUid, identity.mailGid)
    }
  }

  let port = 0
  let master: ChildProcess | null = null
  const readLog = () => (existsSync(logPath) ? readFileSync(logPath, 'latin1') : '')
  for (let attempt = 1; master === null; attempt += 1) {
    const [freePort] = await getFreePorts(1)
    if (freePort === undefined) throw new Error('no free port for Dovecot')
    port = freePort
    writeFileSync(
      configPath,
      dovecotConfig({ dir, port, logPath, passwdPath, identity, ...options }),
    )
    const child = spawn(DOVECOT, ['-F', '-c', configPath], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.setEncoding('latin1').on('data', (chunk: string) => {
      output += chunk
    })
    child.stderr.setEncoding('latin1').on('data', (chunk: string) => {
      output += chunk
    })
    try {
      await waitForGreeting(port, child)
      master = child
    } catch (error) {
      child.kill('SIGKILL')
      const details = `${output}${readLog()}`
      if (/address already in use/i.test(details) && attempt < 3) continue
      rmSync(dir, { recursive: true, force: true })
      throw new Error(
        `Cannot start Dovecot on 127.0.0.1:${port}: ${(error as Error).message}\n${details}`,
      )
    }
  }
  const running = master
  const exited = new Promise<void>((resolve) => {
    if (running.exitCode !== null || running.signalCode !== null) resolve()
    else running.once('exit', () => resolve())
  })
  return {
    port,
    pid: running.pid ?? 0,
    logTail: (lines = 20) => readLog().trimEnd().split('\n').slice(-lines).join('\n'),
    problems: () =>
      readLog()
        .split('\n')
        .filter((line) => /\b(Error|Warning|Fatal|Panic):/.test(line)),
    async stop() {
      if (running.exitCode === null && running.signalCode === null) {
        running.kill('SIGTERM')
        const timer = setTimeout(() => running.kill('SIGKILL'), STOP_TIMEOUT_MS)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
    },
  }
}

/** cur/ holds the messages (LF line ends, S= and W= in the name, no flags); new/ and tmp/ empty. */
function writeMaildir(root: string, messages: readonly Buffer[], user: number): void {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(root, sub), { recursive: true })
  messages.forEach((crlf, n) => {
    const lf = Buffer.from(crlf.toString('latin1').replaceAll('\r\n', '\n'), 'latin1')
    const time = FIRST_TIME + n
    const name = `${time}.M${n}P${1000 + user}.bench.test,S=${lf.length},W=${crlf.length}:2,`
    writeFileSync(path.join(root, 'cur', name), lf)
  })
}

function chownTree(root: string, uid: number, gid: number): void {
  chownSync(root, uid, gid)
  for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
    chownSync(path.join(entry.parentPath, entry.name), uid, gid)
  }
}

async function waitForGreeting(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`dovecot exited (${child.exitCode ?? child.signalCode})`)
    }
    try {
      const greeting = await readGreeting(port)
      if (!greeting.startsWith('+OK')) throw new Error(`it greeted with "${greeting}"`)
      return
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ECONNREFUSED' || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

interface Identity {
  isRoot: boolean
  internalUser: string
  internalGroup: string
  loginUser: string
  mailUid: number
  mailGid: number
}

/** As test/support/dovecot.ts: rootless, everything runs as the current user; as root, Debian's. */
function resolveIdentity(): Identity {
  const uid = process.getuid?.() ?? 0
  const gid = process.getgid?.() ?? 0
  if (uid !== 0) {
    const name = userInfo().username
    return {
      isRoot: false,
      internalUser: name,
      internalGroup: lookup('/etc/group', 2, gid)?.[0] ?? name,
      loginUser: name,
      mailUid: uid,
      mailGid: gid,
    }
  }
  for (const name of ['dovecot', 'dovenull']) {
    if (lookup('/etc/passwd', 0, name) === null) {
      throw new Error(`Cannot start Dovecot, the system user "${name}" is missing`)
    }
  }
  // Dovecot refuses mail access as root; the maildirs belong to an unprivileged system user.
  const mailUser = lookup('/etc/passwd', 0, 'mail') ?? lookup('/etc/passwd', 0, 'nobody')
  if (mailUser === null) throw new Error('Cannot start Dovecot, no "mail" or "nobody" user')
  return {
    isRoot: true,
    internalUser: 'dovecot',
    internalGroup: 'dovecot',
    loginUser: 'dovenull',
    mailUid: Number(mailUser[2]),
    mailGid: Number(mailUser[3]),
  }
}

/** The fields of the line of a colon-separated file whose field `index` is `value`. */
function lookup(file: string, index: number, value: string | number): string[] | null {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const fields = line.split(':')
    if (fields[index] === String(value)) return fields
  }
  return null
}

function dovecotConfig(options: {
  dir: string
  port: number
  logPath: string
  passwdPath: string
  identity: Identity
  clients: number
  processMode: DovecotProcessMode
}): string {
  const { dir, port, logPath, passwdPath, identity } = options
  const loginLimit = Math.max(100, options.clients * 2)
  // Reused pop3 processes count against auth's client_limit (1000) with the login processes:
  // Dovecot warns unless their limits add up to less.
  const sessionLimit = Math.max(
    options.processMode === 'performance' ? 100 : 1024,
    options.clients * 2,
  )
  // Without root, chroot fails and anvil restarts with growing delays (test/support/dovecot.ts).
  const rootless = identity.isRoot
    ? ''
    : ['anvil', 'ipc', 'old-stats'].map((name) => `service ${name} {\n  chroot =\n}\n`).join('')
  const cores = availableParallelism()
  const performance =
    options.processMode === 'performance'
      ? `  service_count = 0\n  process_min_avail = ${cores}\n`
      : ''
  return `# Generated by bench/pop3/dovecot-pop3.ts. Nothing outside ${dir} is used.
protocols = pop3
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = postern-bench-pop3-${port}
log_path = ${logPath}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = 0
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
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = passwd-file
  args = scheme=ARGON2ID username_format=%u ${passwdPath}
}
userdb {
  driver = static
  args = home=${dir}/home/%u
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener pop3s {
    port = 0
  }
  process_limit = ${loginLimit}
${performance}${identity.isRoot ? '' : '  chroot =\n'}}
service pop3 {
  process_limit = ${sessionLimit}
${options.processMode === 'performance' ? `  service_count = 100\n  process_min_avail = ${cores}\n` : ''}}
${rootless}`
}
