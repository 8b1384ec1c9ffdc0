// Postfix's load tools, from Debian's postfix package: smtp-source sends the load, smtp-sink is
// the ceiling (an SMTP server that answers 250 to everything and keeps nothing).
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { getFreePorts } from '../../test/support/free-port.ts'

export const SMTP_SOURCE = '/usr/sbin/smtp-source'
export const SMTP_SINK = '/usr/sbin/smtp-sink'
const SOURCE_TIMEOUT_MS = 15 * 60_000

export function missingLoadTool(): string | null {
  for (const tool of [SMTP_SOURCE, SMTP_SINK]) {
    if (!existsSync(tool)) return `"${tool}" is missing: install Debian's postfix package (.ci/run)`
  }
  return null
}

export interface SourceRun {
  port: number
  messages: number
  /** Payload octets per message (smtp-source -l), after its few header lines. */
  bytes: number
  sessions: number
  sender: string
  recipient: string
}

/**
 * Runs smtp-source to completion and returns the elapsed ms. smtp-source stops with an error at
 * the first reply that is not the expected one, so a zero exit means every message got its 250.
 * Each message goes over a connection of its own (no -d), as mail from many senders arrives at
 * an MX.
 */
export function runSmtpSource(run: SourceRun): Promise<number> {
  const args = [
    ...['-s', String(run.sessions), '-m', String(run.messages), '-l', String(run.bytes)],
    ...['-M', 'source.bench.test', '-f', run.sender, '-t', run.recipient],
    `127.0.0.1:${run.port}`,
  ]
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(SMTP_SOURCE, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let errors = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      errors += chunk
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), SOURCE_TIMEOUT_MS)
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const elapsed = performance.now() - started
      if (code === 0) resolve(elapsed)
      else reject(new Error(`smtp-source ${args.join(' ')} failed (${code ?? signal}): ${errors}`))
    })
  })
}

export interface Sink {
  port: number
  stop(): Promise<void>
}

/** smtp-sink on a free loopback port with a listen backlog of 1,000. */
export async function startSmtpSink(): Promise<Sink> {
  const [port] = await getFreePorts(1)
  if (port === undefined) throw new Error('no free port for smtp-sink')
  // As root smtp-sink must be told whom to run as once its socket is open.
  const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : []
  const child = spawn(SMTP_SINK, [...asRoot, `127.0.0.1:${port}`, '1000'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let errors = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    errors += chunk
  })
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  if (!(await answers(port, child))) {
    child.kill('SIGKILL')
    throw new Error(`smtp-sink did not start on 127.0.0.1:${port}: ${errors}`)
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

/** Whether something greets on the port within 5 s (while the child runs). */
async function answers(port: number, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 5000
  while (Date.now() < deadline && child.exitCode === null) {
    const isUp = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('data', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (isUp) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return false
}
