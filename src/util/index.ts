export { type Logger, silentLogger } from './logger.ts'
export { execWithMemorySettings } from './memory-settings.ts'
export { LimitError, ProtocolError } from './protocol-error.ts'
export { writeFileDurably } from './write-file-durably.ts'
