import {
  applyFlags,
  checkFlags,
  type DeliveryResult,
  type FlagAction,
  flagList,
  type MailboxChanges,
  type MessageDescription,
  type MessageRecord,
  NotFoundError,
  normalizeRanges,
  QuotaExceededError,
  type StoreFlagsResult,
  shape,
  systemFlagBit,
  type UidRanges,
} from '../index.ts'
import type { Connection, Row } from './connection.ts'
import { holdsLock } from './mailbox-locks.ts'
import { mailboxRow } from './mailbox-rows.ts'

const DELETED = systemFlagBit('\\Deleted')

/** Rows of `sql` (which ends in `uid BETWEEN ? AND ?`) for each range, in UID order. */
function rowsInRanges(c: Connection, sql: string, mailboxId: number, ranges: UidRanges): Row[] {
  const rows: Row[] = []
  for (const [low, high] of normalizeRanges(ranges)) {
    for (const row of c.all(`${sql} ORDER BY uid`, mailboxId, low, high)) rows.push(row)
  }
  return rows
}

/** Takes the next MODSEQ of a mailbox; the caller holds a write transaction. */
function nextModseq(c: Connection, mailboxId: number): number {
  const row = c.get<{ highest_modseq: number }>(
    'UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq',
    mailboxId,
  )
  if (!row) throw new NotFoundError(`Mailbox ${mailboxId} does not exist`)
  return Number(row.highest_modseq)
}

interface Target {
  mailboxId: number
  mask: number
  keywords: string[]
}

/**
 * Files one stored blob into each target. The caller holds the write transaction in which the
 * blob row was made or found, so all targets get the message or none does.
 */
