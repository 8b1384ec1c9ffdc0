import { loginExchange } from './login.ts'
import {
  MAX_SASL_RESPONSE_OCTETS,
  malformed,
  type SaslCredentialStore,
  type SaslExchange,
} from './mechanism.ts'
import { plainExchange } from './plain.ts'
import { type ScramOptions, scramExchange } from './scram.ts'

export {
  MAX_SASL_RESPONSE_OCTETS,
  type SaslCredentialStore,
  type SaslExchange,
  type SaslStep,
} from './mechanism.ts'
export {
  decodeBase64,
  malformedResponseText,
  runSaslExchange,
  type SaslChannel,
  type SaslOutcome,
} from './run-exchange.ts'

/** The mechanisms Postern offers, strongest first, as capability lists show them. */
export const SASL_MECHANISMS = ['SCRAM-SHA-256', 'PLAIN', 'LOGIN'] as const

/** A fresh exchange for `mechanism` (case-insensitive, RFC 4422 §3.1), or null if not offered. */
export function createSaslExchange(
  mechanism: string,
  store: SaslCredentialStore,
  options: ScramOptions = {},
): SaslExchange | null {
  const exchange = mechanismExchange(mechanism, store, options)
  return exchange === null ? null : bounded(exchange)
}

function mechanismExchange(
  mechanism: string,
  store: SaslCredentialStore,
  options: ScramOptions,
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

/** Every mechanism refuses a client message past MAX_SASL_RESPONSE_OCTETS before looking at it. */
function bounded(exchange: SaslExchange): SaslExchange {
  const tooLong = (message: Buffer | null) =>
    message !== null && message.length > MAX_SASL_RESPONSE_OCTETS
  const refusal = () => malformed(`Response longer than ${MAX_SASL_RESPONSE_OCTETS} octets`)
  return {
    mechanism: exchange.mechanism,
    start: async (initial) => (tooLong(initial) ? refusal() : exchange.start(initial)),
    respond: async (response) => (tooLong(response) ? refusal() : exchange.respond(response)),
  }
}
