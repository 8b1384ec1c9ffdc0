// smtp-sink with its running counters on (-c): the destination of the relay benchmark. It
// answers 250 to everything and keeps nothing; its counter says how many messages it has taken
// (one more at each "."), so that a run can check that every message arrived exactly once, and
// when the first of them did.
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { getFreePorts } from '../../test/support/free-port.ts'
import { SMTP_SINK } from '../smtp/load-tools.ts'

const START_TIMEOUT_MS = 5000
const POLL_MS = 20

export interface CountingSink {
  port: number
  /** Messages taken since the sink started (as far as its output has been read). */
  messages(): number
  /** Date.now() when the counter first reached `count`, or null while it has not. */
  reachedAt(count: number): number | null
  /** Resolves once the counter reaches `count`; rejects after timeoutMs. */
  waitFor(count: number, timeoutMs: number): Promise<void>
  stop(): Promise<void>
}

/** smtp-sink -c on a free loopback port, listen backlog 1,000 (as bench/smtp's sink). */
export async function startCountingSink(): Promise<CountingSink> {
  const [port] = await getFreePorts(1)
  if (port === undefined) throw new Error('no free port for smtp-sink')
  // As root smtp-sink must be told whom to run as once its socket is open.
  const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : []
  const child = spawn(SMTP_SINK, [...asRoot, '-c', `127.0.0.1:${port}`, '1000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let errors = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    errors += chunk
  })
  // The counters come as "sess=N quit=N mesg=N\r", rewritten in place on a terminal.
  const arrivals: number[] = []
  let pending = ''
  child.stdout.setEncoding('latin1').on('data', (chunk: string) => {
    const now = Date.now()
    pending += chunk
    const end = pending.lastIndexOf('\r')
    if (end < 0) return
    const complete = pending.slice(0, end)
    pending = pending.slice(end + 1)
    const last = complete.slice(complete.lastIndexOf('\r') + 1)
    const count = Number(/mesg=(\d+)/.exec(last)?.[1] ?? arrivals.length)
    while (arrivals.length < count) arrivals.push(now)
  })
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
  if (!(await greets(port, () => child.exitCode === null))) {
    child.kill('SIGKILL')
    throw new Error(`smtp-sink did not start on 127.0.0.1:${port}: ${errors}`)
  }
  // The greeting check was a session of its own: wait for its counter line.
  const deadline = Date.now() + START_TIMEOUT_MS
  while (!pending.includes('sess=') && arrivals.length === 0 && Date.now() < deadline) {
    await sleep(POLL_MS)
  }
  return {
    port,
    messages: () => arrivals.length,
    reachedAt: (count) => arrivals[count - 1] ?? null,
    async waitFor(count, timeoutMs) {
      const until = Date.now() + timeoutMs
      while (arrivals.length < count) {
        if (Date.now() > until) {
          throw new Error(`smtp-sink took ${arrivals.length} messages, not ${count}: ${errors}`)
        }
        await sleep(POLL_MS)
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

/** Whether something greets on the port within START_TIMEOUT_MS (while isAlive()). */
async function greets(port: number, isAlive: () => boolean): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline && isAlive()) {
    const isUp = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('data', () => {
        socket.end('QUIT\r\n')
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
    if (isUp) return true
    await sleep(50)
  }
  return false
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
