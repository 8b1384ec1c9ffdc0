import { LimitError } from '../../util/index.ts'
import type { SaslExchange, SaslStep } from './mechanism.ts'

/** How a protocol carries one SASL round trip: SMTP "334", POP3 "+ ", IMAP "+ ". */
export interface SaslChannel {
  /**
   * Sends a challenge (base64 of `data`) and returns the client's answer line, null when the
   * connection closed. A line past the protocol's bound may throw a LimitError: it is answered
   * as a malformed response.
   */
  challenge(data: Buffer): Promise<string | null>
}

export type SaslOutcome =
  | { kind: 'success'; login: string }
  | { kind: 'failure'; step: Extract<SaslStep, { kind: 'failure' }> }
  /** The client answered "*" (RFC 4954 §4, RFC 5034 §4, RFC 9051 §6.2.2). */
  | { kind: 'cancelled' }
  /** The initial response or an answer was not base64 (or too long for the line bound). */
  | { kind: 'malformed'; isInitial: boolean }
  | { kind: 'closed' }

/**
 * Runs an exchange to its end over a protocol's challenge/response lines. A final server message
 * that comes with success (SCRAM's signature) goes out as one more challenge, which the client
 * acknowledges with an empty line (RFC 4954 §4, RFC 5034 §4); protocols that can carry it in
 * their success reply (IMAP's SASL-IR-era clients) still accept it this way.
 * @param initial the initial response as the client wrote it ("=" is an empty one), or null
 */
export async function runSaslExchange(
  exchange: SaslExchange,
  initial: string | null,
  channel: SaslChannel,
): Promise<SaslOutcome> {
  let initialBytes: Buffer | null = null
  if (initial !== null) {
    initialBytes = initial === '=' ? Buffer.alloc(0) : decodeBase64(initial)
    if (initialBytes === null) return { kind: 'malformed', isInitial: true }
  }
  let step = await exchange.start(initialBytes)
  for (;;) {
    if (step.kind === 'failure') return { kind: 'failure', step }
    if (step.kind === 'success' && step.data === null) return { kind: 'success', login: step.login }
    let answer: string | null
    try {
      answer = await channel.challenge(step.data as Buffer)
    } catch (error) {
      if (error instanceof LimitError) return { kind: 'malformed', isInitial: false }
      throw error
    }
    if (answer === null) return { kind: 'closed' }
    if (answer === '*') return { kind: 'cancelled' }
    const response = decodeBase64(answer)
    if (response === null) return { kind: 'malformed', isInitial: false }
    if (step.kind === 'success') return { kind: 'success', login: step.login }
    step = await exchange.respond(response)
  }
}

/** What a protocol tells a client whose SASL data was not base64 (its own status code aside). */
export function malformedResponseText(outcome: { isInitial: boolean }): string {
  return outcome.isInitial
    ? 'The initial response is not valid base64'
    : 'The response is not valid base64'
}

/** Strict base64 (RFC 4648 §4): Node's decoder skips junk, which must not pass for a password. */
export function decodeBase64(text: string): Buffer | null {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null
  return Buffer.from(text, 'base64')
}
