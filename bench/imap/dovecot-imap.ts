// Dovecot's half of the imap benchmark: Debian's dovecot-imapd on a private config in a temporary
// directory (test/support/dovecot-instance.ts: nothing under /etc/dovecot or /var is read or
// written; rootless when not run as root), plain IMAP on 127.0.0.1. As in the pop3 benchmark
// (bench/pop3/dovecot-pop3.ts), the accounts are a passwd-file holding the very argon2id PHC
// strings Postern stored ({ARGON2ID}, verified by Dovecot's libsodium), and the messages are
// Maildir files named as Dovecot's own delivery names them (S= the file's size, W= its size with
// CRLF line ends), with LF line ends as Dovecot saves mail by default (mail_save_crlf = no): it
// sends each LF as CRLF, so a client gets the octets Postern sends. File times one second apart
// in delivery order make Dovecot give UID n to message n, as Postern does.
//
// Settings that are not Dovecot's defaults, besides those a private instance needs (paths,
// users, the listener) and that this benchmark asks for (plain IMAP with LOGIN on loopback:
// ssl = no, disable_plaintext_auth = no):
// - auth_cache_size = 0, which is the default, written out because Postern has no auth cache
//   either: every login verifies its argon2id hash on both sides.
// - `protocol imap { mail_max_userip_connections }` (default 10 connections per user and IP):
//   raised so that an account's IDLE sessions (the memory test holds 100 per account) are not
//   refused. Process and client limits (imap, imap-login, auth, imap-hibernate) raised so that
//   every client, deliverer and held session gets its process or slot.
// - processMode, how Dovecot's processes are reused:
//   'login' (the throughput runs' default): the "high-performance" login mode Dovecot's
//   documentation recommends for busy servers, `service imap-login { service_count = 0;
//   process_min_avail = <cores> }` (login processes that serve many connections), and an imap
//   process per session as Dovecot does by default.
//   'performance': besides, `service imap { service_count = 100; process_min_avail = <cores> }`
//   (an imap process serves up to 100 sessions one after the other), as the pop3 benchmark runs
//   Dovecot. Not the default here because each imap process that has once run IDLE keeps an
//   inotify instance, and the kernel allows 128 per uid (fs.inotify.max_user_instances, not
//   raised on this machine): at 100 clients, with the deliverers' processes, Dovecot ran out,
//   disabled inotify ("Inotify instance limit for user … exceeded") and its IDLE sessions then
//   waited for its 30 s poll, which measures the kernel setting rather than Dovecot.
//   'stock': Dovecot's defaults, a login process per connection and an imap process per session.
//   'idle' (the memory test): as 'login', and IDLE sessions are handed to imap-hibernate after
//   `imap_hibernate_timeout = 1s` (default 0, off), Dovecot's way of holding many idle
//   connections without an imap process each.
//   Except in 'performance', when run as root, each account's mail belongs to a uid of its own
//   (as with system users): an IDLE session keeps its inotify instance even when hibernated, so
//   one uid for all accounts would hold at most 128 IDLE sessions that learn of new mail.
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
import { ImapClient } from './imap-client.ts'
import type { BenchAccount } from './postern-imap.ts'

const IMAP = '/usr/lib/dovecot/imap'
const STOP_TIMEOUT_MS = 10_000
/** Maildir file times: one second apart in delivery order, so Dovecot numbers them in order. */
const FIRST_TIME = 1_767_225_600
/** Account n's uid when accounts have their own (see above): numbers no system user has. */
const FIRST_OWN_UID = 2_000_000
/** Sessions one imap-hibernate process holds. */
const HIBERNATE_CLIENTS = 4000

export type DovecotProcessMode = 'performance' | 'login' | 'stock' | 'idle'

export interface DovecotImap {
  readonly port: number
  /** The master process (every other Dovecot process descends from it). */
  readonly pid: number
  logTail(lines?: number): string
  /** Log lines that report an error, a warning or a fatal condition. */
  problems(): string[]
  /** SIGTERM to the master, which stops every Dovecot process; removes the directory. */
  stop(): Promise<void>
}

/** Why Dovecot's IMAP server cannot run here, or null. */
export function dovecotImapUnavailable(): string | null {
  for (const binary of [DOVECOT_BINARY, IMAP]) {
    if (!existsSync(binary)) {
      return `"${binary}" is missing: install dovecot-imapd (apt-get install -y dovecot-imapd)`
    }
  }
  return null
}

