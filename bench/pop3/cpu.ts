// CPU time a server has used, from /proc: the process and every descendant alive now (user +
// system time, all threads), plus what its exited children used once reaped (cutime + cstime).
// Dovecot's master forks a process per login or session and reaps it; Postern is one process
// with its thread pool. Measured before and after a run, the difference is the run's CPU, which
// other work on the machine (a test suite, say) does not inflate the way it does wall time.
// threadCpuMs splits a Node process's time by thread, which a --cpu-prof profile (the main
// thread only) does not show.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let ticksPerSecond: number | null = null

/** CPU milliseconds used so far by `rootPid` and its descendants, living and reaped. */
export function treeCpuMs(rootPid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  const stats = new Map<number, { ppid: number; ticks: number }>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let text: string
    try {
      text = readFileSync(`/proc/${name}/stat`, 'latin1')
    } catch {
      continue // exited meanwhile
    }
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ")".
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    const ppid = Number(fields[1])
    // utime stime cutime cstime are fields 14-17 of the line, 12-15 after "state".
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0)
    stats.set(Number(name), { ppid, ticks })
  }
  let ticks = 0
  const pending = [rootPid]
  const seen = new Set<number>()
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    if (seen.has(pid)) continue
    seen.add(pid)
    ticks += stats.get(pid)?.ticks ?? 0
    for (const [child, stat] of stats) if (stat.ppid === pid) pending.push(child)
  }
  return (ticks / ticksPerSecond) * 1000
}

export interface ThreadCpuMs {
  /** The JavaScript thread: the event loop, SQLite, the protocol code. */
  main: number
  /** libuv's thread pool: argon2id, file reads, fsync. */
  pool: number
  /** V8's helper threads: concurrent garbage collection and compilation. */
  v8: number
  other: number
}

/** CPU milliseconds used so far by each kind of thread of one Node process. */
export function threadCpuMs(pid: number): ThreadCpuMs {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
  const ms: ThreadCpuMs = { main: 0, pool: 0, v8: 0, other: 0 }
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return ms
  }
  for (const tid of tids) {
    let text: string
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1')
    } catch {
      continue
    }
    const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'))
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    const spent = ((Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / ticksPerSecond) * 1000
    const kind =
      tid === String(pid)
        ? 'main'
        : name.startsWith('libuv-worker')
          ? 'pool'
          : name.startsWith('V8')
            ? 'v8'
            : 'other'
    ms[kind] += spent
  }
  return ms
}
