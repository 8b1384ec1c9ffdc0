// Dovecot's half of the pop3 benchmark: Debian's dovecot-pop3d on a private config in a
// temporary directory (test/support/dovecot-instance.ts, as test/support/dovecot.ts starts one for
// the IMAP tests: nothing under /etc/dovecot or /var is read or written; rootless when not run as
// root), plain POP3 on 127.0.0.1. The accounts are a passwd-file holding the very argon2id PHC strings Postern
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
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import {
  DOVECOT_BINARY,
  type DovecotDir,
  type DovecotIdentity,
  dovecotConfig,
  makeDovecotDir,
  readDovecotLog,
  resolveDovecotIdentity,
  startDovecotMaster,
} from '../../test/support/dovecot-instance.ts'
import type { BenchAccount } from './postern-pop3.ts'
import { readGreeting } from './postern-pop3.ts'

const POP3 = '/usr/lib/dovecot/pop3'
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
  for (const binary of [DOVECOT_BINARY, POP3]) {
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
  const identity = resolveDovecotIdentity('dovecot-pop3d')
  const files = makeDovecotDir('postern-bench-pop3-dovecot-')
  writeFileSync(
    files.passwdPath,
    options.accounts
      .map((account) => {
        const hash = options.passwordHashes.get(account.login)
        if (hash === undefined) throw new Error(`no password hash for ${account.login}`)
        return `${account.login}:{ARGON2ID}${hash}\n`
      })
      .join(''),
    { mode: 0o644 },
  )
  options.accounts.forEach((account, user) => {
    writeMaildir(path.join(files.mailDir, account.login), account.messages, user)
  })
  if (identity.isRoot) {
    for (const sub of [files.mailDir, files.homeDir]) {
      chownTree(sub, identity.mailUid, identity.mailGid)
    }
  }

  const { master } = await startDovecotMaster({
    files,
    config: (port) => pop3Config({ files, port, identity, ...options }),
    connect: async (port) => {
      const greeting = await readGreeting(port)
      if (!greeting.startsWith('+OK')) throw new Error(`it greeted with "${greeting}"`)
    },
    stopTimeoutMs: STOP_TIMEOUT_MS,
  }).catch((error: unknown) => {
    rmSync(files.dir, { recursive: true, force: true })
    throw error
  })
  const readLog = () => readDovecotLog(files)
  return {
    port: master.port,
    pid: master.pid,
    logTail: (lines = 20) => readLog().trimEnd().split('\n').slice(-lines).join('\n'),
    problems: () =>
      readLog()
        .split('\n')
        .filter((line) => /\b(Error|Warning|Fatal|Panic):/.test(line)),
    async stop() {
      await master.stop()
      rmSync(files.dir, { recursive: true, force: true, maxRetries: 3 })
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

function pop3Config(options: {
  files: DovecotDir
  port: number
  identity: DovecotIdentity
  clients: number
  processMode: DovecotProcessMode
}): string {
  const { port } = options
  const loginLimit = Math.max(100, options.clients * 2)
  // Reused pop3 processes count against auth's client_limit (1000) with the login processes:
  // Dovecot warns unless their limits add up to less.
  const sessionLimit = Math.max(
    options.processMode === 'performance' ? 100 : 1024,
    options.clients * 2,
  )
  const cores = availableParallelism()
  const performance =
    options.processMode === 'performance'
      ? `  service_count = 0\n  process_min_avail = ${cores}\n`
      : ''
  return dovecotConfig({
    files: options.files,
    generatedBy: 'bench/pop3/dovecot-pop3.ts',
    instanceName: `postern-bench-pop3-${port}`,
    identity: options.identity,
    passwordScheme: 'ARGON2ID',
    listeners: [
      {
        protocol: 'pop3',
        port,
        loginSettings: `  process_limit = ${loginLimit}\n${performance}`,
      },
    ],
    settings: 'auth_cache_size = 0\npop3_uidl_format = %08Xu%08Xv\n',
    services: `service pop3 {
  process_limit = ${sessionLimit}
${options.processMode === 'performance' ? `  service_count = 100\n  process_min_avail = ${cores}\n` : ''}}
`,
  })
}
