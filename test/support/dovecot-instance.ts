// A private Dovecot, as test/support/dovecot.ts (imapd, the reference for the MIME interop tests)
// and bench/pop3/dovecot-pop3.ts (pop3d, the pop3 benchmark's peer) run one: a generated config
// in a temporary directory, so nothing under /etc/dovecot or /var is read or written; rootless
// when not run as root; the master in the foreground, on 127.0.0.1 and a free port.
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { getFreePorts } from './free-port.ts'
import { lookupGroupName, lookupUser } from './system-users.ts'

/** Where Debian's dovecot-core (pulled in by dovecot-imapd and dovecot-pop3d) installs the master. */
export const DOVECOT_BINARY = '/usr/sbin/dovecot'

const START_TIMEOUT_MS = 15_000
const START_ATTEMPTS = 3

// Without root, chroot fails ("Operation not permitted") and anvil restarts with growing delays, so
// the services that chroot by default must not (the login services too, see dovecotConfig).
const ROOTLESS_SERVICES = ['anvil', 'ipc', 'old-stats']
  .map((name) => `service ${name} {\n  chroot =\n}\n`)
  .join('')

export interface DovecotIdentity {
  isRoot: boolean
  /** Dovecot's own processes (auth, stats…) and the login processes run as these. */
  internalUser: string
  internalGroup: string
  loginUser: string
  /** Mail processes and the maildir belong to this uid/gid. */
  mailUid: number
  mailGid: number
}

/**
 * Rootless, every Dovecot process runs as the current user; as root, Debian's "dovecot" and
 * "dovenull" system users, and mail belongs to "mail" (or "nobody"). `dovecotPackage` is what to
 * install when a system user is missing.
 */
export function resolveDovecotIdentity(dovecotPackage: string): DovecotIdentity {
  const uid = process.getuid?.() ?? 0
  const gid = process.getgid?.() ?? 0
  if (uid !== 0) {
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
        `Cannot start Dovecot, the system user "${name}" is missing: install ${dovecotPackage} (apt-get install -y ${dovecotPackage})`,
      )
    }
  }
  // Dovecot refuses mail access as root ("Mail access not allowed for root"), so the maildirs
  // belong to an unprivileged system user that Debian always has.
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

/** The temporary directory of one private Dovecot and the files in it. */
export interface DovecotDir {
  readonly dir: string
  readonly configPath: string
  readonly logPath: string
  /** The passdb; its owner writes it. */
  readonly passwdPath: string
  /** One maildir per user below it (`<mailDir>/<user>`), made when the user first logs in. */
  readonly mailDir: string
  /** The users' homes (`<homeDir>/<user>`). */
  readonly homeDir: string
}

/** Makes the directory, with its (empty) mail and home directories. */
export function makeDovecotDir(prefix: string): DovecotDir {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  // Dovecot's unprivileged processes (auth as "dovecot", the maildir as the mail user) must be
  // able to reach the passwd file and their directories.
  chmodSync(dir, 0o755)
  const files: DovecotDir = {
    dir,
    configPath: path.join(dir, 'dovecot.conf'),
    logPath: path.join(dir, 'dovecot.log'),
    passwdPath: path.join(dir, 'passwd'),
    mailDir: path.join(dir, 'mail'),
    homeDir: path.join(dir, 'home'),
  }
  mkdirSync(files.mailDir)
  mkdirSync(files.homeDir)
  return files
}

/** The Dovecot log so far, one character per octet (latin1). */
export function readDovecotLog(files: DovecotDir): string {
  return existsSync(files.logPath) ? readFileSync(files.logPath, 'latin1') : ''
}

/** A `service <protocol>-login` with one plaintext listener on 127.0.0.1. */
export interface DovecotListener {
  protocol: 'imap' | 'pop3'
  port: number
  /** More settings for the login service: lines indented by two spaces, each ending in "\n". */
  loginSettings?: string
}

/**
 * A dovecot.conf for a private instance in `files`: the paths, the users, plaintext logins with
 * a passwd-file passdb and a static userdb, maildirs, the listeners, and whatever the caller adds.
 */