export async function startDovecotImap(options: {
  accounts: readonly BenchAccount[]
  /** login → PHC string, as Postern stored it. */
  passwordHashes: ReadonlyMap<string, string>
  /** Connections at once: sessions, deliverers, held IDLE sessions. */
  connections: number
  /** Connections of one account at once. */
  connectionsPerUser: number
  processMode: DovecotProcessMode
}): Promise<DovecotImap> {
  const identity = resolveDovecotIdentity('dovecot-imapd')
  const files = makeDovecotDir('postern-bench-imap-dovecot-')
  const ownUids = identity.isRoot && options.processMode !== 'performance'
  const uidOf = (user: number) => (ownUids ? FIRST_OWN_UID + user : identity.mailUid)
  writeFileSync(
    files.passwdPath,
    options.accounts
      .map((account, user) => {
        const hash = options.passwordHashes.get(account.login)
        if (hash === undefined) throw new Error(`no password hash for ${account.login}`)
        // user:password:uid:gid:gecos:home:shell, the last four for the passwd-file userdb.
        const home = path.join(files.homeDir, account.login)
        return `${account.login}:{ARGON2ID}${hash}:${uidOf(user)}:${identity.mailGid}::${home}::\n`
      })
      .join(''),
    { mode: 0o644 },
  )
  options.accounts.forEach((account, user) => {
    writeMaildir(path.join(files.mailDir, account.login), account.messages, user)
    mkdirSync(path.join(files.homeDir, account.login))
  })
  if (identity.isRoot) {
    for (const sub of [files.mailDir, files.homeDir]) {
      chownSync(sub, identity.mailUid, identity.mailGid)
      options.accounts.forEach((account, user) => {
        chownTree(path.join(sub, account.login), uidOf(user), identity.mailGid)
      })
    }
  }

  const { master } = await startDovecotMaster({
    files,
    config: (port) =>
      imapConfig({
        files,
        port,
        identity,
        ownUids: ownUids ? { first: uidOf(0), last: uidOf(options.accounts.length - 1) } : null,
        ...options,
      }),
    connect: async (port, timeoutMs) => {
      const client = await ImapClient.connect(port, timeoutMs)
      await client.logout()
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

/**
 * cur/ holds the messages (LF line ends, S= and W= in the name, no flags); new/ and tmp/ empty.
 * As bench/pop3/dovecot-pop3.ts writes them.
 */
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

function imapConfig(options: {
  files: DovecotDir
  port: number
  identity: DovecotIdentity
  /** The accounts' own uids, when they have them (as root, unless reusing imap processes). */
  ownUids: { first: number; last: number } | null
  connections: number
  connectionsPerUser: number
  processMode: DovecotProcessMode
}): string {
  const { port, processMode } = options
  const cores = availableParallelism()
  const isStock = processMode === 'stock'
  // Stock, each connection has a login process of its own until it has logged in; otherwise a
  // few login processes serve every connection.
  const loginLimit = isStock ? Math.max(100, options.connections * 2) : 100
  const loginClients = Math.max(1000, options.connections + 100)
  const sessionLimit = Math.max(1024, options.connections + 100)
  const login = isStock
    ? ''
    : `  service_count = 0\n  process_min_avail = ${cores}\n  client_limit = ${loginClients}\n`
  const reuse =
    processMode === 'performance' ? `  service_count = 100\n  process_min_avail = ${cores}\n` : ''
  // The imap processes hand IDLE sessions over through imap-hibernate's socket, and the
  // hibernate process hands them back through imap-master's; rootless, both run as this user.
  // A hibernated session holds two descriptors there (its socket and its inotify instance), so
  // a process takes at most HIBERNATE_CLIENTS (the master's descriptor limit is 20,000 here) and
  // more are started as needed.
  const hibernate =
    processMode === 'idle'
      ? `imap_hibernate_timeout = 1s
service imap-hibernate {
  client_limit = ${HIBERNATE_CLIENTS}
  process_limit = ${Math.ceil(options.connections / HIBERNATE_CLIENTS) + 1}
  unix_listener imap-hibernate {
    mode = 0666
  }
}
`
      : ''
  const masterListener =
    processMode === 'idle' ? '  unix_listener imap-master {\n    mode = 0666\n  }\n' : ''
  // The uid, gid and home of each account from the passwd file, ahead of the static userdb; the
  // later first_valid_uid and last_valid_uid replace those dovecotConfig wrote.
  const ownUids =
    options.ownUids === null
      ? ''
      : `first_valid_uid = ${options.ownUids.first}
last_valid_uid = ${options.ownUids.last}
userdb {
  driver = passwd-file
  args = username_format=%u ${options.files.passwdPath}
}
`
  return dovecotConfig({
    files: options.files,
    generatedBy: 'bench/imap/dovecot-imap.ts',
    instanceName: `postern-bench-imap-${port}`,
    identity: options.identity,
    passwordScheme: 'ARGON2ID',
    listeners: [
      {
        protocol: 'imap',
        port,
        loginSettings: `  process_limit = ${loginLimit}\n${login}`,
      },
    ],
    settings: `auth_cache_size = 0
${ownUids}protocol imap {
  mail_max_userip_connections = ${options.connectionsPerUser + 10}
}
${hibernate}`,
    // auth's client_limit only has to cover what may connect to it (Dovecot warns otherwise).
    services: `service imap {
  process_limit = ${sessionLimit}
${reuse}${masterListener}}
service auth {
  client_limit = ${sessionLimit + loginLimit + 200}
}
`,
  })
}
