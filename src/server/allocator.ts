/**
 * The malloc setting `postern serve` runs under on glibc: a fixed mmap threshold of 128 KiB.
 *
 * glibc starts with that threshold but raises it, up to 32 MiB, to the size of any mmapped block
 * that is freed. The first argon2id login frees a 19 MiB block (OpenSSL allocates it with
 * malloc), so from then on every allocation under 19 MiB comes from malloc's arenas: message
 * buffers, SQLite's pages, FTS5's merge buffers. The arenas fragment under a mail load and give
 * little back; the 30-minute soak grew by a quarter that way. A fixed threshold keeps large
 * blocks in mmap, where free returns them to the system, and turns off the raising.
 *
 * glibc reads the setting from GLIBC_TUNABLES once, when the process starts, so it can only be
 * had by starting again: execve(2) replaces the program and keeps the pid, the descriptors and
 * the arguments, so systemd, a supervisor or a test sees one process.
 */
export const MMAP_THRESHOLD_TUNABLE = 'glibc.malloc.mmap_threshold=131072'

/** Why the process was not started again (the caller's process is replaced when it is). */
export type AllocatorSetting = 'not glibc' | 'set by GLIBC_TUNABLES' | 'no execve'

/**
 * Starts the process again under MMAP_THRESHOLD_TUNABLE unless it runs on glibc with an mmap
 * threshold already chosen, or not on glibc at all. Must be called before anything is written to
 * stdout or stderr (a pipe's pending writes would be lost) and before any file is opened.
 */
export function execWithFixedMmapThreshold(env: NodeJS.ProcessEnv = process.env): AllocatorSetting {
  const tunables = env.GLIBC_TUNABLES ?? ''
  if (/(^|:)glibc\.malloc\.mmap_threshold=/.test(tunables)) return 'set by GLIBC_TUNABLES'
  if (!runsOnGlibc()) return 'not glibc'
  if (typeof process.execve !== 'function') return 'no execve'
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    {
      ...env,
      GLIBC_TUNABLES: tunables ? `${tunables}:${MMAP_THRESHOLD_TUNABLE}` : MMAP_THRESHOLD_TUNABLE,
    },
  )
  // execve only returns by throwing.
  return 'no execve'
}

function runsOnGlibc(): boolean {
  if (process.platform !== 'linux') return false
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } })
    .header
  return typeof header?.glibcVersionRuntime === 'string'
}