export function fileMessage(
  c: Connection,
  blobRow: number,
  size: number,
  internalDate: number,
  targets: readonly Target[],
): DeliveryResult[] {
  const results: DeliveryResult[] = []
  for (const target of targets) {
    const mailbox = mailboxRow(c, target.mailboxId)
    const overQuota = quotaProblem(c, Number(mailbox.account_id), size, 1)
    if (overQuota) {
      results.push({ mailboxId: target.mailboxId, status: 'over-quota', resource: overQuota })
      continue
    }
    const uid = Number(mailbox.uid_next)
    const modseq = Number(mailbox.highest_modseq) + 1
    c.run(
      'UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?',
      uid + 1,
      modseq,
      target.mailboxId,
    )
    c.run(
      `INSERT INTO messages (mailbox_id, uid, blob, flags, keywords, internal_date, size, modseq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      target.mailboxId,
      uid,
      blobRow,
      target.mask,
      shape.formatKeywords(target.keywords),
      internalDate,
      size,
      modseq,
    )
    results.push({
      mailboxId: target.mailboxId,
      status: 'stored',
      uid,
      uidValidity: Number(mailbox.uid_validity),
      modseq,
    })
  }
  return results
}

/** Which quota resource adding `count` messages of `size` octets in all would exceed, if any. */
function quotaProblem(
  c: Connection,
  accountId: number,
  size: number,
  count: number,
): 'storage' | 'messages' | null {
  const account = c.get<Record<string, number | null>>(
    `SELECT quota_storage, quota_messages, storage_used, messages_used FROM accounts
     WHERE id = ?`,
    accountId,
  )
  if (!account) throw new NotFoundError(`Account ${accountId} does not exist`)
  const { quota_storage, quota_messages, storage_used, messages_used } = account
  if (quota_messages != null && Number(messages_used) + count > quota_messages) return 'messages'
  if (quota_storage != null && Number(storage_used) + size > quota_storage) return 'storage'
  return null
}

/**
 * Inserts the blob's row and its search text, referenced by nothing yet. The text waits in
 * blob_text_pending for the trigram index (text-index.ts); a database from before schema
 * version 3 (only ever opened so by the upgrade tests, which fill an old schema) has no such
 * table and indexes at once. One from before version 5 has no crlf_size, which then stays unknown
 * (see getMessages).
 */
export function insertBlob(
  c: Connection,
  blobId: string,
  size: number,
  description: MessageDescription,
): number {
  const metadata = JSON.stringify(description.metadata)
  const { lastId } = c.hasColumn('blobs', 'crlf_size')
    ? c.run(
        'INSERT INTO blobs (blob_id, size, refcount, metadata, crlf_size) VALUES (?, ?, 0, ?, ?)',
        blobId,
        size,
        metadata,
        description.crlfSize,
      )
    : c.run(
        'INSERT INTO blobs (blob_id, size, refcount, metadata) VALUES (?, ?, 0, ?)',
        blobId,
        size,
        metadata,
      )
  c.run(
    c.hasTable('blob_text_pending')
      ? 'INSERT INTO blob_text_pending (id, headers, body) VALUES (?, ?, ?)'
      : 'INSERT INTO blob_text (rowid, headers, body) VALUES (?, ?, ?)',
    lastId,
    description.headerText,
    description.bodyText,
  )
  return lastId
}

export function getMessages(c: Connection, mailboxId: number, ranges: UidRanges): MessageRecord[] {
  // Before schema version 5 (see insertBlob) no size as sent is known.
  const crlfSize = c.hasColumn('blobs', 'crlf_size') ? 'b.crlf_size' : 'NULL AS crlf_size'
  return c.read(() =>
    rowsInRanges(
      c,
      `SELECT m.uid, m.flags, m.keywords, m.modseq, m.internal_date, m.size, b.blob_id, ${crlfSize}
       FROM messages m JOIN blobs b ON b.id = m.blob
       WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?`,
      mailboxId,
      ranges,
    ).map(shape.toRecord),
  )
}

export function storeFlags(
  c: Connection,
  mailboxId: number,
  ranges: UidRanges,
  action: FlagAction,
  flags: readonly string[],
  unchangedSince: number | undefined,
): StoreFlagsResult {
  const given = checkFlags(flags)
  return c.write(() => {
    mailboxRow(c, mailboxId)
    const rows = rowsInRanges(
      c,
      'SELECT uid, flags, keywords, modseq FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ?',
      mailboxId,
      ranges,
    )
    const result: StoreFlagsResult = { changed: [], modified: [] }
    const updates: Array<{ uid: number; mask: number; keywords: string[] }> = []
    for (const row of rows) {
      const oldMask = Number(row.flags)
      const oldKeywords = shape.parseKeywords(row.keywords)
      // RFC 7162 §3.1.3: a message changed since UNCHANGEDSINCE is left alone and reported,
      // even when the STORE would not change it (so UNCHANGEDSINCE 0 always fails).
      if (unchangedSince !== undefined && Number(row.modseq) > unchangedSince) {
        result.modified.push(Number(row.uid))
        continue
      }
      const next = applyFlags({ mask: oldMask, keywords: oldKeywords }, action, given)
      if (next === null) continue
      const { mask, keywords } = next
      updates.push({ uid: Number(row.uid), mask, keywords })
    }
    if (updates.length === 0) return result
    const modseq = nextModseq(c, mailboxId)
    for (const { uid, mask, keywords } of updates) {
      c.run(
        'UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?',
        mask,
        shape.formatKeywords(keywords),
        modseq,
        mailboxId,
        uid,
      )
      result.changed.push({ uid, modseq, flags: flagList(mask, keywords) })
    }
    return result
  })
}

/** Deletes the messages, remembering each UID with the new MODSEQ; the caller holds a write. */
function removeMessages(c: Connection, mailboxId: number, uids: readonly number[]): void {
  if (uids.length === 0) return
  const modseq = nextModseq(c, mailboxId)
  for (const uid of uids) {
    c.run('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?', mailboxId, uid)
    c.run(
      'INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)',
      mailboxId,
      uid,
      modseq,
    )
  }
}

/** Which messages expunge removes. */
export interface ExpungeOptions {
  /** IMAP EXPUNGE removes only messages flagged \Deleted; POP3's DELE marks them otherwise. */
  isDeletedOnly: boolean
  /** Nothing is removed, and null returned, unless this holder's mailbox lock is live. */
  lockHolder?: string | undefined
}

/** Removes messages among `ranges` (all when absent) in one write; returns their UIDs. */
export function expunge(
  c: Connection,
  mailboxId: number,
  ranges: UidRanges | undefined,
  options: ExpungeOptions = { isDeletedOnly: true },
): number[] | null {
  return c.write(() => {
    mailboxRow(c, mailboxId)
    const { lockHolder } = options
    if (lockHolder !== undefined && !holdsLock(c, mailboxId, lockHolder, Date.now())) return null
    const select = options.isDeletedOnly
      ? `SELECT uid FROM messages WHERE mailbox_id = ? AND flags & ${DELETED} != 0`
      : 'SELECT uid FROM messages WHERE mailbox_id = ?'
    const rows =
      ranges === undefined
        ? c.all(`${select} ORDER BY uid`, mailboxId)
        : rowsInRanges(c, `${select} AND uid BETWEEN ? AND ?`, mailboxId, ranges)
    const uids = rows.map((row) => Number(row.uid))
    removeMessages(c, mailboxId, uids)
    return uids
  })
}

/**
 * Copies messages to another mailbox, sharing their blobs, and with `move` expunges them from
 * the source in the same transaction (RFC 6851 §3.3: the copy and the expunge are one).
 */
export function copyMessages(
  c: Connection,
  from: number,
  ranges: UidRanges,
  to: number,
  move: boolean,
): { uidValidity: number; uids: Array<[number, number]> } {
  return c.write(() => {
    mailboxRow(c, from)
    const target = mailboxRow(c, to)
    const rows = rowsInRanges(
      c,
      `SELECT uid, blob, flags, keywords, internal_date, size FROM messages
       WHERE mailbox_id = ? AND uid BETWEEN ? AND ?`,
      from,
      ranges,
    )
    const uidValidity = Number(target.uid_validity)
    if (rows.length === 0) return { uidValidity, uids: [] }
    const total = rows.reduce((sum, row) => sum + Number(row.size), 0)
    const isMoveWithinAccount =
      move && Number(target.account_id) === Number(mailboxRow(c, from).account_id)
    // A move within one account changes no usage (RFC 9208 §4.2 counts what is stored).
    const problem = isMoveWithinAccount
      ? null
      : quotaProblem(c, Number(target.account_id), total, rows.length)
    if (problem) {
      throw new QuotaExceededError(problem, `The copy would exceed the ${problem} quota`)
    }
    let uid = Number(target.uid_next)
    const modseq = nextModseq(c, to)
    const uids: Array<[number, number]> = []
    for (const row of rows) {
      c.run(
        `INSERT INTO messages (mailbox_id, uid, blob, flags, keywords, internal_date, size, modseq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        to,
        uid,
        row.blob ?? null,
        row.flags ?? 0,
        row.keywords ?? null,
        row.internal_date ?? 0,
        row.size ?? 0,
        modseq,
      )
      uids.push([Number(row.uid), uid])
      uid += 1
    }
    c.run('UPDATE mailboxes SET uid_next = ? WHERE id = ?', uid, to)
    if (move) {
      removeMessages(
        c,
        from,
        rows.map((row) => Number(row.uid)),
      )
    }
    return { uidValidity, uids }
  })
}

