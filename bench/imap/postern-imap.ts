// Postern's half of the imap benchmark: a data dir whose domain, accounts and messages are put in
// through the directory and the store (as `postern user add` and local delivery would) while no
// server runs, then a real `postern serve` with only the imap listener. The store-pg benchmark
// uses the same pieces for nodes on one PostgreSQL database (preparePosternNode, fillStore). Each account's messages
// are delivered one after the other, in order, so UID n is message n on both servers (accounts
// are filled several at a time). The config raises [limits] (50 connections per IP and 4000 in
// all by default) for the benchmark's clients, deliverers and held IDLE sessions, all from
// 127.0.0.1, and names [imap] allow_plaintext = "loopback" (the default) for LOGIN without TLS.
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
import { DatabaseSync } from 'node:sqlite'
import { createDirectory } from '../../src/directory/index.ts'
import type { Store } from '../../src/store/index.ts'
import { openSqliteStore } from '../../src/store/sqlite/index.ts'
import { getFreePorts } from '../../test/support/free-port.ts'
import { REPO_ROOT } from '../../test/support/postern-process.ts'
import { ImapClient } from './imap-client.ts'

const MAIN = path.join(REPO_ROOT, 'src/main.ts')
const READY_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 15_000
/** Accounts filled at once (each one's messages in order). */
const FILL_CONCURRENCY = 8
const INDEX_TIMEOUT_MS = 10 * 60_000
const INSPECTOR_TIMEOUT_MS = 60_000

export interface BenchAccount {
  login: string
  password: string
  /** The account's INBOX, CRLF line ends, in UID order. */
  messages: readonly Buffer[]
}

/** Where one `postern serve` of a benchmark lives; nothing runs yet. */
export interface PosternNode {
  dir: string
  dataDir: string
  configPath: string
  port: number
}

export interface PosternImapSetup extends PosternNode {
  /** login → the argon2id PHC string Postern stored, for Dovecot's passwd-file. */
  passwordHashes: Map<string, string>
}

export interface PosternImapServer {
  readonly pid: number
  /**
   * A full garbage collection in the server (through the inspector, when started with
   * `inspect`), so that its memory is read without the garbage a burst of work left behind.
   */
  collectGarbage(): Promise<void>
  logTail(lines?: number): string
  /** Log lines at warn or above so far (and any that are not JSON). */
  problems(): string[]
  /** SIGTERM and wait for the exit (the store is closed, a --cpu-prof profile written). */
  stop(): Promise<void>
}

/** A data dir, a config, the accounts and their messages; nothing runs yet. */
export async function preparePosternImap(
  accounts: readonly BenchAccount[],
  maxConnections: number,
): Promise<PosternImapSetup> {
  const node = await preparePosternNode({ maxConnections })
  const store = await openSqliteStore({ dataDir: node.dataDir, orphanAgeMs: null })
  let passwordHashes: Map<string, string>
  try {
    passwordHashes = await fillStore(store, accounts)
  } finally {
    await store.close()
  }
  await indexSearchText(node.dataDir)
  return { ...node, passwordHashes }
}

/**
 * A directory, an empty data dir and a config with only the imap listener, on a free port. With
 * `postgresUrl`, the node's store is that PostgreSQL database (several nodes may share it).
 */
export async function preparePosternNode(options: {
  maxConnections: number
  postgresUrl?: string
}): Promise<PosternNode> {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-bench-imap-'))
  const dataDir = path.join(dir, 'data')
  const configPath = path.join(dir, 'postern.toml')
  const [port] = await getFreePorts(1)
  if (port === undefined) throw new Error('no free port for Postern')
  const store =
    options.postgresUrl === undefined
      ? ''
      : `\n[store]\nbackend = "postgres"\nurl = "${options.postgresUrl}"\n`
  writeFileSync(
    configPath,
    `hostname = "postern.bench.test"
data_dir = "${dataDir}"

[listen]
imap = "127.0.0.1:${port}"

[imap]
allow_plaintext = "loopback"

[log]
level = "info"
format = "json"

[limits]
max_connections = ${options.maxConnections}
max_connections_per_ip = ${options.maxConnections}
${store}`,
  )
  mkdirSync(dataDir, { mode: 0o700 })
  return { dir, dataDir, configPath, port }
}

/**
 * Adds the accounts' domains, the accounts (through the directory, as `postern user add` does)
 * and their INBOX messages, each account's in order, several accounts at a time. Returns
 * login → the argon2id PHC string stored.
 */
