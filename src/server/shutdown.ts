import type { Logger } from '../util/index.ts'

export interface SignalWatch {
  /** Runs `server` until SIGTERM or SIGINT, stops it, and resolves with the exit code. */
  runUntilSignalled(server: { stop(): Promise<void> }): Promise<number>
  /** Stops watching (when the server never started). */
  cancel(): void
}

/**
 * Starts listening for SIGTERM and SIGINT before the server starts, so a signal that arrives
 * while it is starting is not lost (nor kills the process half-started): it stops the server as
 * soon as it is up. The exit code is 0 for a clean stop, 1 when stopping failed or a second
 * signal cut it short.
 */
export function watchSignals(log: Logger): SignalWatch {
  // Signal handlers do not keep Node's event loop alive, and a server may have nothing else that
  // does (every listener disabled): this timer keeps the process up until a signal.
  const keepAlive = setInterval(() => {}, 2 ** 30)
  let received: NodeJS.Signals | null = null
  let onFirst: ((signal: NodeJS.Signals) => void) | null = null
  let onSecond: (() => void) | null = null

  const onSignal = (signal: NodeJS.Signals) => {
    if (received !== null) {
      log.warn({ signal }, 'second signal during shutdown, exiting now')
      onSecond?.()
      return
    }
    received = signal
    onFirst?.(signal)
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  const cancel = () => {
    clearInterval(keepAlive)
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
  }

  return {
    cancel,
    runUntilSignalled(server) {
      return new Promise<number>((resolve) => {
        onSecond = () => resolve(1)
        onFirst = (signal) => {
          log.info({ signal }, 'signal received, shutting down')
          server.stop().then(
            () => resolve(0),
            (error: unknown) => {
              log.error({ err: error }, 'shutdown failed')
              resolve(1)
            },
          )
        }
        if (received !== null) onFirst(received)
      }).finally(cancel)
    },
  }
}
