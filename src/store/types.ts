import type { Envelope, PartStructure } from '../mime/index.ts'
import type { BlobId } from './blob-store.ts'

// The Store interface: what protocols and services may ask of the mail store. Every backend
// (store/sqlite, store/postgres) implements it unchanged and passes store/contract. Everything
// is async, so a backend may be a network database; nothing here assumes a single process.
//
// Identifiers are positive integers. Names and addresses are stored exactly as given: putting
// them in canonical form (lower-case domains, IDN as A-labels) is src/directory's job.

export type AccountId = number
export type MailboxId = number

/** Inclusive UID ranges, e.g. [[1, 5], [9, 9]]. Order and overlap do not matter. */
export type UidRanges = ReadonlyArray<readonly [number, number]>

/** IMAP system flags (RFC 9051 §2.3.2) the store keeps; any other flag is a keyword. */
export const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const
export type SystemFlag = (typeof SYSTEM_FLAGS)[number]

/** The special-use roles of RFC 6154 §2 (plus the inbox) that every new account gets. */
export const MAILBOX_ROLES = ['inbox', 'sent', 'drafts', 'trash', 'junk', 'archive'] as const
export type MailboxRole = (typeof MAILBOX_ROLES)[number]

export interface Domain {
  name: string
  createdAt: Date
}

export interface QuotaLimits {
  /** Octets of all messages in all of the account's mailboxes; null: no limit. */
  storage: number | null
  /** Messages in all mailboxes; null: no limit. */
  messages: number | null
}

export interface Account {
  id: AccountId
  address: string
  domain: string
  quota: QuotaLimits
  createdAt: Date
}

/** What logging in needs; the password itself is never stored (src/auth). */
export interface AccountCredentials {
  /** A PHC string (argon2id). */
  passwordHash: string
  /** SCRAM-SHA-256 stored key, server key, salt and iterations, in src/auth's text form. */
  scramSha256: string
  /**
   * The shared secret of POP3 APOP (RFC 1939 §7), kept readable because APOP needs it; null
   * unless the operator turned APOP on when the password was set.
   */
  apopSecret?: string | null
}

/** One alias source and its targets. A source of "@domain" is that domain's catch-all. */
export interface Alias {
  source: string
  targets: string[]
}

export interface Mailbox {
  id: MailboxId
  accountId: AccountId
  /** The full name, hierarchy separated by '/'; "INBOX" is always spelt so. */
  name: string
  role: MailboxRole | null
  uidValidity: number
}

/** A mailbox's counters, all kept up to date by the store in the same transaction as the change. */
export interface MailboxStatus extends Mailbox {
  uidNext: number
  /** RFC 7162 HIGHESTMODSEQ; 1 for a new mailbox, which no change has touched. */
  highestModseq: number
  messages: number
  unseen: number
  deleted: number
  /** Sum of message sizes, octets (RFC 9051 STATUS SIZE). */
  size: number
}

/** What SELECT needs per message. */
export interface MessageSummary {
  uid: number
  modseq: number
  /**
   * System flags first in SYSTEM_FLAGS order, then keywords in the order they were set. Lists
   * may be shared between messages, hence read-only.
   */
  flags: readonly string[]
}

/** The mailbox as SELECT sees it: its status and every message, in UID order. */
export interface MailboxSnapshot {
  status: MailboxStatus
  messages: MessageSummary[]
}

export interface MessageRecord extends MessageSummary {
  blobId: BlobId
  size: number
  /**
   * Octets of the message as POP3 sends it (src/mime crlfSize: bare LF counted as CRLF, a final
   * CRLF added); null for messages stored before this schema version, whose reader computes it
   * from the bytes.
   */
  crlfSize: number | null
  internalDate: Date
}

/** Parsed once when the bytes are first stored, so FETCH and SEARCH never parse again. */
export interface MessageMetadata {
  envelope: Envelope
  structure: PartStructure
  /** The Date header's time (SEARCH SENTBEFORE…), null when missing or unreadable. */
  sentDate: Date | null
}

