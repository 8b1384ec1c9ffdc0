import { spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  type Dirent,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { getFreePorts } from './free-port.ts'
import { lookupUser } from './system-users.ts'

/** Where Debian's postfix package installs its commands. */
export const POSTFIX_BINARY = '/usr/sbin/postfix'
const POSTQUEUE_BINARY = '/usr/sbin/postqueue'

const START_ATTEMPTS = 3
const COMMAND_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 5_000
const POLL_MS = 20
/** Queue subdirectories a message sits in until it is delivered (or given up on). */
const QUEUES = ['maildrop', 'incoming', 'active', 'deferred', 'hold']

export type PostfixOptions =
  | {
      /** Accepts mail from 127.0.0.0/8 for any domain and relays all of it to `relayHost`. */
      mode: 'relay'
      /** `[IP]:PORT` of a loopback address: the server under test, for example Postern. */
      relayHost: string
      /** The SMTP client's STARTTLS policy towards the relay host (default `may`). */
      tlsLevel?: 'may' | 'none'
      port?: number
      /** Postfix's own name (HELO, Received); must differ from the relay host's. */
      hostname?: string
      /** More main.cf lines, appended; each parameter they set replaces the generated line. */
      extraMainCf?: string
    }
  | {
      /** Final delivery for one domain, into a Maildir per address under the temp dir. */
      mode: 'maildir'
      domain: string
      /** Full addresses in `domain`; any other recipient is refused at RCPT. */
      users: readonly string[]
      port?: number
      hostname?: string
      /** More main.cf lines, appended; each parameter they set replaces the generated line. */
      extraMainCf?: string
    }

export interface Postfix {
  /** The SMTP port, on 127.0.0.1. */
  readonly port: number
  /** The temporary directory: `etc/` (main.cf, master.cf), `queue/`, `data/`, `mail/`, `maillog`. */
  readonly dir: string
  /** `postqueue -f`: attempt delivery of everything queued, deferred mail included, now. */
  flush(): Promise<void>
  /** True when no message is waiting in the queue (delivered, bounced or never received). */
  queueIsEmpty(): boolean
  /** Resolves when the queue is empty; rejects after timeoutMs with the queue and the log. */
  waitForEmptyQueue(timeoutMs?: number): Promise<void>
  /** Maildir mode: the number of messages in the users' `new/` directories (0 in relay mode). */
  countDelivered(): number
  /** Maildir mode: the paths of those messages. */
  deliveredFiles(): string[]
  /** The end of Postfix's log (`maillog`), to show when a test fails. */
  logTail(lines?: number): string
  /** Stops every Postfix process of this instance and removes its directory. Idempotent. */
  stop(): Promise<void>
}

/**
 * Why Postfix cannot run here, or null when it can: Debian's postfix package must be installed
 * (`.ci/run` installs it) and, as Postfix's master runs as root, the process must be root.
 */
export function postfixUnavailable(): string | null {
  if (!existsSync(POSTFIX_BINARY)) {
    return `"${POSTFIX_BINARY}" is missing: install Debian's postfix package (see .ci/run)`
  }
  if (process.getuid?.() !== 0) return 'a private Postfix needs root (its master runs as root)'
  return null
}

/** Instances still running, killed when the process exits, however the tests ended. */
const running = new Map<string, number>()
let isExitHookInstalled = false

/**
 * Starts a throwaway Postfix entirely in a temporary directory: its own config_directory,
 * queue_directory and data_directory, a log file, one SMTP listener on 127.0.0.1 and a free port
 * (nothing on port 25), no DNS, no chroot, and short retry delays so that a test sees delivery
 * within seconds. /etc/postfix is only read (Postfix's own file lists in meta_directory); the
 * system Postfix, if any, is untouched. Call stop() when done; instances left running are
 * killed when the process exits.
 */
export async function startPostfix(options: PostfixOptions): Promise<Postfix> {
  const unavailable = postfixUnavailable()
  if (unavailable !== null) throw new Error(`Cannot start Postfix: ${unavailable}`)
  if (options.mode === 'relay') checkLoopbackRelayHost(options.relayHost)
  const postfixUser = lookupUser('postfix')
  const mailUser = lookupUser('nobody')
  if (postfixUser === null || mailUser === null) {
    throw new Error('Cannot start Postfix: the "postfix" or "nobody" user is missing')
  }
  const mailboxes = options.mode === 'maildir' ? maildirPaths(options.domain, options.users) : []

  const dir = mkdtempSync(path.join(tmpdir(), 'postern-postfix-'))
  // Postfix's daemons run as "postfix" and must reach the queue; virtual(8) delivers as nobody.
  chmodSync(dir, 0o755)
  const etc = path.join(dir, 'etc')
  const dataDir = path.join(dir, 'data')
  const mailDir = path.join(dir, 'mail')
  const logPath = path.join(dir, 'maillog')
  for (const sub of [etc, path.join(dir, 'queue'), dataDir, mailDir]) mkdirSync(sub)
  chownSync(dataDir, postfixUser.uid, postfixUser.gid)
  chownSync(mailDir, mailUser.uid, mailUser.gid)
  if (options.mode === 'maildir') {
    const map = options.users.map((user, i) => `${user} ${mailboxes[i]?.relative}\n`).join('')
    writeConfig(path.join(etc, 'vmailbox'), map)
  }
  const readLog = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '')

  let port = 0
  let pid = 0
  for (let attempt = 1; pid === 0; attempt += 1) {
    port = options.port ?? (await getFreePorts(1))[0] ?? 0
    const generated = mainCf(options, dir, mailUser)
    writeConfig(path.join(etc, 'main.cf'), withExtraMainCf(generated, options.extraMainCf ?? ''))
    writeConfig(path.join(etc, 'master.cf'), masterCf(port))
    const started = await run(POSTFIX_BINARY, ['-c', etc, 'start'])
    if (started.code === 0) {
      pid = Number(readFileSync(path.join(dir, 'queue/pid/master.pid'), 'utf8').trim())
      break
    }
    const details = `${started.output}${readLog()}`
    const isPortTaken = /address already in use/i.test(details)
    if (isPortTaken && options.port === undefined && attempt < START_ATTEMPTS) continue
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`Cannot start Postfix on 127.0.0.1:${port}:\n${details}`)
  }
  running.set(dir, pid)
  installExitHook()

  const queueDir = path.join(dir, 'queue')
  const queued = () => QUEUES.reduce((sum, name) => sum + countFiles(path.join(queueDir, name)), 0)
  const tail = (lines = 80) =>
    readLog()
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
  const deliveredFiles = () =>
    mailboxes.flatMap((mailbox) => {
      const newDir = path.join(mailDir, mailbox.relative, 'new')
      return existsSync(newDir) ? readdirSync(newDir).map((name) => path.join(newDir, name)) : []
    })
  let stopped: Promise<void> | null = null

  return {
    port,
    dir,

    async flush() {
      const result = await run(POSTQUEUE_BINARY, ['-c', etc, '-f'])
      if (result.code !== 0) throw new Error(`postqueue -f failed: ${result.output}`)
    },

    queueIsEmpty: () => queued() === 0,

    async waitForEmptyQueue(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      while (queued() > 0) {
        if (Date.now() > deadline) {
          const listing = spawnSync(POSTQUEUE_BINARY, ['-c', etc, '-p'], { encoding: 'utf8' })
          throw new Error(
            `Postfix's queue still holds ${queued()} messages after ${timeoutMs} ms:\n${listing.stdout}${listing.stderr}\nmaillog (end):\n${tail()}`,
          )
        }
        await sleep(POLL_MS)
      }
    },

    countDelivered() {
      let count = 0
      for (const mailbox of mailboxes)
        count += countFiles(path.join(mailDir, mailbox.relative, 'new'))
      return count
    },

    deliveredFiles,

    logTail: tail,

    stop() {
      stopped ??= (async () => {
        await stopMaster(pid)
        running.delete(dir)
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
      })()
      return stopped
    },
  }
}

