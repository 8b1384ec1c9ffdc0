/**
 * The memory settings `postern serve` runs under, so that a server under a steady load holds a
 * steady amount of memory. Both can only be had at process start, so serve starts itself again
 * with them: execve(2) replaces the program and keeps the pid, the descriptors and the
 * arguments, so systemd, a supervisor or a test sees one process.
 *
 * glibc's mmap threshold, fixed at 128 KiB. glibc starts there but raises it, up to 32 MiB, to
 * the size of any mmapped block that is freed. The first argon2id login frees a 19 MiB block
 * (OpenSSL allocates it with malloc), so from then on every allocation under 19 MiB came from
 * malloc's arenas: message buffers, SQLite's pages, FTS5's merge buffers. The arenas fragment
 * under a mail load and give little back: the soak held about 120 MiB more that way. A fixed
 * threshold keeps large blocks in mmap, where free returns them, and turns off the raising.
 * Each password check then maps its 19 MiB afresh: with 4 KiB pages that is 4,864 page faults,
 * 12 ms of system time a hash (40 ms instead of 28 in all), so glibc.malloc.hugetlb=1 asks for
 * transparent huge pages on those mappings (where the kernel offers them, "madvise" or
 * "always"): 27 ms a hash, as before. glibc reads both from GLIBC_TUNABLES at process start.
 *
 * V8's young generation, fixed at two semi-spaces of 16 MiB. V8 starts it at 1 MiB and doubles
 * it after busy scavenges up to 32 MiB each, and keeps the pages when it shrinks again: the soak
 * stepped up by 30 MiB at the first burst of large messages, minutes into the load, and never
 * came down. 16 MiB from the start is what a burst needs (scavenges cost what survives them, not
 * the space) and holds the same from the first minute to the last. V8 reads it from the command
 * line only (NODE_OPTIONS may not carry it).
 */
export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=131072:glibc.malloc.hugetlb=1'
export const YOUNG_GENERATION_FLAGS = ['--min-semi-space-size=16', '--max-semi-space-size=16']

/**
 * Starts the process again with whichever of the settings it lacks; returns only when it lacks
 * none or cannot start again (said on stderr). An operator's own choice wins: a threshold in
 * GLIBC_TUNABLES, or a semi-space flag on node's command line or in NODE_OPTIONS. Must be called
 * before anything is written to stdout or stderr (a pipe's pending writes would be lost) and
 * before any file is opened.
 */
export function execWithMemorySettings(
  env: NodeJS.ProcessEnv = process.env,
  execArgv: readonly string[] = process.execArgv,
): void {
  const tunables = env.GLIBC_TUNABLES ?? ''
  const needsTunable = runsOnGlibc() && !/(^|:)glibc\.malloc\.mmap_threshold=/.test(tunables)
  const semiSpace = /--(min|max)[-_]semi[-_]space[-_]size\b/
  const needsFlags =
    !execArgv.some((flag) => semiSpace.test(flag)) && !semiSpace.test(env.NODE_OPTIONS ?? '')
  if (!(needsTunable || needsFlags) || typeof process.execve !== 'function') return
  const glibcTunables = tunables ? `${tunables}:${MALLOC_TUNABLES}` : MALLOC_TUNABLES
  try {
    process.execve(
      process.execPath,
      [
        process.execPath,
        ...(needsFlags ? YOUNG_GENERATION_FLAGS : []),
        ...execArgv,
        ...process.argv.slice(1),
      ],
      needsTunable ? { ...env, GLIBC_TUNABLES: glibcTunables } : env,
    )
  } catch (error) {
    // Still this process: it can run, only with the defaults.
    process.stderr.write(
      `postern: cannot start again with the memory settings (${(error as Error).message}); running without them\n`,
    )
  }
}

function runsOnGlibc(): boolean {
  if (process.platform !== 'linux') return false
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } })
    .header
  return typeof header?.glibcVersionRuntime === 'string'
}
