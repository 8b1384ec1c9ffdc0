import type { NewMessage, NewQueueEntry, QueueEntry, QueueRecipient } from '../store/index.ts'
import { buildDsn, type DsnRecipient } from './dsn.ts'

// Which delivery status notifications one attempt owes the sender (RFC 3461 §6.2), built as
// queue entries from the null sender so that a notice never causes another (RFC 3461 §6.2,
// RFC 5321 §4.5.5).

export interface NoticeRecipient {
  recipient: QueueRecipient
  status: string
  remoteMta: string | null
  diagnostic: string | null
  /** Our own words when there is no remote reply (DNS failure, expiry…). */
  reply: string
  lastAttemptAt: Date
}

export interface NoticeInput {
  entry: QueueEntry
  hostname: string
  /** Given up on: a permanent failure, or the lifetime ran out. */
  failed: NoticeRecipient[]
  /** Still being retried, and due a delay notice; until when. */
  delayed: Array<NoticeRecipient & { retryUntil: Date }>
  /** Delivered, here or to a next hop that does not take DSN requests over. */
  succeeded: Array<NoticeRecipient & { action: 'delivered' | 'relayed' }>
  /** The original message as queued. */
  original(): Promise<Buffer>
}

export type Notice = { message: NewMessage; entry: NewQueueEntry }

export async function buildNotices(input: NoticeInput): Promise<Notice[]> {
  const { entry } = input
  if (entry.sender === '') return []
  // RFC 3461 §4.1: no NOTIFY means the MTA's choice, which for failures is always to tell.
  const failed = input.failed.filter(({ recipient }) => wants(recipient, 'failure', true))
  const succeeded = input.succeeded.filter(({ recipient }) => wants(recipient, 'success', false))
  const groups: Array<{ kind: 'failure' | 'delay' | 'success'; recipients: DsnRecipient[] }> = [
    {
      kind: 'failure',
      recipients: failed.map((r) => dsnRecipient(r, 'failed', null)),
    },
    {
      kind: 'delay',
      recipients: input.delayed.map((r) => dsnRecipient(r, 'delayed', r.retryUntil)),
    },
    {
      kind: 'success',
      recipients: succeeded.map((r) => dsnRecipient(r, r.action, null)),
    },
  ]
  const wanted = groups.filter((group) => group.recipients.length > 0)
  if (wanted.length === 0) return []
  const original = await input.original()
  return wanted.map((group) => {
    const bytes = buildDsn({
      reportingMta: input.hostname,
      kind: group.kind,
      to: entry.sender,
      envelopeId: entry.envelopeId,
      arrivalDate: entry.createdAt,
      recipients: group.recipients,
      original,
      // RFC 3461 §4.3: RET is about failure notices; the others carry the headers only.
      ret: group.kind === 'failure' ? entry.ret : 'hdrs',
      smtputf8: entry.smtputf8,
    })
    return {
      message: { bytes },
      entry: {
        sender: '',
        recipients: [{ address: entry.sender, originalRecipient: null, notify: null }],
        envelopeId: null,
        ret: null,
        body: bytes.some((octet: number) => octet > 0x7f) ? '8bitmime' : '7bit',
        smtputf8: entry.smtputf8,
        submittedBy: null,
      },
    }
  })
}

function wants(recipient: QueueRecipient, what: 'failure' | 'success', byDefault: boolean) {
  return recipient.notify === null ? byDefault : recipient.notify.includes(what)
}

function dsnRecipient(
  r: NoticeRecipient,
  action: DsnRecipient['action'],
  retryUntil: Date | null,
): DsnRecipient {
  return {
    address: r.recipient.address,
    originalRecipient: r.recipient.originalRecipient,
    action,
    status: r.status,
    remoteMta: r.remoteMta,
    diagnostic: r.diagnostic ?? r.reply,
    diagnosticType: r.diagnostic === null ? 'X-Postern' : 'smtp',
    lastAttemptAt: r.lastAttemptAt,
    willRetryUntil: retryUntil,
  }
}
