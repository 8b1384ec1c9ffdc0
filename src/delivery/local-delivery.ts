import type { LocalRecipient } from '../directory/index.ts'
import type {
  Account,
  DeliveryTarget,
  MailboxId,
  NewQueueRecipient,
  QueueEntryId,
  Store,
} from '../store/index.ts'
import type { Logger } from '../util/index.ts'
import type { Envelope } from './envelope.ts'

/** What became of an accepted message. */
export interface DeliveryOutcome {
  /** Mailbox copies stored. */
  stored: number
  /** The outbound queue entry holding remote (and deferred local) recipients, if any. */
  queueId: QueueEntryId | null
  /** Local accounts whose mailbox was full: queued as deferred, retried by the queue. */
  deferred: string[]
}

export interface Delivery {
  /**
   * Commits `message`, with `head` (its Received header and any fields submission added) in
   * front, for every recipient of the
   * envelope: local accounts get their own copy with Return-Path and Delivered-To in front;
   * remote recipients go into the outbound queue. Resolves only once everything is durably
   * committed (DESIGN.md invariant 1); a rejection means nothing was acknowledged.
   */
  deliver(envelope: Envelope, head: string, message: Buffer): Promise<DeliveryOutcome>
  /**
   * Files a message the outbound queue held for a local account (one that was over its quota):
   * `message` is the queued bytes, trace fields included; Return-Path and Delivered-To go in
   * front as for any local copy. 'over-quota' stores nothing.
   */
  deliverQueued(sender: string, account: Account, message: Buffer): Promise<'stored' | 'over-quota'>
}

/** Reply text a local recipient over its quota is queued with (RFC 3463 X.2.2 mailbox full). */
export const MAILBOX_FULL = '452 4.2.2 Mailbox full, delivery will be retried'

interface AccountDelivery {
  account: Account
  mailboxIds: Set<MailboxId>
  isOverQuota: boolean
}

export interface DeliveryOptions {
  /** Called after a commit that queued something, so the queue runner looks at once. */
  onQueued?: () => void
}

export function createDelivery(store: Store, log: Logger, options: DeliveryOptions = {}): Delivery {
  return {
    async deliver(envelope, head, message) {
      // Each stored form is built in one copy of the body: trace fields, then the message.
      let queued: Buffer | null = null
      const queueBytes = () => {
        queued ??= Buffer.concat([
          Buffer.from((envelope.forwardHead ?? '') + head, 'utf8'),
          message,
        ])
        return queued
      }
      const size = Buffer.byteLength(head) + message.length
      // Each account once, however many RCPTs or aliases reached it, and each mailbox of it once
      // (DESIGN: duplicate delivery through several aliases is suppressed).
      const accounts = new Map<number, AccountDelivery>()
      const remote = new Map<string, NewQueueRecipient>()
      for (const recipient of envelope.recipients) {
        const isQuarantined = envelope.quarantine?.has(recipient.address) === true
        for (const local of recipient.local) {
          let entry = accounts.get(local.account.id)
          if (entry === undefined) {
            entry = { account: local.account, mailboxIds: new Set(), isOverQuota: false }
            accounts.set(local.account.id, entry)
          }
          entry.mailboxIds.add(
            isQuarantined ? await junkMailbox(store, local) : await chooseMailbox(store, local),
          )
        }
        for (const address of recipient.remote) {
          if (remote.has(address)) continue
          remote.set(address, {
            address,
            originalRecipient:
              recipient.originalRecipient ??
              (address === recipient.address ? null : `rfc822;${recipient.address}`),
            notify: recipient.notify,
          })
        }
      }

      const targets: DeliveryTarget[] = []
      const storable: AccountDelivery[] = []
      for (const entry of accounts.values()) {
        // Checked for every mailbox the account is filed into, as the store checks each target.
        entry.isOverQuota = await isOverQuota(store, entry.account, size, entry.mailboxIds.size)
        if (entry.isOverQuota) continue
        storable.push(entry)
        for (const mailboxId of entry.mailboxIds) targets.push({ mailboxId })
      }
      const deferred = [...accounts.values()].filter((entry) => entry.isOverQuota)
      const queueRecipients: NewQueueRecipient[] = [
        ...remote.values(),
        ...deferred.map((entry) => deferredRecipient(entry.account)),
      ]

      // The bytes are stored once, whatever the number of accounts (DESIGN.md invariant 5):
      // Delivered-To names the account when there is one, and is left out of a copy that
      // several accounts share.
      const only = storable.length === 1 ? storable[0] : undefined
      const localBytes = localCopy(envelope.sender, only?.account.address ?? null, head, message)
      const result = await store.acceptMessage({
        deliveries: targets.length === 0 ? [] : [{ message: { bytes: localBytes }, targets }],
        queue:
          queueRecipients.length === 0
            ? null
            : { message: { bytes: queueBytes() }, entry: queueEntry(envelope, queueRecipients) },
      })
      const outcomes = result.deliveries[0] ?? []
      const stored = outcomes.filter((outcome) => outcome.status === 'stored').length
      const storedIn = new Set(
        outcomes.flatMap((outcome) => (outcome.status === 'stored' ? [outcome.mailboxId] : [])),
      )
      // A concurrent delivery filled a mailbox between the check and the commit. An account
      // that got the message in none of its mailboxes is queued for a retry rather than lost;
      // one that got it in some has it. The client has not had its 250 yet, so a failure here
      // still means 451 (and a retry that may duplicate the copies already stored: rare, and
      // never a loss).
      const lateFull = storable
        .filter((entry) => ![...entry.mailboxIds].some((id) => storedIn.has(id)))
        .map((entry) => entry.account)
      let queueId = result.queued?.id ?? null
      if (lateFull.length > 0) {
        const late = await store.acceptMessage({
          deliveries: [],
          queue: {
            message: { bytes: queueBytes() },
            entry: queueEntry(envelope, lateFull.map(deferredRecipient)),
          },
        })
        queueId ??= late.queued?.id ?? null
      }
      const deferredAddresses = [...deferred, ...lateFull.map((account) => ({ account }))].map(
        (entry) => entry.account.address,
      )
      if (deferredAddresses.length > 0) {
        log.warn(
          { recipients: deferredAddresses, queueId },
          'mailbox over quota, message queued for a later retry',
        )
      }
      if (queueId !== null) options.onQueued?.()
      return { stored, queueId, deferred: deferredAddresses }
    },

    async deliverQueued(sender, account, message) {
      const mailboxId = await chooseMailbox(store, { account, tag: null })
      if (await isOverQuota(store, account, message.length, 1)) return 'over-quota'
      const bytes = localCopy(sender, account.address, '', message)
      const [result] = await store.deliver({ bytes }, [{ mailboxId }])
      return result?.status === 'stored' ? 'stored' : 'over-quota'
    },
  }
}

