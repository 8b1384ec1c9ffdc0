// `npm run torture [DURATION]`: the torture suite's long form (test/torture/, issue 11): more
// kills, more connections, and the time-bounded parts (fuzzing, soak) running for DURATION
// each ("30m" by default; "90s", "45m", "2h"). `npm test` runs the same files in their short
// form. POSTERN_TORTURE_SEED replays a run's random choices (each test prints its seed).
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** "90s", "45m", "2h" or plain seconds → seconds; null when it is none of those. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text.trim())
  if (match === null) return null
  const value = Number(match[1])
  const unit = match[2] ?? 's'
  const seconds = value * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1)
  return seconds > 0 ? Math.round(seconds) : null
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [given = '30m', ...rest] = process.argv.slice(2)
  const seconds = parseDuration(given)
  if (seconds === null || rest.length > 0) {
    process.stderr.write('usage: npm run torture [DURATION]   (for example 30m, 90s, 2h)\n')
    process.exit(2)
  }
  process.stdout.write(`torture, long form: ${seconds} s for each time-bounded part\n`)
  const child = spawn(process.execPath, [path.join(ROOT, 'tools/test.ts'), 'test/torture'], {
    cwd: ROOT,
    stdio: 'inherit',
    env: {
      ...process.env,
      POSTERN_TORTURE: 'long',
      POSTERN_TORTURE_SECONDS: String(seconds),
    },
  })
  child.on('close', (code) => process.exit(code ?? 1))
}
