export interface BenchResult {
  name: string
  unit: string
  postern: { value: number }
  /** The peer the ratio is taken against (for several peers, the strongest one). */
  peer: { name: string; value: number }
  /** > 1 means Postern is ahead (higher throughput, or lower time or memory). */
  ratio: number
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}