/**
 * Writes a file Postfix reads, dated a minute back: Postfix will not read a file modified within
 * the last second or so, and pauses (300 ms at a time) until it has "settled down", which made
 * every start of a fresh instance take over two seconds, and each daemon's first lookup in a
 * fresh map wait again.
 */
function writeConfig(file: string, content: string): void {
  writeFileSync(file, content)
  const past = new Date(Date.now() - 60_000)
  utimesSync(file, past, past)
}

function checkLoopbackRelayHost(relayHost: string): void {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(relayHost)
  const address = match?.[1] ?? ''
  if (match === null || !(/^127\.\d+\.\d+\.\d+$/.test(address) || address === '::1')) {
    throw new Error(
      `relayHost must be a bracketed loopback address and a port, such as "[127.0.0.1]:2525": got "${relayHost}"`,
    )
  }
}

/** Each user's Maildir relative to virtual_mailbox_base: `domain/local/`. */
function maildirPaths(domain: string, users: readonly string[]): Array<{ relative: string }> {
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(domain)) throw new Error(`bad domain "${domain}"`)
  return users.map((user) => {
    const at = user.lastIndexOf('@')
    const local = user.slice(0, at)
    if (user.slice(at + 1).toLowerCase() !== domain.toLowerCase() || !/^\w[\w.+-]*$/.test(local)) {
      throw new Error(`"${user}" is not a plain address in ${domain}`)
    }
    // A trailing slash in virtual_mailbox_maps means Maildir (virtual(8)).
    return { relative: `${domain.toLowerCase()}/${local}/` }
  })
}

