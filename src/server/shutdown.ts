import type { Logger } from '../util/index.ts'

/**
 * Keeps the server running until SIGTERM or SIGINT, then stops it gracefully and resolves with
 * the exit code: 0 for a clean stop, 1 when stopping failed or a second signal cut it short.
 */
export function runUntilSignalled(server: { stop(): Promise<void> }, log: Logger): Promise<number> {
  // Signal handlers do not keep Node's event loop alive, and a server may have nothing else that
  // does (every listener disabled): this timer keeps the process up until a signal.
  const keepAlive = setInterval(() => {}, 2 ** 30)
  return new Promise<number>((resolve) => {
    let isStopping = false
    const onSignal = (signal: NodeJS.Signals) => {
      if (isStopping) {
        log.warn({ signal }, 'second signal during shutdown, exiting now')
        resolve(1)
        return
      }
      isStopping = true
      log.info({ signal }, 'signal received, shutting down')
      server.stop().then(
        () => resolve(0),
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed')
          resolve(1)
        },
      )
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  }).finally(() => clearInterval(keepAlive))
}
