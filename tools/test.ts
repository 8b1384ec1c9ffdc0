// Runs the test suite under node:test with the spec reporter, whose closing summary
// (ℹ tests N, ℹ pass N, ℹ fail N) CI reads. Fails when any test fails, and when no test ran at
// all, since a suite that finds nothing proves nothing.
//
// node tools/test.ts                 every test
// node tools/test.ts src/net         only files under the given paths
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import path from 'node:path'
import { run } from 'node:test'
import { spec } from 'node:test/reporters'

const DEFAULT_PATTERNS = ['src/**/*.test.ts', 'tools/**/*.test.ts', 'test/**/*.test.ts']

const args = process.argv.slice(2)
const globPatterns =
  args.length === 0
    ? DEFAULT_PATTERNS
    : args.map((arg) => (arg.endsWith('.ts') ? arg : `${arg.replace(/\/$/, '')}/**/*.test.ts`))

// Test files run in parallel processes that start servers on ports they pick; this directory
// is where they reserve them, so no two pick the same one (test/support/free-port.ts).
const portsDir = mkdtempSync(path.join(tmpdir(), 'postern-test-ports-'))
process.env.POSTERN_TEST_PORTS_DIR = portsDir

let passed = 0
let failed = 0
const stream = run({
  globPatterns,
  concurrency: Math.max(2, availableParallelism()),
  isolation: 'process',
  // A test that hangs is a failure with a name, not a CI run that times out. The torture
  // suite's long form (tools/torture.ts) runs parts for a given time, and gets that much more.
  timeout:
    process.env.POSTERN_TORTURE === 'long'
      ? 600_000 + 3 * 1000 * Number(process.env.POSTERN_TORTURE_SECONDS ?? 1800)
      : 120_000,
})
stream.on('test:pass', (event) => {
  if (event.details.type !== 'suite') passed += 1
})
stream.on('test:fail', (event) => {
  if (event.todo !== undefined && event.todo !== false) return
  if (event.details.type !== 'suite') failed += 1
  process.exitCode = 1
})
stream.on('end', () => {
  rmSync(portsDir, { recursive: true, force: true })
  if (passed + failed === 0) {
    process.stderr.write(`no tests found for ${globPatterns.join(' ')}\n`)
    process.exitCode = 1
  }
})
stream.compose(spec).pipe(process.stdout)