export function dovecotConfig(options: {
  files: DovecotDir
  /** Who wrote the config, for its first line. */
  generatedBy: string
  instanceName: string
  identity: DovecotIdentity
  /** The scheme of the passwords in the passwd file (PLAIN, ARGON2ID…). */
  passwordScheme: string
  listeners: readonly DovecotListener[]
  /** More top-level settings, each line ending in "\n". */
  settings?: string
  /** More service blocks. */
  services?: string
}): string {
  const { files, identity } = options
  const rootless = !identity.isRoot
  const loginServices = options.listeners
    .map(
      ({ protocol, port, loginSettings = '' }) => `service ${protocol}-login {
  inet_listener ${protocol} {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener ${protocol}s {
    port = 0
  }
${loginSettings}${rootless ? '  chroot =\n' : ''}}
`,
    )
    .join('')
  return `# Generated by ${options.generatedBy}. Nothing outside ${files.dir} is used.
protocols = ${options.listeners.map((listener) => listener.protocol).join(' ')}
listen = 127.0.0.1
base_dir = ${files.dir}/run
state_dir = ${files.dir}/state
instance_name = ${options.instanceName}
log_path = ${files.logPath}
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
mail_location = maildir:${files.mailDir}/%u
${options.settings ?? ''}passdb {
  driver = passwd-file
  args = scheme=${options.passwordScheme} username_format=%u ${files.passwdPath}
}
userdb {
  driver = static
  args = home=${files.homeDir}/%u
}
${loginServices}${options.services ?? ''}${rootless ? ROOTLESS_SERVICES : ''}`
}

/** The master process; every other Dovecot process descends from it. */
export interface DovecotMaster {
  readonly port: number
  readonly pid: number
  /** SIGTERM, which makes the master stop every Dovecot process; SIGKILL if it takes too long. */
  stop(): Promise<void>
}

/**
 * Picks a free port, writes the config for it and runs the master in the foreground
 * (`dovecot -F -c`) until `connect` succeeds; on other ports if one was taken in the meantime.
 * `connect` gets the time left and reads the greeting; refused connections (ECONNREFUSED) are
 * retried until the master listens. Nothing is left running if the start fails. `extraPorts`
 * more free ports (for a second listener) are passed to `config` and returned.
 */
export async function startDovecotMaster<Connection>(options: {
  files: DovecotDir
  config: (port: number, extraPorts: readonly number[]) => string
  connect: (port: number, timeoutMs: number) => Promise<Connection>
  stopTimeoutMs: number
  extraPorts?: number
}): Promise<{ master: DovecotMaster; connection: Connection; extraPorts: number[] }> {
  const { files } = options
  for (let attempt = 1; ; attempt += 1) {
    const [port, ...extraPorts] = await getFreePorts(1 + (options.extraPorts ?? 0))
    if (port === undefined) throw new Error('Cannot start Dovecot, no free port')
    writeFileSync(files.configPath, options.config(port, extraPorts))
    const master = spawnMaster(files, port, options.stopTimeoutMs)
    try {
      const connection = await connectWhenReady(port, master, options.connect)
      return { master, connection, extraPorts }
    } catch (error) {
      await master.stop()
      const details = `${master.output()}${readDovecotLog(files)}`
      if (/address already in use/i.test(details) && attempt < START_ATTEMPTS) continue
      throw new Error(
        `Cannot start Dovecot on 127.0.0.1:${port}: ${(error as Error).message}\n${details}`,
      )
    }
  }
}

interface SpawnedMaster extends DovecotMaster {
  /** How it ended ("exit code 89", a signal, a spawn error), null while it runs. */
  exit(): string | null
  /** Its stdout and stderr so far. */
  output(): string
}

function spawnMaster(files: DovecotDir, port: number, stopTimeoutMs: number): SpawnedMaster {
  const child = spawn(DOVECOT_BINARY, ['-F', '-c', files.configPath], {
    cwd: files.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const append = (chunk: string) => {
    output += chunk
  }
  child.stdout.setEncoding('latin1').on('data', append)
  child.stderr.setEncoding('latin1').on('data', append)
  let exit: string | null = null
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit ??= code === null ? `signal ${signal}` : `exit code ${code}`
      resolve()
    })
    child.once('error', (error) => {
      output += `${error.message}\n`
      exit ??= error.message
      resolve()
    })
  })
  return {
    port,
    pid: child.pid ?? 0,
    exit: () => exit,
    output: () => output,
    async stop() {
      if (exit !== null) return
      // With -F the child is the master process.
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Connects as soon as the master listens, and waits for the greeting of a ready login process. */
async function connectWhenReady<Connection>(
  port: number,
  master: SpawnedMaster,
  connect: (port: number, timeoutMs: number) => Promise<Connection>,
): Promise<Connection> {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    const exit = master.exit()
    if (exit !== null) throw new Error(`Dovecot exited during start (${exit})`)
    try {
      return await connect(port, Math.max(1, deadline - Date.now()))
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ECONNREFUSED' || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}
