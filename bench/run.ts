// Runs the benchmarks: `npm run bench` runs them all and prints a table; `npm run bench -- NAME`
// runs one. Each compares Postern with a real peer on the same work in the same run and ends
// with `NAME: postern X UNIT, PEER Y UNIT, ratio R` (one such line per result; a benchmark may
// have several), R > 1 meaning Postern is ahead. Arguments starting with `--` are options for
// the benchmarks themselves (such as `--quick`), read from process.argv.
import os from 'node:os'
import type { BenchResult } from './result.ts'

const BENCHMARKS: Record<string, () => Promise<{ run(): Promise<BenchResult | BenchResult[]> }>> = {
  mime: () => import('./mime/mime.bench.ts'),
  store: () => import('./store/store.bench.ts'),
  'store-pg': () => import('./store/store-pg.bench.ts'),
  smtp: () => import('./smtp/smtp.bench.ts'),
  relay: () => import('./relay/relay.bench.ts'),
  pop3: () => import('./pop3/pop3.bench.ts'),
  imap: () => import('./imap/imap.bench.ts'),
}

const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('--'))
for (const name of wanted) {
  if (!(name in BENCHMARKS)) {
    process.stderr.write(
      `unknown benchmark "${name}"; known: ${Object.keys(BENCHMARKS).join(', ')}\n`,
    )
    process.exit(2)
  }
}
const results: BenchResult[] = []
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHMARKS)) {
  const load = BENCHMARKS[name]
  if (!load) continue
  for (const result of [await (await load()).run()].flat()) {
    results.push(result)
    process.stdout.write(`${formatLine(result)}\n`)
  }
}
if (results.length > 1) {
  process.stdout.write(`\n${machineDescription()}\n\n`)
  process.stdout.write('| benchmark | postern | peer | ratio |\n|---|---|---|---|\n')
  for (const r of results) {
    process.stdout.write(
      `| ${r.name} | ${r.postern.value} ${r.unit} | ${r.peer.name} ${r.peer.value} ${r.unit} | ${r.ratio.toFixed(2)} |\n`,
    )
  }
}

/** The machine the figures come from: they mean little without it. */
function machineDescription(): string {
  const cpus = os.cpus()
  const model = cpus[0]?.model.trim() ?? 'unknown CPU'
  const memory = (os.totalmem() / 1024 ** 3).toFixed(1)
  return `Machine: ${cpus.length} × ${model}, ${memory} GiB RAM, ${os.type()} ${os.release()} (${os.arch()}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`
}

function formatLine(r: BenchResult): string {
  return `${r.name}: postern ${r.postern.value} ${r.unit}, ${r.peer.name} ${r.peer.value} ${r.unit}, ratio ${r.ratio.toFixed(2)}`
}