export interface QuotaUsage {
  storage: { used: number; limit: number | null }
  messages: { used: number; limit: number | null }
}

export interface NewMessage {
  /** The message exactly as received; stored byte for byte. */
  bytes: Buffer
  /** IMAP INTERNALDATE; defaults to now. */
  internalDate?: Date
}

export interface DeliveryTarget {
  mailboxId: MailboxId
  flags?: readonly string[]
}

export type DeliveryResult =
  | { mailboxId: MailboxId; status: 'stored'; uid: number; uidValidity: number; modseq: number }
  | { mailboxId: MailboxId; status: 'over-quota'; resource: 'storage' | 'messages' }

export type FlagAction = 'add' | 'remove' | 'replace'

export interface StoreFlagsResult {
  /** Messages whose flags changed, with their new state and MODSEQ. */
  changed: MessageSummary[]
  /** UIDs not changed because their MODSEQ was above UNCHANGEDSINCE (RFC 7162 §3.1.3). */
  modified: number[]
}

export interface CopyResult {
  /** The destination's UIDVALIDITY, for COPYUID (RFC 4315). */
  uidValidity: number
  /** Source UID → destination UID, in source UID order. */
  uids: Array<[number, number]>
}

/** Changes with MODSEQ above some value: what CONDSTORE/QRESYNC resynchronisation needs. */
export interface MailboxChanges {
  /** Present messages whose MODSEQ is above the value (new or flags changed), in UID order. */
  changed: MessageSummary[]
  /** Messages expunged with a MODSEQ above the value (QRESYNC VANISHED), in UID order. */
  expunged: Array<{ uid: number; modseq: number }>
  highestModseq: number
}

/**
 * One event of a mailbox's change feed. Each batch of changes arrives as expunges and flag
 * changes in MODSEQ order, then additions in UID order, so that a session numbering messages
 * as they are announced keeps sequence numbers in UID order (RFC 9051 §2.3.1.2).
 */
export type MailboxEvent =
  | { type: 'added'; message: MessageSummary }
  | { type: 'flags'; message: MessageSummary }
  | { type: 'expunged'; uid: number; modseq: number }
  /** The mailbox was deleted; the subscription ends. */
  | { type: 'gone' }

/** What lockMailbox answers; see there. */
export type MailboxLockResult = 'locked' | 'in-use' | 'too-soon' | 'lost'

export interface MailboxWatch {
  stop(): void
}

export interface TextQuery {
  /** "body", "text" (header and body), or a header field name in lower case ("subject"…). */
  field: string
  /** Matched as a case-insensitive substring, as IMAP SEARCH does (RFC 9051 §6.4.4). */
  value: string
}

/** A queue entry's id: ascending, never reused (it names the entry in logs and replies). */
export type QueueEntryId = number
export type QueueRecipientStatus = 'pending' | 'deferred' | 'delivered' | 'bounced'
/** RFC 3461 §4.1 NOTIFY values other than NEVER (NEVER is the empty list). */
export type DsnNotify = 'success' | 'failure' | 'delay'

export interface NewQueueRecipient {
  /** The forward-path mailbox as it will be relayed (a local address for a deferred local delivery). */
  address: string
  /** RFC 3461 §4.2 ORCPT as received, e.g. "rfc822;user@example.org", or null. */
  originalRecipient: string | null
  /** RFC 3461 §4.1 NOTIFY; null when the client gave none; [] for NEVER. */
  notify: DsnNotify[] | null
  /**
   * A recipient that starts deferred (e.g. a local mailbox over quota) carries the reply so far;
   * it then has status 'deferred', one attempt made (at the entry's createdAt). Otherwise it is
   * 'pending' with no attempt. Either way it is due at once: when to retry is the queue's
   * policy, not the store's.
   */
  lastReply?: string
}

