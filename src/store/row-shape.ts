import { flagList } from './names.ts'
import {
  type Account,
  type Domain,
  type DsnNotify,
  MAILBOX_ROLES,
  type Mailbox,
  type MailboxRole,
  type MailboxStatus,
  type MessageMetadata,
  type MessageRecord,
  type MessageSummary,
  type QueueEntry,
  type QueueRecipient,
  type QueueRecipientStatus,
} from './types.ts'

// What the backends share of their row shapes: both schemas name their columns alike, so the
// mapping from a row to the Store interface's objects is written once.

export type Row = Record<string, unknown>

/** The mailboxes every new account gets, with their RFC 6154 roles, subscribed. */
export const DEFAULT_MAILBOXES: ReadonlyArray<[string, MailboxRole]> = MAILBOX_ROLES.map((role) => [
  role === 'inbox' ? 'INBOX' : role[0]?.toUpperCase() + role.slice(1),
  role,
])

export const ACCOUNT_COLUMNS = 'id, address, domain, quota_storage, quota_messages, created_at'

export const MAILBOX_COLUMNS = `id, account_id, name, role, uid_validity, uid_next,
  highest_modseq, messages, unseen, deleted, size`

export function toDomain(row: Row): Domain {
  return { name: String(row.name), createdAt: new Date(Number(row.created_at)) }
}

export function toAccount(row: Row): Account {
  return {
    id: Number(row.id),
    address: String(row.address),
    domain: String(row.domain),
    quota: {
      storage: row.quota_storage === null ? null : Number(row.quota_storage),
      messages: row.quota_messages === null ? null : Number(row.quota_messages),
    },
    createdAt: new Date(Number(row.created_at)),
  }
}

export function toMailbox(row: Row): Mailbox {
  return {
    id: Number(row.id),
    accountId: Number(row.account_id),
    name: String(row.name),
    role: row.role === null ? null : (String(row.role) as MailboxRole),
    uidValidity: Number(row.uid_validity),
  }
}

export function toStatus(row: Row): MailboxStatus {
  return {
    ...toMailbox(row),
    uidNext: Number(row.uid_next),
    highestModseq: Number(row.highest_modseq),
    messages: Number(row.messages),
    unseen: Number(row.unseen),
    deleted: Number(row.deleted),
    size: Number(row.size),
  }
}

/** Keywords are stored as a JSON array, or NULL when there are none (most messages). */
export function parseKeywords(value: unknown): string[] {
  return typeof value === 'string' ? (JSON.parse(value) as string[]) : []
}

export function formatKeywords(keywords: readonly string[]): string | null {
  return keywords.length === 0 ? null : JSON.stringify(keywords)
}

export function toSummary(row: Row): MessageSummary {
  return {
    uid: Number(row.uid),
    modseq: Number(row.modseq),
    flags: flagList(Number(row.flags), parseKeywords(row.keywords)),
  }
}

/** A message row joined with its blob's blob_id and crlf_size (NULL for bytes stored earlier). */
export function toRecord(row: Row): MessageRecord {
  return {
    ...toSummary(row),
    blobId: String(row.blob_id),
    size: Number(row.size),
    crlfSize: row.crlf_size === null || row.crlf_size === undefined ? null : Number(row.crlf_size),
    internalDate: new Date(Number(row.internal_date)),
  }
}

/** A row of (uid, modseq, flags, keywords) read as an array, the fastest way to read many. */
export function arrayToSummary(row: readonly unknown[]): MessageSummary {
  const keywords = row[3]
  return {
    uid: Number(row[0]),
    modseq: Number(row[1]),
    flags: flagList(Number(row[2]), keywords === null ? [] : parseKeywords(keywords)),
  }
}

/** Stored metadata (JSON) back to objects: the sent date was written as an ISO string. */
export function parseMetadata(json: string): MessageMetadata {
  const parsed = JSON.parse(json) as MessageMetadata & { sentDate: string | null }
  return { ...parsed, sentDate: parsed.sentDate === null ? null : new Date(parsed.sentDate) }
}

/** A queue entry's columns; the query joins `queue_entries q` with `blobs b` on the blob. */
export const QUEUE_ENTRY_COLUMNS = `q.id, b.blob_id, q.size, q.sender, q.envid, q.ret, q.body,
  q.smtputf8, q.submitted_by, q.created_at`

export const QUEUE_RECIPIENT_COLUMNS = `id, entry_id, address, orcpt, notify, status, attempts,
  next_attempt_at, last_attempt_at, last_reply, delay_notified`

/**
 * NOTIFY as stored: its RFC 3461 §4.1 wire form in upper case ("NEVER", "SUCCESS,DELAY"), so
 * that an operator reading the table sees what the client sent; NULL when it sent none.
 */
export function formatNotify(notify: readonly DsnNotify[] | null): string | null {
  if (notify === null) return null
  return notify.length === 0 ? 'NEVER' : notify.join(',').toUpperCase()
}

export function parseNotify(value: unknown): DsnNotify[] | null {
  if (value === null || value === undefined) return null
  const text = String(value)
  return text === 'NEVER' ? [] : (text.toLowerCase().split(',') as DsnNotify[])
}

function toDate(value: unknown): Date | null {
  return value === null || value === undefined ? null : new Date(Number(value))
}

function toQueueRecipient(row: Row): QueueRecipient {
  return {
    id: Number(row.id),
    address: String(row.address),
    originalRecipient: row.orcpt === null ? null : String(row.orcpt),
    notify: parseNotify(row.notify),
    status: String(row.status) as QueueRecipientStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: toDate(row.next_attempt_at),
    lastAttemptAt: toDate(row.last_attempt_at),
    lastReply: row.last_reply === null ? null : String(row.last_reply),
    delayNotified: Boolean(row.delay_notified),
  }
}

/**
 * Entries (rows of QUEUE_ENTRY_COLUMNS) with their recipients (rows of QUEUE_RECIPIENT_COLUMNS
 * ordered by position), each recipient given to the entry its entry_id names.
 */
export function toQueueEntries(
  entryRows: readonly Row[],
  recipientRows: readonly Row[],
): QueueEntry[] {
  const entries: QueueEntry[] = entryRows.map((row) => ({
    id: Number(row.id),
    blobId: String(row.blob_id),
    size: Number(row.size),
    sender: String(row.sender),
    envelopeId: row.envid === null ? null : String(row.envid),
    ret: row.ret === null ? null : (String(row.ret) as 'full' | 'hdrs'),
    body: String(row.body) as QueueEntry['body'],
    // SQLite keeps booleans as 0 and 1, PostgreSQL as booleans.
    smtputf8: Boolean(row.smtputf8),
    submittedBy: row.submitted_by === null ? null : Number(row.submitted_by),
    createdAt: new Date(Number(row.created_at)),
    recipients: [],
  }))
  const byId = new Map(entries.map((entry) => [entry.id, entry]))
  for (const row of recipientRows) {
    byId.get(Number(row.entry_id))?.recipients.push(toQueueRecipient(row))
  }
  return entries
}