export async function fillStore(
  store: Store,
  accounts: readonly BenchAccount[],
): Promise<Map<string, string>> {
  const passwordHashes = new Map<string, string>()
  const directory = createDirectory(store)
  const domains = new Set(accounts.map((account) => account.login.split('@')[1] ?? ''))
  for (const domain of domains) await directory.addDomain(domain)
  let next = 0
  const filler = async () => {
    for (let account = accounts[next]; account !== undefined; account = accounts[next]) {
      next += 1
      const added = await directory.addUser(account.login, account.password)
      const credentials = await store.getCredentials(added.address)
      if (credentials === null) throw new Error(`no credentials stored for ${added.address}`)
      passwordHashes.set(account.login, credentials.passwordHash)
      const inbox = await store.getMailbox(added.id, 'INBOX')
      if (inbox === null) throw new Error(`${added.address} has no INBOX`)
      for (const bytes of account.messages) {
        await store.deliver({ bytes }, [{ mailboxId: inbox.id }])
      }
    }
  }
  await Promise.all(Array.from({ length: FILL_CONCURRENCY }, filler))
  return passwordHashes
}

/**
 * Opens the store as a server would (its background work on) until the search text of every
 * message is in the trigram index: a store in service has long indexed its mail, and indexing
 * thousands of messages at once would otherwise fall into the first rounds.
 */
async function indexSearchText(dataDir: string): Promise<void> {
  const store = await openSqliteStore({ dataDir })
  const db = new DatabaseSync(path.join(dataDir, 'store.sqlite'), { readOnly: true })
  try {
    const deadline = Date.now() + INDEX_TIMEOUT_MS
    for (;;) {
      const row = db.prepare('SELECT count(*) AS n FROM blob_text_pending').get()
      if (Number(row?.n ?? 0) === 0) return
      if (Date.now() > deadline) throw new Error(`${row?.n} messages still not indexed`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } finally {
    db.close()
    await store.close()
  }
}

/**
 * Starts `postern serve`, waits for "Postern is ready" and an IMAP greeting. Its log goes to a
 * file in the setup's directory. With `profileDir`, it runs under node --cpu-prof.
 */
export async function startPosternImap(
  setup: PosternNode,
  options: { profileDir?: string; inspect?: boolean } = {},
): Promise<PosternImapServer> {
  const logPath = path.join(setup.dir, `serve-${Date.now()}.log`)
  const logFd = openSync(logPath, 'a')
  const { profileDir } = options
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  // The inspector on a loopback port of its own; its address goes to standard error (the log).
  const inspect = options.inspect === true ? ['--inspect=127.0.0.1:0'] : []
  const child: ChildProcess = spawn(
    process.execPath,
    [...profile, ...inspect, MAIN, 'serve', '--config', setup.configPath],
    { cwd: setup.dir, stdio: ['ignore', logFd, logFd] },
  )
  closeSync(logFd)
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const isRunning = () => child.exitCode === null && child.signalCode === null
  const readLog = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '')
  const logTail = (lines = 20) => readLog().trimEnd().split('\n').slice(-lines).join('\n')
  const server: PosternImapServer = {
    pid: child.pid ?? 0,
    async collectGarbage() {
      const url = /Debugger listening on (ws:\/\/\S+)/.exec(readLog())?.[1]
      if (url === undefined) throw new Error('postern serve was not started with the inspector')
      await inspectorCall(url, 'HeapProfiler.collectGarbage')
    },
    logTail,
    // The certificate a fresh data dir makes for itself is expected, not a problem.
    problems: () =>
      readLog()
        .split('\n')
        .filter((line) => /"level":"(warn|error|fatal)"|^[^{]/.test(line) && line !== '')
        .filter((line) => !line.includes('generated a self-signed certificate'))
        // What the inspector says on standard error when asked for a garbage collection.
        .filter((line) => !/^(Debugger |For help, see|Waiting for the debugger)/.test(line)),
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
    const client = await ImapClient.connect(setup.port, 5000)
    await client.logout()
  } catch (error) {
    await server.stop()
    throw new Error(
      `Postern's IMAP listener is not answering on 127.0.0.1:${setup.port}: ${(error as Error).message}\nlog (end):\n${logTail()}`,
    )
  }
  return server
}

/** One Chrome DevTools Protocol call over the inspector's WebSocket; resolves on its answer. */
function inspectorCall(url: string, method: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url)
    const timer = setTimeout(() => {
      socket.close()
      reject(new Error(`no answer to ${method} from the inspector`))
    }, INSPECTOR_TIMEOUT_MS)
    socket.addEventListener('open', () => socket.send(JSON.stringify({ id: 1, method })))
    socket.addEventListener('message', (event) => {
      const answer = JSON.parse(String(event.data)) as { id?: number; error?: { message: string } }
      if (answer.id !== 1) return
      clearTimeout(timer)
      socket.close()
      if (answer.error !== undefined) reject(new Error(`${method}: ${answer.error.message}`))
      else resolve()
    })
    socket.addEventListener('error', () => {
      clearTimeout(timer)
      reject(new Error(`the inspector at ${url} refused the connection`))
    })
  })
}