export interface NewQueueEntry {
  /** The reverse-path; '' for the null sender <>. */
  sender: string
  /** At least one and at most MAX_QUEUE_RECIPIENTS, kept in this order. */
  recipients: readonly NewQueueRecipient[]
  /** RFC 3461 §4.4 ENVID (xtext-decoded), or null. */
  envelopeId: string | null
  /** RFC 3461 §4.3 RET, or null. */
  ret: 'full' | 'hdrs' | null
  /** RFC 6152 / RFC 3030 BODY= */
  body: '7bit' | '8bitmime' | 'binarymime'
  /** RFC 6531: the message needs SMTPUTF8 end to end. */
  smtputf8: boolean
  /** The authenticated account that submitted it; null for mail that arrived over MX. */
  submittedBy: AccountId | null
}

export interface QueueRecipient {
  id: number
  address: string
  originalRecipient: string | null
  notify: DsnNotify[] | null
  status: QueueRecipientStatus
  attempts: number
  /** When the next attempt is due; null once delivered or bounced. */
  nextAttemptAt: Date | null
  lastAttemptAt: Date | null
  lastReply: string | null
  /** Whether the sender has been told that this recipient is delayed (RFC 3464 Action: delayed). */
  delayNotified: boolean
}

export interface QueueEntry {
  id: QueueEntryId
  blobId: BlobId
  size: number
  sender: string
  envelopeId: string | null
  ret: 'full' | 'hdrs' | null
  body: '7bit' | '8bitmime' | 'binarymime'
  smtputf8: boolean
  /**
   * As given, and kept when that account is removed later: the entry still goes out, and account
   * ids are never reused, so the number cannot come to name someone else.
   */
  submittedBy: AccountId | null
  createdAt: Date
  /** In the order they were given. */
  recipients: QueueRecipient[]
}

/** Due recipients of one entry, leased to the claimant until the lease runs out. */
export interface QueueClaim {
  entry: QueueEntry
  /** The claimed recipients' ids, in the entry's order. */
  recipientIds: number[]
}

/** What became of one claimed recipient after a delivery attempt. */
export interface QueueRecipientOutcome {
  id: number
  status: 'delivered' | 'deferred' | 'bounced'
  /** The reply (or the reason) to show in `postern queue show` and in notices. */
  reply: string
  /** When a deferred recipient is next due. */
  nextAttemptAt?: Date
  /** Set once a delay notice for this recipient is part of the same call's notices. */
  delayNotified?: boolean
  /** Whether this outcome counts as an attempt (false for one that was never tried). Default true. */
  isAttempt?: boolean
}

export interface QueueAttempt {
  entryId: QueueEntryId
  /** The claimant; only recipients whose lease it still holds are changed. */
  owner: string
  outcomes: readonly QueueRecipientOutcome[]
  /** Delivery status notifications to queue in the same transaction (bounces, delay notices). */
  notices: ReadonlyArray<{ message: NewMessage; entry: NewQueueEntry }>
}

export interface QueueAttemptResult {
  /** The entry is gone: every recipient was delivered or bounced (or it had been removed). */
  removed: boolean
  /** Outcomes not applied because the lease was lost (expired and claimed again, or released). */
  stale: number[]
  notices: QueueEntry[]
}

export interface AcceptInput {
  /**
   * Local deliveries; each has its own bytes (per-recipient headers such as Delivered-To make
   * them differ). Two deliveries may name the same mailbox: each files its own message there.
   */
  deliveries: ReadonlyArray<{ message: NewMessage; targets: readonly DeliveryTarget[] }>
  /**
   * The outbound queue entry, if any recipient is remote (or deferred). The message's
   * internalDate is not used: the entry has its own createdAt.
   */
  queue: { message: NewMessage; entry: NewQueueEntry } | null
}

