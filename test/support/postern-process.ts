import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { LISTENER_NAMES, type ListenerName } from '../../src/config/index.ts'
import { getFreePorts } from './free-port.ts'
import { makeTempDir } from './temp-dir.ts'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const MAIN = path.join(REPO_ROOT, 'src/main.ts')

/** One JSON log line of the server. */
export type LogLine = { level: string; msg: string; time: string } & Record<string, unknown>

export interface PosternProcess {
  readonly child: ChildProcess
  readonly dir: string
  readonly dataDir: string
  readonly configPath: string
  /** The port of every listener in the config (all of them on 127.0.0.1). */
  readonly ports: Record<ListenerName, number>
  readonly logs: LogLine[]
  stderr(): string
  waitForLog(match: string | ((line: LogLine) => boolean), timeoutMs?: number): Promise<LogLine>
  /** Sends the signal and resolves with how the process ended and how long it took. */
  stop(
    signal?: NodeJS.Signals,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; elapsedMs: number }>
}

export interface StartPosternOptions {
  /** More TOML, appended after the generated keys (so it may add tables, not repeat keys). */
  extraToml?: string
  /** Wait for the "Postern is ready" line before resolving (default true). */
  waitForReady?: boolean
  env?: NodeJS.ProcessEnv
  /** Reuse this directory (config and data) instead of a fresh one: a restart of the same server. */
  dir?: string
}

/**
 * Spawns a real `postern serve` on free loopback ports with a temporary data dir, collects its
 * JSON logs, and stops it (SIGTERM, then SIGKILL) when the test ends. End-to-end tests start from
 * here.
 */
export async function startPostern(
  t: TestContext,
  options: StartPosternOptions = {},
): Promise<PosternProcess> {
  const dir = options.dir ?? makeTempDir(t, 'postern-serve-')
  const dataDir = path.join(dir, 'data')
  const freePorts = await getFreePorts(LISTENER_NAMES.length)
  const ports = Object.fromEntries(LISTENER_NAMES.map((name, i) => [name, freePorts[i]])) as Record<
    ListenerName,
    number
  >
  const configPath = path.join(dir, 'postern.toml')
  const listen = LISTENER_NAMES.map((name) => `${name} = "127.0.0.1:${ports[name]}"`).join('\n')
  writeFileSync(
    configPath,
    `hostname = "mail.test"\ndata_dir = "${dataDir}"\nshutdown_grace_ms = 1000\n\n[listen]\n${listen}\n\n[log]\nlevel = "debug"\nformat = "json"\n\n${dnsToml(options.extraToml)}${options.extraToml ?? ''}`,
  )

  const child = spawn(process.execPath, [MAIN, 'serve', '--config', configPath], {
    cwd: dir,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const logs: LogLine[] = []
  const waiters = new Set<() => void>()
  let pending = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      if (line.trim() === '') continue
      try {
        logs.push(JSON.parse(line) as LogLine)
      } catch {
        logs.push({ level: 'unparsed', msg: line, time: '' })
      }
    }
    for (const wake of waiters) wake()
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  void exited.then(() => {
    for (const wake of waiters) wake()
  })

  let hasExited = false
  void exited.then(() => {
    hasExited = true
  })
  t.after(async () => {
    if (hasExited) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  })

  const waitForLog: PosternProcess['waitForLog'] = async (match, timeoutMs = 15_000) => {
    const test = typeof match === 'string' ? (line: LogLine) => line.msg === match : match
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = logs.find(test)
      if (found) return found
      if (hasExited || Date.now() > deadline) {
        throw new Error(
          `no log line matching ${String(match)}${hasExited ? ' (process exited)' : ''}\nstdout:\n${logs
            .map((line) => JSON.stringify(line))
            .join('\n')}\nstderr:\n${stderr}`,
        )
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()))
        function done() {
          clearTimeout(timer)
          waiters.delete(done)
          resolve()
        }
        waiters.add(done)
      })
    }
  }

  const instance: PosternProcess = {
    child,
    dir,
    dataDir,
    configPath,
    ports,
    logs,
    stderr: () => stderr,
    waitForLog,
    async stop(signal = 'SIGTERM') {
      const started = Date.now()
      child.kill(signal)
      const result = await exited
      return { ...result, elapsedMs: Date.now() - started }
    },
  }
  if (options.waitForReady ?? true) await waitForLog('Postern is ready')
  return instance
}

/** Runs one `postern …` command to completion and returns its exit code and output. */
export async function runPostern(
  args: readonly string[],
  options: {
    cwd?: string
    env?: NodeJS.ProcessEnv
    timeoutMs?: number
    stdin?: string | Buffer
  } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnPostern(args, options)
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`postern ${args.join(' ')} did not finish in time`))
    }, options.timeoutMs ?? 30_000)
  })
  try {
    const { code } = await Promise.race([child.exit, timedOut])
    return { code, stdout: child.stdout(), stderr: child.stderr() }
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Nothing answers DNS on the discard port: mail for other domains stays queued (a temporary
 * failure) instead of the queue asking the real DNS from a test. A test's own [dns] wins.
 */
function dnsToml(extraToml: string | undefined): string {
  if (extraToml?.includes('[dns]')) return ''
  // With no DNS to ask, inbound mail authentication could only answer 451: off here.
  const mailauth = extraToml?.includes('[mailauth]') ? '' : '[mailauth]\nverify = false\n\n'
  return `[dns]\nservers = ["127.0.0.1:9"]\n\n${mailauth}`
}

export interface SpawnedPostern {
  readonly pid: number
  /** Resolves when the process has exited. */
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  kill(signal: NodeJS.Signals): void
  stdout(): string
  stderr(): string
}

/** Starts one `postern …` command and returns at once (a daemon, a process to kill mid-way). */
export function spawnPostern(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: string | Buffer } = {},
): SpawnedPostern {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  // An empty standard input when none is given, so a command that reads it ends at once.
  child.stdin.end(options.stdin ?? '')
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }))
    // A process that could not be started at all: no exit code, and the reason on stderr.
    child.once('error', (error) => {
      stderr += String(error)
      resolve({ code: null, signal: null })
    })
  })
  return {
    pid: child.pid ?? 0,
    exit,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
    stdout: () => stdout,
    stderr: () => stderr,
  }
}