export function changesSince(c: Connection, mailboxId: number, modseq: number): MailboxChanges {
  return c.read(() => {
    const mailbox = mailboxRow(c, mailboxId)
    const changed = c
      .all(
        `SELECT uid, flags, keywords, modseq FROM messages INDEXED BY messages_modseq
         WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`,
        mailboxId,
        modseq,
      )
      .map(shape.toSummary)
    const expunged = c
      .all<{ uid: number; modseq: number }>(
        'SELECT uid, modseq FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid',
        mailboxId,
        modseq,
      )
      .map((row) => ({ uid: Number(row.uid), modseq: Number(row.modseq) }))
    return { changed, expunged, highestModseq: Number(mailbox.highest_modseq) }
  })
}

/**
 * Moves every message of `from` into `to` (renaming INBOX, RFC 9051 §6.3.6); the caller holds
 * the write transaction. The messages get new UIDs in `to`, in their old order.
 */
export function moveAll(c: Connection, from: number, to: number): void {
  const rows = c.all<{ uid: number }>(
    'SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid',
    from,
  )
  if (rows.length === 0) return
  const target = mailboxRow(c, to)
  let uid = Number(target.uid_next)
  const modseq = nextModseq(c, to)
  for (const row of rows) {
    c.run(
      `INSERT INTO messages (mailbox_id, uid, blob, flags, keywords, internal_date, size, modseq)
       SELECT ?, ?, blob, flags, keywords, internal_date, size, ? FROM messages
       WHERE mailbox_id = ? AND uid = ?`,
      to,
      uid,
      modseq,
      from,
      row.uid,
    )
    uid += 1
  }
  c.run('UPDATE mailboxes SET uid_next = ? WHERE id = ?', uid, to)
  removeMessages(
    c,
    from,
    rows.map((row) => Number(row.uid)),
  )
}
