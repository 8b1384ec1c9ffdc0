export { type Logger, silentLogger } from './logger.ts'
export { LimitError, ProtocolError } from './protocol-error.ts'
export { writeFileDurably } from './write-file-durably.ts'
