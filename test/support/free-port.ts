import { closeSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'

/**
 * Ports that are free on 127.0.0.1 and promised to no other caller, all distinct. For a child
 * process that must be told its ports in a config file; in-process servers listen on port 0.
 *
 * Two things can take a port between this check and the child's listen: another test file asking
 * for ports at the same time, and the kernel handing the port out as the local end of some
 * connection. So ports are drawn below the kernel's ephemeral range, which connections never use,
 * and each is reserved by creating a file in a directory shared by the whole run
 * (POSTERN_TEST_PORTS_DIR, which tools/test.ts sets): a port is given out once per run.
 */
export async function getFreePorts(count: number): Promise<number[]> {
  const ports: number[] = []
  for (let attempts = 0; ports.length < count; attempts += 1) {
    if (attempts > 10_000) throw new Error('no free port below the ephemeral range')
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW))
    if (ports.includes(port) || !reserve(port)) continue
    if (await canListen(port)) ports.push(port)
  }
  return ports
}

const [LOW, HIGH] = portRange()

/** [low, high): from 10000 up to the start of the ephemeral range, or 10000–30000 if unknown. */
function portRange(): [number, number] {
  try {
    const ephemeralLow = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    )
    if (Number.isInteger(ephemeralLow) && ephemeralLow > 12_000) return [10_000, ephemeralLow]
  } catch {
    // not Linux: fall through
  }
  return [10_000, 30_000]
}

const sharedDir = process.env.POSTERN_TEST_PORTS_DIR
/** Without the shared directory (a benchmark, a test run by hand): reserved in this process only. */
const reservedHere = new Set<number>()

function reserve(port: number): boolean {
  if (reservedHere.has(port)) return false
  reservedHere.add(port)
  if (sharedDir === undefined) return true
  try {
    closeSync(openSync(path.join(sharedDir, String(port)), 'wx'))
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
