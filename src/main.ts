import { execWithMemorySettings } from './util/index.ts'

// `postern serve` runs under memory settings that only a process start can set
// (util/memory-settings.ts): start again under them before anything else is loaded.
if (process.argv[2] === 'serve') execWithMemorySettings()
const { runCli } = await import('./cli/index.ts')

// The process entry: argv to the CLI, its result to the exit code. Anything thrown this far is a
// bug; say so on stderr and exit 1 rather than leave a half-running process.
try {
  const code = await runCli(process.argv.slice(2))
  process.exit(code)
} catch (error) {
  process.stderr.write(`postern: internal error: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
}
