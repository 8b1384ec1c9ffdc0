import { pino } from 'pino'
import pretty from 'pino-pretty'
import type { Config } from '../config/index.ts'
import type { Logger } from '../util/index.ts'

/**
 * Structured logs: one JSON object per line (level, ISO time, msg, and the fields; every line of
 * a connection carries its `conn` id), or the same lines made readable for a terminal.
 * Writes are synchronous so that nothing logged before a crash or exit is lost.
 */
export function createLogger(
  options: Config['log'],
  output: { fd: number; isTTY: boolean } = { fd: 1, isTTY: process.stdout.isTTY === true },
): Logger {
  const isPretty = options.format === 'pretty' || (options.format === 'auto' && output.isTTY)
  const base = {
    level: options.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  }
  if (isPretty) {
    return pino(
      base,
      pretty({
        destination: output.fd,
        sync: true,
        colorize: output.isTTY,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'hostname,pid',
      }),
    )
  }
  return pino(base, pino.destination({ fd: output.fd, sync: true }))
}