export interface AcceptResult {
  /** One result list per delivery, in the order given, as deliver() returns it. */
  deliveries: DeliveryResult[][]
  queued: QueueEntry | null
}

export interface Store {
  // Directory data (src/directory puts names in canonical form and decides what they mean).
  addDomain(name: string): Promise<Domain>
  /** @throws NotFoundError; ConflictError while accounts or aliases of the domain remain. */
  removeDomain(name: string): Promise<void>
  listDomains(): Promise<Domain[]>
  getDomain(name: string): Promise<Domain | null>

  /**
   * Creates the account and, in the same transaction, its INBOX and the special-use mailboxes
   * (Sent, Drafts, Trash, Junk, Archive), subscribed.
   * @throws NotFoundError for an unknown domain; ConflictError when the address is taken by an
   *   account or an alias.
   */
  addAccount(input: {
    address: string
    domain: string
    credentials: AccountCredentials
    quota?: Partial<QuotaLimits>
  }): Promise<Account>
  /**
   * Removes the account with its mailboxes and messages. Queue entries it submitted stay and
   * still go out. @throws NotFoundError
   */
  removeAccount(address: string): Promise<void>
  getAccount(address: string): Promise<Account | null>
  getAccountById(id: AccountId): Promise<Account | null>
  /** In address order; only the domain's when one is given. */
  listAccounts(domain?: string): Promise<Account[]>
  getCredentials(address: string): Promise<AccountCredentials | null>
  /** @throws NotFoundError */
  setCredentials(address: string, credentials: AccountCredentials): Promise<void>
  /** @throws NotFoundError */
  setQuota(address: string, quota: Partial<QuotaLimits>): Promise<void>
  getQuotaUsage(accountId: AccountId): Promise<QuotaUsage>

  /**
   * Adds targets to an alias source ("user@domain" or "@domain"). @throws NotFoundError for an
   * unknown domain; ConflictError when the source is an account's address.
   */
  addAlias(source: string, targets: readonly string[]): Promise<Alias>
  /** Removes the given targets, or the whole alias without them. @throws NotFoundError */
  removeAlias(source: string, targets?: readonly string[]): Promise<void>
  getAlias(source: string): Promise<Alias | null>
  listAliases(domain?: string): Promise<Alias[]>

  // Mailboxes.
  listMailboxes(accountId: AccountId): Promise<Mailbox[]>
  getMailbox(accountId: AccountId, name: string): Promise<Mailbox | null>
  /**
   * Any account's mailbox: ids are global. A protocol must compare `accountId` with the
   * session's account before using it (only names looked up per account are safe as they are).
   */
  getMailboxById(id: MailboxId): Promise<Mailbox | null>
  /**
   * Creates the mailbox and any missing parents. Names are checked by checkMailboxName.
   * @throws InvalidNameError; ConflictError when it exists or the role is taken.
   */
  createMailbox(
    accountId: AccountId,
    name: string,
    options?: { role?: MailboxRole },
  ): Promise<Mailbox>
  /**
   * Deletes the mailbox and its messages.
   * @throws NotFoundError; ConflictError for INBOX or a mailbox that has children.
   */
  deleteMailbox(mailboxId: MailboxId): Promise<void>
  /**
   * Renames the mailbox and its children (their UIDVALIDITY stays). Renaming INBOX moves its
   * messages to a new mailbox of that name and leaves INBOX empty (RFC 9051 §6.3.6).
   * @throws NotFoundError; ConflictError when the new name exists; InvalidNameError
   */
  renameMailbox(mailboxId: MailboxId, newName: string): Promise<Mailbox>
  /** Subscriptions are names, kept even when the mailbox is deleted (RFC 9051 §6.3.7). */
  setSubscribed(accountId: AccountId, name: string, subscribed: boolean): Promise<void>
  listSubscriptions(accountId: AccountId): Promise<string[]>
  /** @throws NotFoundError */
  getMailboxStatus(mailboxId: MailboxId): Promise<MailboxStatus>
  /** @throws NotFoundError */
  openMailbox(mailboxId: MailboxId): Promise<MailboxSnapshot>
  /**
   * Takes the mailbox's lock for `holder` until now + leaseMs, or extends it when `holder` has it
   * already: POP3's exclusive maildrop (RFC 1939 §8), held across processes and nodes.
   * 'in-use': another holder's lease is still live (an expired one is taken over); this answer
   * comes before 'too-soon'.
   * 'too-soon': minIntervalMs is given and the lock was last taken (by any holder, released or
   * not) less than minIntervalMs ago (RFC 2449 LOGIN-DELAY); nothing changes then. Extending
   * one's own live lock never answers 'too-soon' and does not change when it was taken.
   * With `renew`, only `holder`'s live lock is extended; anything else answers 'lost' and
   * changes nothing, so a holder whose lease lapsed (and whom another may have followed) learns
   * it instead of silently taking the lock again. Leases are timed by the database's clock where
   * there is one, so nodes need not agree on the time.
   * @throws NotFoundError for a mailbox that does not exist
   */
  lockMailbox(
    mailboxId: MailboxId,
    options: { holder: string; leaseMs: number; minIntervalMs?: number; renew?: boolean },
  ): Promise<MailboxLockResult>
  /** Releases the lock if `holder` has it (live or expired); when it was taken is kept. */
  unlockMailbox(mailboxId: MailboxId, holder: string): Promise<void>

