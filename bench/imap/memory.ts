// Memory of a server, from /proc: the resident set (VmRSS, what `ps` shows) and the proportional
// set (Pss in smaps_rollup: each shared page split among the processes that map it), of one
// process or summed over a process tree (Dovecot's master and every process below it; summed
// RSS counts the shared libraries and the shared parts of each process once per process).
import { readdirSync, readFileSync } from 'node:fs'

export interface MemoryKb {
  rssKb: number
  pssKb: number
  processes: number
}

/** One process's VmRSS and Pss in KiB (0 if it is gone). */
export function processMemory(pid: number): MemoryKb {
  const field = (text: string, name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0)
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1')
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1')
    return { rssKb: field(status, 'VmRSS'), pssKb: field(rollup, 'Pss'), processes: 1 }
  } catch {
    return { rssKb: 0, pssKb: 0, processes: 0 }
  }
}

/** The sum over `rootPid` and its descendants. */
export function treeMemory(rootPid: number): MemoryKb {
  const parents = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1')
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // exited meanwhile
    }
  }
  const sum: MemoryKb = { rssKb: 0, pssKb: 0, processes: 0 }
  const pending = [rootPid]
  const seen = new Set<number>()
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    if (seen.has(pid)) continue
    seen.add(pid)
    const memory = processMemory(pid)
    sum.rssKb += memory.rssKb
    sum.pssKb += memory.pssKb
    sum.processes += memory.processes
    for (const [child, parent] of parents) if (parent === pid) pending.push(child)
  }
  return sum
}