/**
 * INBOX, or the mailbox a subaddress tag names when the account has one by that name ("user+lists"
 * files into "lists" or "Lists"); a tag naming nothing falls back to INBOX, like Dovecot's
 * lda_mailbox_autocreate = no.
 */
async function chooseMailbox(store: Store, local: LocalRecipient): Promise<MailboxId> {
  const accountId = local.account.id
  if (local.tag !== null) {
    const exact = await store.getMailbox(accountId, local.tag)
    if (exact !== null) return exact.id
    const folded = local.tag.toLowerCase()
    const mailboxes = await store.listMailboxes(accountId)
    const match = mailboxes.find((mailbox) => mailbox.name.toLowerCase() === folded)
    if (match !== undefined) return match.id
  }
  const inbox = await store.getMailbox(accountId, 'INBOX')
  if (inbox === null) throw new Error(`Account ${local.account.address} has no INBOX`)
  return inbox.id
}

/** The account's Junk mailbox (RFC 6154 \Junk), or INBOX for an account that has none. */
async function junkMailbox(store: Store, local: LocalRecipient): Promise<MailboxId> {
  const mailboxes = await store.listMailboxes(local.account.id)
  const junk = mailboxes.find((mailbox) => mailbox.role === 'junk')
  return junk?.id ?? chooseMailbox(store, { account: local.account, tag: null })
}

/**
 * Whether `copies` more messages of `size` octets would pass the account's quota. RCPT asks
 * with one octet and one copy: is the account full already?
 */
export async function isOverQuota(
  store: Store,
  account: Account,
  size: number,
  copies: number,
): Promise<boolean> {
  if (account.quota.storage === null && account.quota.messages === null) return false
  const usage = await store.getQuotaUsage(account.id)
  const storage =
    usage.storage.limit !== null && usage.storage.used + size * copies > usage.storage.limit
  const messages =
    usage.messages.limit !== null && usage.messages.used + copies > usage.messages.limit
  return storage || messages
}

/**
 * The stored copy: Return-Path (RFC 5321 §4.4: added by the delivering server), Delivered-To
 * when one account gets it (the final address, which Postfix and Dovecot also add and use to
 * catch loops), the trace fields, then the message.
 */
function localCopy(sender: string, address: string | null, trace: string, message: Buffer): Buffer {
  const head = `Return-Path: <${sender}>\r\n${address === null ? '' : `Delivered-To: ${address}\r\n`}`
  return Buffer.concat([Buffer.from(head + trace, 'utf8'), message])
}

function deferredRecipient(account: Account): NewQueueRecipient {
  return {
    address: account.address,
    originalRecipient: null,
    notify: null,
    lastReply: MAILBOX_FULL,
  }
}

function queueEntry(envelope: Envelope, recipients: NewQueueRecipient[]) {
  return {
    sender: envelope.sender,
    recipients,
    envelopeId: envelope.envelopeId,
    ret: envelope.ret,
    body: envelope.body,
    smtputf8: envelope.smtputf8,
    submittedBy: envelope.submittedBy,
  }
}
