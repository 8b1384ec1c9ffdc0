// How hard the torture suite pushes. `npm test` (and CI) runs the short form, bounded so the
// whole suite stays well under its time limit; `npm run torture [DURATION]` (tools/torture.ts)
// runs the long form: POSTERN_TORTURE=long, and POSTERN_TORTURE_SECONDS for the parts that run
// for a time (fuzzing, soak). Every torture test takes its sizes from here, never from its own
// constants, so the two forms differ in one place.

export type TortureForm = 'short' | 'long'

export const TORTURE_FORM: TortureForm = process.env.POSTERN_TORTURE === 'long' ? 'long' : 'short'

/** Seconds a time-bounded part runs: the argument of the long form, a few seconds otherwise. */
export function tortureSeconds(short: number): number {
  if (TORTURE_FORM === 'short') return short
  const given = Number(process.env.POSTERN_TORTURE_SECONDS)
  return Number.isFinite(given) && given > 0 ? given : 30 * 60
}

/** A count that grows in the long form (kills, connections, iterations). */
export function tortureCount(short: number, long: number): number {
  return TORTURE_FORM === 'short' ? short : long
}

/** The seed of every random choice, printed by each test so that a failure can be replayed. */
export const TORTURE_SEED = Number(process.env.POSTERN_TORTURE_SEED ?? Date.now() % 2 ** 31)
