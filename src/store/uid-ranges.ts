import type { UidRanges } from './types.ts'

/** Sorted, merged, clamped to valid UIDs: [[3,1],[2,5]] → [[1,5]]. */
export function normalizeRanges(ranges: UidRanges): Array<[number, number]> {
  const sorted = ranges
    .map(([a, b]): [number, number] => [Math.max(1, Math.min(a, b)), Math.max(a, b)])
    .filter(([, high]) => high >= 1)
    .sort((x, y) => x[0] - y[0])
  const merged: Array<[number, number]> = []
  for (const range of sorted) {
    const last = merged.at(-1)
    if (last && range[0] <= last[1] + 1) last[1] = Math.max(last[1], range[1])
    else merged.push([range[0], range[1]])
  }
  return merged
}
