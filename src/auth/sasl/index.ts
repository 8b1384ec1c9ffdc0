import { loginExchange } from './login.ts'
import type { SaslCredentialStore, SaslExchange } from './mechanism.ts'
import { plainExchange } from './plain.ts'
import { type ScramOptions, scramExchange } from './scram.ts'

export {
  MAX_SASL_RESPONSE_OCTETS,
  type SaslCredentialStore,
  type SaslExchange,
  type SaslStep,
} from './mechanism.ts'

/** The mechanisms Postern offers, strongest first, as capability lists show them. */
export const SASL_MECHANISMS = ['SCRAM-SHA-256', 'PLAIN', 'LOGIN'] as const

/** A fresh exchange for `mechanism` (case-insensitive, RFC 4422 §3.1), or null if not offered. */
export function createSaslExchange(
  mechanism: string,
  store: SaslCredentialStore,
  options: ScramOptions = {},
): SaslExchange | null {
  switch (mechanism.toUpperCase()) {
    case 'SCRAM-SHA-256':
      return scramExchange(store, options)
    case 'PLAIN':
      return plainExchange(store)
    case 'LOGIN':
      return loginExchange(store)
    default:
      return null
  }
}
