import { isUtf8 } from 'node:buffer'
import type { ScramCredentials } from '../scram-credentials.ts'

/** Where SASL mechanisms check secrets: the account store, behind an interface. */
export interface SaslCredentialStore {
  /** The account's login (canonical form) when `password` is right for `username`, else null. */
  verifyPassword(username: string, password: string): Promise<string | null>
  /** The login and SCRAM secrets of `username`, or null when there is no such account. */
  scramCredentials(
    username: string,
  ): Promise<{ login: string; credentials: ScramCredentials } | null>
}

/**
 * One step of an exchange, independent of the protocol's framing (SMTP "334", IMAP "+", POP3
 * "+"): send a challenge and wait for the client's answer, or end in success or failure.
 * `data` with success is the mechanism's final server message (SCRAM's server signature),
 * which the protocol sends as additional data or as one last challenge.
 */
export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; login: string; data: Buffer | null }
  | {
      kind: 'failure'
      reason: 'malformed' | 'credentials'
      message: string
      attemptedLogin: string | null
    }

export interface SaslExchange {
  readonly mechanism: string
  /** `initialResponse` is the SASL-IR / AUTH initial response, if the client sent one. */
  start(initialResponse: Buffer | null): Promise<SaslStep>
  respond(response: Buffer): Promise<SaslStep>
}

/** Octets a single client response may have; real ones are a few hundred. */
export const MAX_SASL_RESPONSE_OCTETS = 4096

export function malformed(message: string, attemptedLogin: string | null = null): SaslStep {
  return { kind: 'failure', reason: 'malformed', message, attemptedLogin }
}

export function badCredentials(attemptedLogin: string | null): SaslStep {
  return { kind: 'failure', reason: 'credentials', message: 'Invalid credentials', attemptedLogin }
}

/** Text a mechanism received, when it is valid UTF-8; null otherwise. */
export function utf8(bytes: Buffer): string | null {
  return isUtf8(bytes) ? bytes.toString('utf8') : null
}
