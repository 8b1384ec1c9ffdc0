// `npm run bench -- mime`: parse throughput of src/mime against mailparser and postal-mime on
// the same corpus in the same run, each library in its own fresh process; and the peak memory
// each needs for the largest message.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BenchResult, median } from '../result.ts'
import { corpusFiles } from './corpus.ts'

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.ts')
const LIBRARIES = ['postern', 'mailparser', 'postal-mime'] as const

function runWorker(library: string, mode: string): Record<string, unknown> {
  const output = execFileSync(
    process.execPath,
    ['--max-old-space-size=4096', WORKER, library, mode],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    },
  )
  return JSON.parse(output.trim().split('\n').at(-1) ?? '{}')
}

export async function run(): Promise<BenchResult> {
  const files = corpusFiles()
  process.stdout.write(`mime: corpus of ${files.length} messages\n`)
  const throughput = new Map<string, { mbPerSecond: number; messagesPerSecond: number }>()
  for (const library of LIBRARIES) {
    const result = runWorker(library, 'throughput') as {
      messages: number
      octets: number
      roundsMs: number[]
    }
    const seconds = median(result.roundsMs) / 1000
    const mbPerSecond = result.octets / 1e6 / seconds
    const messagesPerSecond = result.messages / seconds
    throughput.set(library, { mbPerSecond, messagesPerSecond })
    process.stdout.write(
      `  ${library}: ${mbPerSecond.toFixed(1)} MB/s, ${messagesPerSecond.toFixed(0)} messages/s (${(result.octets / 1e6).toFixed(0)} MB, rounds ${result.roundsMs.map((ms) => (ms / 1000).toFixed(2)).join(' ')} s)\n`,
    )
  }
  for (const library of LIBRARIES) {
    const result = runWorker(library, 'memory') as {
      largestOctets: number
      peakAboveBaseline: number
    }
    process.stdout.write(
      `  ${library}: peak memory for the largest message (${(result.largestOctets / 1e6).toFixed(1)} MB): ${(result.peakAboveBaseline / 1e6).toFixed(1)} MB above baseline (${(result.peakAboveBaseline / result.largestOctets).toFixed(2)}× its size)\n`,
    )
  }
  const postern = throughput.get('postern')?.mbPerSecond ?? 0
  const peers = LIBRARIES.filter((library) => library !== 'postern').map((library) => ({
    name: library,
    value: throughput.get(library)?.mbPerSecond ?? 0,
  }))
  const fastest = peers.reduce((best, peer) => (peer.value > best.value ? peer : best))
  return {
    name: 'mime',
    unit: 'MB/s',
    postern: { value: Number(postern.toFixed(1)) },
    peer: { name: fastest.name, value: Number(fastest.value.toFixed(1)) },
    ratio: postern / fastest.value,
  }
}
