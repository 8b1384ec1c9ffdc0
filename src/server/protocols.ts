import type { SecureContext } from 'node:tls'
import type { Config } from '../config/index.ts'
import type { ProtocolHandler } from '../net/index.ts'
import type { Store } from '../store/index.ts'
import type { Logger } from '../util/index.ts'
import type { ProtocolName } from './listeners.ts'

/** What the server hands a protocol when it builds its handler. Grows as services land. */
export interface ProtocolContext {
  config: Config
  log: Logger
  /** For STARTTLS/STLS; implicit-TLS listeners are wrapped before the handler sees them. */
  secureContext: SecureContext
  store: Store
}

export type ProtocolFactory = (context: ProtocolContext) => ProtocolHandler

/**
 * The protocols this build implements. Each protocol's issue adds its entry here; a configured
 * listener whose protocol is not in the table is reported at start and not bound.
 */
export const PROTOCOLS: Partial<Record<ProtocolName, ProtocolFactory>> = {}