  // Messages.
  /**
   * Stores the bytes once and files them into every target in one transaction: after a crash,
   * all targets have the message or none has. A target over its account's quota is reported
   * and skipped; the others are stored. A mailbox named twice gets one copy (one result).
   * @throws NotFoundError when a target mailbox does not exist (then nothing is stored).
   */
  deliver(message: NewMessage, targets: readonly DeliveryTarget[]): Promise<DeliveryResult[]>
  /**
   * Commits one received message in ONE transaction: every delivery's bytes stored and filed
   * into its targets (exactly as deliver(): over-quota targets reported and skipped, a mailbox
   * named twice in one delivery gets one copy), and the queue entry (if any) with its bytes.
   * After a crash all of it exists or none of it. Blobs are written (and made durable) before the
   * transaction commits, as deliver() does. deliver() is the case of one delivery and no queue.
   * @throws NotFoundError when a target mailbox does not exist (then nothing is stored);
   *   InvalidNameError for a flag deliver() would refuse; RangeError for a queue entry with no
   *   recipients, more than MAX_QUEUE_RECIPIENTS, a NOTIFY value outside DsnNotify, or a NUL in
   *   any of its text (nothing is stored then either).
   */
  acceptMessage(input: AcceptInput): Promise<AcceptResult>
  /**
   * Claims due recipients (pending or deferred, next attempt reached, no live lease) for `owner`
   * until now + leaseMs, at most `limit` recipients, oldest due first. Two claimants, in this
   * process or on other nodes, never hold the same recipient at once; a lease that runs out (its
   * holder died) makes the recipient claimable again.
   */
  claimQueue(options: { owner: string; leaseMs: number; limit: number }): Promise<QueueClaim[]>
  /** Extends every lease `owner` holds to now + leaseMs; returns how many. */
  renewQueueLeases(owner: string, leaseMs: number): Promise<number>
  /** Drops every lease `owner` holds (at start after a crash, and at shutdown); returns how many. */
  releaseQueueLeases(owner: string): Promise<number>
  /**
   * Records an attempt's outcomes in one transaction with its notices. Attempts count up, the
   * lease is released; the entry is removed once no recipient is pending or deferred.
   * @throws RangeError for an outcome naming a recipient of another entry, or a deferred one
   *   without nextAttemptAt
   */
  finishQueueAttempt(attempt: QueueAttempt): Promise<QueueAttemptResult>
  /**
   * Makes the pending and deferred recipients of one entry (or all) due now; returns how many.
   * @throws NotFoundError for an id that does not exist
   */
  rescheduleQueue(id?: QueueEntryId): Promise<number>
  /** When the next recipient becomes claimable (due and unleased), or null when none waits. */
  nextQueueAttemptAt(): Promise<Date | null>
  /** Queue entries in id order, at most `limit` (default 1000) after `afterId`. */
  listQueue(options?: { afterId?: QueueEntryId; limit?: number }): Promise<QueueEntry[]>
  getQueueEntry(id: QueueEntryId): Promise<QueueEntry | null>
  /**
   * Removes the entry and its recipients; its bytes go when nothing else refers to them.
   * @throws NotFoundError
   */
  removeQueueEntry(id: QueueEntryId): Promise<void>
  /** The messages with these UIDs that exist, in UID order. */
  getMessages(mailboxId: MailboxId, uids: UidRanges): Promise<MessageRecord[]>
  /** @throws NotFoundError */
  getMetadata(blobId: BlobId): Promise<MessageMetadata>
  /** Octets [start, end) of a message, streamed. */
  readMessage(blobId: BlobId, start?: number, end?: number): AsyncIterable<Buffer>
  /**
   * Changes flags of the messages with these UIDs. Each changed message gets the same new MODSEQ;
   * a message whose MODSEQ is above `unchangedSince` is left alone and reported as modified.
   */
  storeFlags(
    mailboxId: MailboxId,
    uids: UidRanges,
    action: FlagAction,
    flags: readonly string[],
    options?: { unchangedSince?: number },
  ): Promise<StoreFlagsResult>
  /**
   * Removes messages flagged \Deleted (only those among `uids` when given) and returns their
   * UIDs, ascending. The expunge is remembered with its MODSEQ for QRESYNC.
   */
  expunge(mailboxId: MailboxId, uids?: UidRanges): Promise<number[]>
  /**
   * Removes the messages with these UIDs whatever their flags, in one transaction (POP3 DELE,
   * applied at QUIT), remembered as expunged with a new MODSEQ exactly as expunge() does, and
   * change-feed watchers are told. With `lockHolder`, nothing is removed unless that holder's
   * lock on the mailbox is live at that moment; the result is then null.
   * @returns the UIDs removed, ascending (ones already gone are skipped)
   * @throws NotFoundError for a mailbox that does not exist
   */
  deleteMessages(
    mailboxId: MailboxId,
    uids: UidRanges,
    options?: { lockHolder?: string },
  ): Promise<number[] | null>
  /** Copies share the stored bytes. Counted against the destination account's quota. */
  copyMessages(from: MailboxId, uids: UidRanges, to: MailboxId): Promise<CopyResult>
  /** Copy and expunge from the source in one transaction (RFC 6851). */
  moveMessages(from: MailboxId, uids: UidRanges, to: MailboxId): Promise<CopyResult>
  /** @throws NotFoundError */
  changesSince(mailboxId: MailboxId, modseq: number): Promise<MailboxChanges>
  /** UIDs of messages among `uids` (all when absent) whose text matches every query. */
  searchText(
    mailboxId: MailboxId,
    queries: readonly TextQuery[],
    uids?: UidRanges,
  ): Promise<number[]>

  /**
   * Follows a mailbox's changes after `since` (a snapshot's HIGHESTMODSEQ and UIDNEXT),
   * including changes made by other processes or nodes, ordered as MailboxEvent says. A message
   * at or above the UIDNEXT seen so far is reported as added, others as flag changes; an expunge
   * of a message never reported is not reported either.
   */
  watchMailbox(
    mailboxId: MailboxId,
    since: { modseq: number; uidNext: number },
    listener: (event: MailboxEvent) => void,
  ): MailboxWatch

  close(): Promise<void>
}
