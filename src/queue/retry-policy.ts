import type { QueueConfig } from '../config/index.ts'
import type { QueueEntry, QueueRecipient } from '../store/index.ts'

// When a deferred recipient is tried again, and when it is given up on (RFC 5321 §4.5.4.1: retry
// at intervals of at least 30 minutes at first, give up after at least 4-5 days; we start sooner,
// as Postfix does, because most temporary failures are greylisting, which clears in minutes).

export type RetryPolicyConfig = Pick<
  QueueConfig,
  'retryMinMs' | 'retryMaxMs' | 'lifetimeMs' | 'delayWarningMs'
>

export type RetryDecision =
  | { kind: 'retry'; at: Date }
  /** The message is too old: the temporary failure becomes the final one. */
  | { kind: 'expired' }

/**
 * After `attempts` attempts (this one included): the wait doubles from retryMinMs up to
 * retryMaxMs, with ±10% jitter so that a destination that was down is not hit by every message
 * at once when it returns. The last retry is at the end of the lifetime, never after it.
 */
export function decideRetry(
  config: RetryPolicyConfig,
  entry: Pick<QueueEntry, 'createdAt'>,
  attempts: number,
  now: number,
  random: () => number = Math.random,
): RetryDecision {
  const expiresAt = entry.createdAt.getTime() + config.lifetimeMs
  if (now >= expiresAt) return { kind: 'expired' }
  const doublings = Math.min(Math.max(attempts - 1, 0), 30)
  const base = Math.min(config.retryMaxMs, config.retryMinMs * 2 ** doublings)
  const wait = base * (0.9 + 0.2 * random())
  return { kind: 'retry', at: new Date(Math.min(now + wait, expiresAt)) }
}

/**
 * Whether this deferral should tell the sender the message is delayed: once per recipient, after
 * delayWarningMs, unless NOTIFY left DELAY out (RFC 3461 §4.1: with no NOTIFY the MTA chooses;
 * we warn, as FAILURE,DELAY), and never to the null sender (RFC 3461 §6.2, no notice loops).
 */
export function shouldWarnDelay(
  config: RetryPolicyConfig,
  entry: Pick<QueueEntry, 'createdAt' | 'sender'>,
  recipient: Pick<QueueRecipient, 'notify' | 'delayNotified'>,
  now: number,
): boolean {
  if (config.delayWarningMs === 0 || entry.sender === '' || recipient.delayNotified) return false
  if (recipient.notify !== null && !recipient.notify.includes('delay')) return false
  return now - entry.createdAt.getTime() >= config.delayWarningMs
}