/**
 * main.cf. Everything that would reach outside the directory is pinned: the directories, the
 * log, the listening address, no DNS (the relay host is a bracketed IP: no MX lookup), no local
 * delivery or aliases. The rest stays Postfix's default, so that the maildir mode's figures are
 * those of a stock Postfix.
 */
function mainCf(options: PostfixOptions, dir: string, mailUser: { uid: number; gid: number }) {
  const common = `# Generated by test/support/postfix.ts. Nothing outside ${dir} is written.
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = ${options.hostname ?? 'postfix.test'}
mydomain = test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`
  if (options.mode === 'relay') {
    return `${common}relayhost = ${options.relayHost}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_tls_security_level = ${options.tlsLevel ?? 'may'}
smtp_tls_loglevel = 1
`
  }
  return `${common}virtual_mailbox_domains = ${options.domain}
virtual_mailbox_base = ${dir}/mail
virtual_mailbox_maps = texthash:${dir}/etc/vmailbox
virtual_uid_maps = static:${mailUser.uid}
virtual_gid_maps = static:${mailUser.gid}
# Nothing leaves this instance: mail for any other domain bounces.
default_transport = error:this test Postfix delivers only to ${options.domain}
relay_transport = error:this test Postfix delivers only to ${options.domain}
`
}

/**
 * The generated main.cf with `extra` appended, less the generated lines of the parameters
 * `extra` sets: a parameter set twice makes every Postfix process warn as it starts, and after a
 * reload postlogd, logging that warning to itself, can block for good once its socket is full.
 */
function withExtraMainCf(generated: string, extra: string): string {
  if (extra === '') return generated
  const nameOf = (line: string) => /^([a-z0-9_]+)\s*=/.exec(line)?.[1]
  const replaced = new Set(extra.split('\n').map(nameOf))
  const kept = generated
    .split('\n')
    .filter((line) => {
      const name = nameOf(line)
      return name === undefined || !replaced.has(name)
    })
    .join('\n')
  return `${kept}${extra.endsWith('\n') ? extra : `${extra}\n`}`
}

/**
 * master.cf: the stock services, none chrooted (a chroot would need copies of /etc files in the
 * queue directory), and one smtpd on 127.0.0.1:port instead of the usual `smtp inet` on port 25.
 * postlog is the service that writes maillog_file.
 */
function masterCf(port: number): string {
  return `# service type private unpriv chroot wakeup maxproc command
127.0.0.1:${port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`
}

/**
 * SIGTERM to the master, as `postfix stop` sends, without that command's one-second polling;
 * the master takes its children down. Whatever is left of its process group after
 * STOP_TIMEOUT_MS is killed.
 */
async function stopMaster(pid: number): Promise<void> {
  signal(pid, 'SIGTERM')
  const deadline = Date.now() + STOP_TIMEOUT_MS
  while (isGroupAlive(pid)) {
    if (Date.now() > deadline) {
      signal(-pid, 'SIGKILL')
      return
    }
    await sleep(POLL_MS)
  }
}

/**
 * Whether a process of the group is still running. The master leads its own process group (it
 * calls setsid), so the group is the whole instance. Zombies do not count: the daemonized master
 * is reaped by init, which in some containers takes a second or more.
 */
function isGroupAlive(groupId: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1')
    } catch {
      continue
    }
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (fields[2] === String(groupId) && fields[0] !== 'Z') return true
  }
  return false
}

/** process.kill that says whether the target existed. */
function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name)
    return true
  } catch {
    return false
  }
}

function installExitHook(): void {
  if (isExitHookInstalled) return
  isExitHookInstalled = true
  process.once('exit', () => {
    for (const [dir, pid] of running) {
      signal(-pid, 'SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS)
    child.once('error', (error) => {
      clearTimeout(timer)
      resolve({ code: null, output: `${output}${error.message}\n` })
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

/** Regular files under a directory (deferred/ and friends are hashed into subdirectories). */
function countFiles(directory: string): number {
  let count = 0
  let entries: Dirent[]
  try {
    entries = readdirSync(directory, { withFileTypes: true })
  } catch {
    return 0
  }
  for (const entry of entries) {
    if (entry.isDirectory()) count += countFiles(path.join(directory, entry.name))
    else count += 1
  }
  return count
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
