// Postern's half of the pop3 benchmark: a data dir whose domain, accounts and messages are put
// in through the store and the directory (as `postern user add` and local delivery would) while
// no server runs, then a real `postern serve` with only the pop3 listener (plain POP3 on
// loopback, where USER/PASS is allowed without TLS by default).
import { type ChildProcess, spawn } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createDirectory } from '../../src/directory/index.ts'
import { openSqliteStore } from '../../src/store/sqlite/index.ts'
import { getFreePorts } from '../../test/support/free-port.ts'
import { REPO_ROOT } from '../../test/support/postern-process.ts'
import { readGreeting } from '../greeting.ts'

const MAIN = path.join(REPO_ROOT, 'src/main.ts')
const READY_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 15_000
/** Deliveries in flight at once while filling the maildrops. */
const FILL_CONCURRENCY = 8

export interface BenchAccount {
  login: string
  password: string
  /** The account's messages, CRLF line ends, in delivery order. */
  messages: readonly Buffer[]
}

export interface PosternPop3Setup {
  dir: string
  dataDir: string
  configPath: string
  port: number
  /** login → the argon2id PHC string Postern stored, for Dovecot's passwd-file. */
  passwordHashes: Map<string, string>
}

export interface PosternPop3Server {
  readonly pid: number
  logTail(lines?: number): string
  /** Log lines at warn or above so far (and any that are not JSON). */
  problems(): string[]
  /** SIGTERM and wait for the exit (the store is closed, a --cpu-prof profile written). */
  stop(): Promise<void>
}

/** A data dir, a config, the accounts and their messages; nothing runs yet. */
export async function preparePosternPop3(
  accounts: readonly BenchAccount[],
  maxConnections: number,
): Promise<PosternPop3Setup> {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-bench-pop3-'))
  const dataDir = path.join(dir, 'data')
  const configPath = path.join(dir, 'postern.toml')
  const [port] = await getFreePorts(1)
  if (port === undefined) throw new Error('no free port for Postern')
  writeFileSync(
    configPath,
    `hostname = "postern.bench.test"
data_dir = "${dataDir}"

[listen]
pop3 = "127.0.0.1:${port}"

[log]
level = "info"
format = "json"

[limits]
max_connections = ${maxConnections}
max_connections_per_ip = ${maxConnections}
`,
  )
  mkdirSync(dataDir, { mode: 0o700 })
  const store = await openSqliteStore({ dataDir, orphanAgeMs: null })
  const passwordHashes = new Map<string, string>()
  try {
    const directory = createDirectory(store)
    const domains = new Set(accounts.map((account) => account.login.split('@')[1] ?? ''))
    for (const domain of domains) await directory.addDomain(domain)
    const deliveries: Array<() => Promise<unknown>> = []
    for (const account of accounts) {
      const added = await directory.addUser(account.login, account.password)
      const credentials = await store.getCredentials(added.address)
      if (credentials === null) throw new Error(`no credentials stored for ${added.address}`)
      passwordHashes.set(account.login, credentials.passwordHash)
      const inbox = await store.getMailbox(added.id, 'INBOX')
      if (inbox === null) throw new Error(`${added.address} has no INBOX`)
      for (const bytes of account.messages) {
        deliveries.push(() => store.deliver({ bytes }, [{ mailboxId: inbox.id }]))
      }
    }
    let next = 0
    const deliverer = async () => {
      for (let job = deliveries[next]; job !== undefined; job = deliveries[next]) {
        next += 1
        await job()
      }
    }
    await Promise.all(Array.from({ length: FILL_CONCURRENCY }, deliverer))
  } finally {
    await store.close()
  }
  return { dir, dataDir, configPath, port, passwordHashes }
}

/**
 * Starts `postern serve`, waits for "Postern is ready" and a POP3 greeting. Its log goes to a
 * file in the setup's directory. With `profileDir`, it runs under node --cpu-prof.
 */
export async function startPosternPop3(
  setup: PosternPop3Setup,
  profileDir: string | null = null,
): Promise<PosternPop3Server> {
  const logPath = path.join(setup.dir, `serve-${Date.now()}.log`)
  const logFd = openSync(logPath, 'a')
  const profile = profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  const child: ChildProcess = spawn(
    process.execPath,
    [...profile, MAIN, 'serve', '--config', setup.configPath],
    { cwd: setup.dir, stdio: ['ignore', logFd, logFd] },
  )
  closeSync(logFd)
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const isRunning = () => child.exitCode === null && child.signalCode === null
  const readLog = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '')
  const logTail = (lines = 20) => readLog().trimEnd().split('\n').slice(-lines).join('\n')
  const server: PosternPop3Server = {
    pid: child.pid ?? 0,
    logTail,
    // The certificate a fresh data dir makes for itself is expected, not a problem.
    problems: () =>
      readLog()
        .split('\n')
        .filter((line) => /"level":"(warn|error|fatal)"|^[^{]/.test(line) && line !== '')
        .filter((line) => !line.includes('generated a self-signed certificate')),
    async stop() {
      if (!isRunning()) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    },
  }
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS
    while (!readLog().includes('"msg":"Postern is ready"')) {
      if (!isRunning())
        throw new Error(`postern serve exited (${child.exitCode ?? child.signalCode})`)
      if (Date.now() > deadline) throw new Error('postern serve never logged "Postern is ready"')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const greeting = await readGreeting(setup.port)
    if (!greeting.startsWith('+OK')) throw new Error(`it greeted with "${greeting.trim()}"`)
  } catch (error) {
    await server.stop()
    throw new Error(
      `Postern's POP3 listener is not answering on 127.0.0.1:${setup.port}: ${(error as Error).message}\nlog (end):\n${logTail()}`,
    )
  }
  return server
}

export { readGreeting } from '../greeting.ts'
