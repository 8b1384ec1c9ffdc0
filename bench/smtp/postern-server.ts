// Postern's half of the smtp benchmark: a real `postern serve` with only the MX listener, on a
// loopback port, with the embedded store in a temporary directory; the domain and the account
// are made with the `postern` command as an operator would.
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { openSqliteStore } from '../../src/store/sqlite/index.ts'
import { getFreePorts } from '../../test/support/free-port.ts'
import { REPO_ROOT, runPostern } from '../../test/support/postern-process.ts'
import { readGreeting } from '../greeting.ts'

const MAIN = path.join(REPO_ROOT, 'src/main.ts')
const READY_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 15_000

export interface PosternSetup {
  dir: string
  dataDir: string
  configPath: string
  port: number
  /** The account every message goes to. */
  recipient: string
}

export interface PosternServer {
  readonly pid: number
  /** Resident memory of the server process now, from /proc/PID/status (VmRSS), in KiB. */
  rssKb(): number
  logTail(lines?: number): string
  /** SIGTERM and wait for the exit (the store is closed cleanly). */
  stop(): Promise<void>
}

/** A data dir, a config and one account; nothing runs yet. */
export async function preparePostern(options: { maxConnections: number }): Promise<PosternSetup> {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-bench-smtp-'))
  const dataDir = path.join(dir, 'data')
  const configPath = path.join(dir, 'postern.toml')
  const [port] = await getFreePorts(1)
  if (port === undefined) throw new Error('no free port for Postern')
  writeFileSync(
    configPath,
    `hostname = "postern.bench.test"
data_dir = "${dataDir}"

[listen]
smtp = "127.0.0.1:${port}"

[log]
level = "info"
format = "json"

# Postfix, the peer, checks no SPF, DKIM or DMARC, and the bench must not ask real DNS.
[mailauth]
verify = false

[limits]
max_connections = ${options.maxConnections}
max_connections_per_ip = ${options.maxConnections}
`,
  )
  const recipient = 'bench@example.test'
  for (const args of [
    ['domain', 'add', 'example.test'],
    ['user', 'add', recipient, '--password', 'bench-secret'],
  ]) {
    const result = await runPostern([...args, '--config', configPath])
    if (result.code !== 0) {
      throw new Error(`postern ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
    }
  }
  return { dir, dataDir, configPath, port, recipient }
}

/**
 * Starts `postern serve`, waits for "Postern is ready", then for the SMTP greeting. Its log goes
 * to a file in the setup's directory. Throws "Postern's SMTP listener is not answering" (with
 * what the log says about it) when nothing greets on the port.
 */
export async function startPosternServer(setup: PosternSetup): Promise<PosternServer> {
  const logPath = path.join(setup.dir, `serve-${Date.now()}.log`)
  const logFd = openSync(logPath, 'a')
  const child = spawn(process.execPath, [MAIN, 'serve', '--config', setup.configPath], {
    cwd: setup.dir,
    stdio: ['ignore', logFd, logFd],
  })
  closeSync(logFd)
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const readLog = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '')
  const logTail = (lines = 20) => readLog().trimEnd().split('\n').slice(-lines).join('\n')
  const server: PosternServer = {
    pid: child.pid ?? 0,
    rssKb: () => readRssKb(child.pid ?? 0),
    logTail,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await exited
      clearTimeout(timer)
    },
  }
  try {
    await waitForReady(child, readLog)
    const greeting = await readGreeting(setup.port)
    if (!greeting.startsWith('220')) throw new Error(`it greeted with "${greeting.trim()}"`)
  } catch (error) {
    await server.stop()
    const notStarted = readLog()
      .split('\n')
      .filter((line) => /not started|"level":"(error|fatal)"/.test(line))
      .slice(0, 5)
      .join('\n')
    throw new Error(
      `Postern's SMTP listener is not answering on 127.0.0.1:${setup.port}: ${(error as Error).message}${
        notStarted === '' ? `\nlog (end):\n${logTail()}` : `\nwhat its log says:\n${notStarted}`
      }`,
    )
  }
  return server
}

/** Messages in the account's INBOX, read from the store directly: the server must be stopped. */
export async function countStored(setup: PosternSetup): Promise<number> {
  const store = await openSqliteStore({ dataDir: setup.dataDir, orphanAgeMs: null })
  try {
    const account = await store.getAccount(setup.recipient)
    if (account === null) throw new Error(`${setup.recipient} is missing from the store`)
    const inbox = await store.getMailbox(account.id, 'INBOX')
    if (inbox === null) throw new Error(`${setup.recipient} has no INBOX`)
    return (await store.getMailboxStatus(inbox.id)).messages
  } finally {
    await store.close()
  }
}

function readRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  if (match === null) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(match[1])
}

async function waitForReady(child: ChildProcess, readLog: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (!readLog().includes('"msg":"Postern is ready"')) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postern serve exited (${child.exitCode ?? child.signalCode})`)
    }
    if (Date.now() > deadline) throw new Error('postern serve never logged "Postern is ready"')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
