// Reads a V8 .cpuprofile (node --cpu-prof) and lists the functions with the most self time: a
// hint at where a run went, printed by the relay benchmark when asked to profile.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from '../../test/support/postern-process.ts'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** The newest .cpuprofile in `dir`, or null. */
export function latestProfile(dir: string): string | null {
  const names = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .sort()
  const last = names.at(-1)
  return last === undefined ? null : path.join(dir, last)
}

/**
 * A summary line, then "  12.3%  1234 ms  name (file:line)" for the `top` functions by self time
 * (shares of the time not idle).
 */
export function topSelfTime(file: string, top: number): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfUs = new Map<string, number>()
  let totalUs = 0
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    const frame = byNode.get(id)?.callFrame
    if (frame === undefined) return
    const where = frame.url === '' ? '' : ` (${shorten(frame.url)}:${frame.lineNumber + 1})`
    const key = `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${where}`
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta)
    totalUs += delta
  })
  const busyUs = totalUs - (selfUs.get('(idle)') ?? 0)
  const lines = [
    `${(totalUs / 1000).toFixed(0)} ms sampled, ${(busyUs / 1000).toFixed(0)} ms not idle; top self time:`,
  ]
  const sorted = [...selfUs]
    .filter(([key]) => key !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
  for (const [key, us] of sorted) {
    const share = ((us / Math.max(busyUs, 1)) * 100).toFixed(1).padStart(5)
    lines.push(`${share}% ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`)
  }
  return lines
}

function shorten(url: string): string {
  const file = url.replace(/^file:\/\//, '')
  if (file.startsWith(`${REPO_ROOT}/`)) return file.slice(REPO_ROOT.length + 1)
  return file
}
