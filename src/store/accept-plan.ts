import { MAX_QUEUE_RECIPIENTS } from './limits.ts'
import { checkFlags } from './names.ts'
import type {
  AcceptInput,
  DsnNotify,
  MailboxId,
  NewQueueEntry,
  QueueAttempt,
  QueueRecipientOutcome,
} from './types.ts'

// What both backends do with acceptMessage's input before they touch storage, written once so
// that they refuse the same things and file the same targets.

/** A delivery target in stored form: system flags as a mask, keywords checked. */
export interface PlannedTarget {
  mailboxId: MailboxId
  mask: number
  keywords: string[]
}

export interface PlannedDelivery {
  bytes: Buffer
  /** INTERNALDATE, milliseconds since the epoch. */
  internalDate: number
  /** Distinct mailboxes, each with the flags of its first mention; empty: nothing to store. */
  targets: PlannedTarget[]
}

export interface AcceptPlan {
  /** In the order given, one per input delivery. */
  deliveries: PlannedDelivery[]
  queue: { bytes: Buffer; entry: NewQueueEntry } | null
  /** Every mailbox any delivery names, once, ascending (the order row locks are taken in). */
  mailboxIds: MailboxId[]
}

const NOTIFY_VALUES: ReadonlySet<string> = new Set<DsnNotify>(['success', 'failure', 'delay'])

/**
 * Checks everything that can be checked without storage, so that a refused message stores
 * nothing, not even bytes.
 * @throws InvalidNameError for a flag deliver() would refuse; RangeError for a queue entry that
 *   the store cannot hold.
 */
export function planAccept(input: AcceptInput, now = Date.now()): AcceptPlan {
  const mailboxIds = new Set<MailboxId>()
  const deliveries = input.deliveries.map(({ message, targets }) => {
    // One copy per mailbox: a mailbox named twice (two aliases reaching one account) gets the
    // message once, with the flags of its first mention.
    const unique = targets.filter(
      (target, index) => targets.findIndex((t) => t.mailboxId === target.mailboxId) === index,
    )
    for (const target of unique) mailboxIds.add(target.mailboxId)
    return {
      bytes: message.bytes,
      internalDate: (message.internalDate ?? new Date(now)).getTime(),
      targets: unique.map((target) => ({
        mailboxId: target.mailboxId,
        ...checkFlags(target.flags ?? []),
      })),
    }
  })
  if (input.queue !== null) checkQueueEntry(input.queue.entry)
  return {
    deliveries,
    queue: input.queue && { bytes: input.queue.message.bytes, entry: input.queue.entry },
    mailboxIds: [...mailboxIds].sort((a, b) => a - b),
  }
}

/** A queue attempt's outcomes and notices in stored form. */
export interface AttemptPlan {
  outcomes: Array<{
    id: number
    status: QueueRecipientOutcome['status']
    reply: string
    /** Milliseconds since the epoch; null once delivered or bounced. */
    nextAttemptAt: number | null
    delayNotified: boolean
    isAttempt: boolean
  }>
  notices: Array<{ bytes: Buffer; entry: NewQueueEntry }>
}

const OUTCOME_STATUSES: ReadonlySet<string> = new Set(['delivered', 'deferred', 'bounced'])

/**
 * Checks finishQueueAttempt's input before any storage is touched, the same for every backend.
 * @throws RangeError for an unknown status, a deferred outcome without its next attempt, a
 *   recipient named twice, a NUL in a reply, or a notice the queue cannot hold.
 */
export function planAttempt(attempt: QueueAttempt): AttemptPlan {
  const seen = new Set<number>()
  const outcomes = attempt.outcomes.map((outcome) => {
    if (!OUTCOME_STATUSES.has(outcome.status)) {
      throw new RangeError(`Cannot record queue status "${outcome.status}"`)
    }
    if (seen.has(outcome.id)) throw new RangeError(`Recipient ${outcome.id} is named twice`)
    seen.add(outcome.id)
    const next = outcome.nextAttemptAt?.getTime()
    if (outcome.status === 'deferred' && (next === undefined || Number.isNaN(next))) {
      throw new RangeError(`Deferred recipient ${outcome.id} needs its next attempt time`)
    }
    if (outcome.reply.includes('\u0000')) throw new RangeError('Cannot record a reply with NUL')
    return {
      id: outcome.id,
      status: outcome.status,
      reply: outcome.reply,
      nextAttemptAt: outcome.status === 'deferred' ? (next ?? null) : null,
      delayNotified: outcome.delayNotified ?? false,
      isAttempt: outcome.isAttempt ?? true,
    }
  })
  for (const notice of attempt.notices) checkQueueEntry(notice.entry)
  return {
    outcomes,
    notices: attempt.notices.map((notice) => ({
      bytes: notice.message.bytes,
      entry: notice.entry,
    })),
  }
}

function checkQueueEntry(entry: NewQueueEntry): void {
  const count = entry.recipients.length
  if (count === 0) throw new RangeError('Cannot queue a message without recipients')
  if (count > MAX_QUEUE_RECIPIENTS) {
    throw new RangeError(
      `Cannot queue ${count} recipients in one entry, the limit is ${MAX_QUEUE_RECIPIENTS}`,
    )
  }
  // PostgreSQL text cannot hold NUL, and no SMTP path, ORCPT, ENVID or reply may contain one
  // (RFC 5321 §4.1.2, RFC 3461 §4.2): refused alike by every backend.
  const texts = [entry.sender, entry.envelopeId]
  for (const recipient of entry.recipients) {
    texts.push(recipient.address, recipient.originalRecipient, recipient.lastReply ?? null)
    for (const value of recipient.notify ?? []) {
      if (!NOTIFY_VALUES.has(value)) {
        throw new RangeError(`Cannot queue NOTIFY value "${value}" for ${recipient.address}`)
      }
    }
  }
  if (texts.some((text) => text?.includes('\u0000'))) {
    throw new RangeError('Cannot queue an envelope that contains NUL')
  }
}

/** listQueue's page: after `afterId` (default 0), at most `limit` (default 1000) entries. */
export function queuePage(options: { afterId?: number; limit?: number } = {}): {
  afterId: number
  limit: number
} {
  const { afterId = 0, limit = 1000 } = options
  if (!Number.isSafeInteger(afterId)) throw new RangeError(`Queue id "${afterId}" is not an id`)
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`Cannot list "${limit}" queue entries, give a count`)
  }
  return { afterId, limit }
}
