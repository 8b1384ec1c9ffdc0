import { randomUUID } from 'node:crypto'
import type { BlobId, Mailbox, Store } from '../../store/index.ts'
import type { Logger } from '../../util/index.ts'
import { uniqueId } from '../proto/index.ts'

/** One message as the session numbered it at login (RFC 1939 §5: numbers never change). */
export interface MaildropMessage {
  uid: number
  /** Octets RETR sends before dot-stuffing (LIST, STAT). */
  size: number
  blobId: BlobId
  /** Octets as stored, so a read asks for exactly that many (and sizes its buffers by it). */
  storedSize: number
  uniqueId: string
  isDeleted: boolean
  /** RETR sent it whole; with EXPIRE 0 it is removed at QUIT too. */
  isRetrieved: boolean
}

export interface MaildropOptions {
  /** How long the lock outlives a node that died holding it; renewed at a third of it. */
  leaseMs: number
  /** RFC 2449 LOGIN-DELAY, or null. */
  minIntervalMs: number | null
  log: Logger
}

/**
 * The maildrop of one POP3 session (RFC 1939 §8): the account's INBOX, locked for this session
 * through the store so that a second POP3 session, on this node or another, gets [IN-USE]. IMAP
 * sessions do not take the lock and may go on reading and changing the mailbox.
 *
 * The messages are numbered once, at login, and keep their numbers and sizes for the session.
 * DELE only marks; commit() removes the marked messages in one store transaction at QUIT, and
 * only while the lock is still this session's. A session that ends any other way removes
 * nothing.
 */
export class Maildrop {
  readonly mailbox: Mailbox
  readonly #messages: MaildropMessage[] = []
  readonly #store: Store
  readonly #holder: string
  readonly #log: Logger
  #renewal: NodeJS.Timeout | null = null
  #renewing: Promise<void> | null = null
  #isLockLost = false
  #isClosed = false

  private constructor(store: Store, mailbox: Mailbox, holder: string, log: Logger) {
    this.#store = store
    this.mailbox = mailbox
    this.#holder = holder
    this.#log = log
  }

  /** Locks the mailbox and numbers its messages, or says why it cannot. */
  static async open(
    store: Store,
    mailbox: Mailbox,
    options: MaildropOptions,
  ): Promise<Maildrop | 'in-use' | 'too-soon'> {
    const holder = randomUUID()
    const locked = await store.lockMailbox(mailbox.id, {
      holder,
      leaseMs: options.leaseMs,
      ...(options.minIntervalMs === null ? {} : { minIntervalMs: options.minIntervalMs }),
    })
    if (locked === 'in-use' || locked === 'too-soon') return locked
    if (locked === 'lost') throw new Error('lockMailbox answered "lost" to a new holder')
    const maildrop = new Maildrop(store, mailbox, holder, options.log)
    // Renewed from now on: numbering messages stored before their sizes were kept reads them
    // all, which may take longer than the lease.
    maildrop.#startRenewal(options.leaseMs)
    try {
      const records = await store.getMessages(mailbox.id, [[1, Number.MAX_SAFE_INTEGER]])
      for (const record of records) {
        maildrop.#messages.push({
          uid: record.uid,
          size: record.crlfSize ?? (await measure(store, record.blobId, record.size)),
          blobId: record.blobId,
          storedSize: record.size,
          uniqueId: uniqueId(mailbox.uidValidity, record.uid),
          isDeleted: false,
          isRetrieved: false,
        })
      }
      return maildrop
    } catch (error) {
      await maildrop.close().catch(() => {})
      throw error
    }
  }

  get messages(): readonly MaildropMessage[] {
    return this.#messages
  }

  /** The message numbered `n`, or null when there is none or it is marked deleted. */
  message(n: number): MaildropMessage | null {
    const message = this.messages[n - 1]
    return message === undefined || message.isDeleted ? null : message
  }

  /** Messages not marked deleted, and their octets (STAT). */
  totals(): { count: number; size: number } {
    let count = 0
    let size = 0
    for (const message of this.messages) {
      if (message.isDeleted) continue
      count += 1
      size += message.size
    }
    return { count, size }
  }

  /** RSET: every mark goes (RFC 1939 §5). */
  unmarkAll(): void {
    for (const message of this.messages) message.isDeleted = false
  }

  /**
   * The UPDATE state (RFC 1939 §6): removes the marked messages (and, with `removeRetrieved`,
   * every message RETR sent) in one transaction, while the lock is still ours.
   * @returns how many were removed, or null when the lock was lost and nothing was removed
   */
  async commit(options: { removeRetrieved: boolean }): Promise<number | null> {
    const uids = this.messages
      .filter((m) => m.isDeleted || (options.removeRetrieved && m.isRetrieved))
      .map((m) => [m.uid, m.uid] as const)
    if (uids.length === 0) return this.#isLockLost ? null : 0
    const removed = await this.#store.deleteMessages(this.mailbox.id, uids, {
      lockHolder: this.#holder,
    })
    return removed === null ? null : removed.length
  }

  /** Stops renewing (waiting for a renewal under way) and lets the next session in. */
  async close(): Promise<void> {
    this.#isClosed = true
    if (this.#renewal !== null) clearInterval(this.#renewal)
    this.#renewal = null
    await this.#renewing
    await this.#store.unlockMailbox(this.mailbox.id, this.#holder)
  }

  #startRenewal(leaseMs: number): void {
    this.#renewal = setInterval(
      () => {
        if (this.#renewing !== null) return
        this.#renewing = this.#store
          .lockMailbox(this.mailbox.id, { holder: this.#holder, leaseMs, renew: true })
          .then((result) => {
            if (result === 'locked' || this.#isClosed) return
            // The lease lapsed (a stalled process, a store out of reach): another session may have
            // had the maildrop since, so QUIT must remove nothing (commit checks the lock too).
            this.#isLockLost = true
            if (this.#renewal !== null) clearInterval(this.#renewal)
            this.#renewal = null
            this.#log.warn({ mailbox: this.mailbox.id, result }, 'POP3 maildrop lock lost')
          })
          .catch((error: unknown) => {
            // A store hiccup: the next renewal tries again, and QUIT checks the lock anyway.
            this.#log.warn({ err: error }, 'POP3 maildrop lock renewal failed')
          })
          .finally(() => {
            this.#renewing = null
          })
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    )
    this.#renewal.unref()
  }
}

/**
 * The POP3 size of a message stored before sizes were kept with it: src/mime's crlfSize, counted
 * as the bytes stream by.
 */
async function measure(store: Store, blobId: BlobId, storedSize: number): Promise<number> {
  let size = 0
  let last = -1
  for await (const chunk of store.readMessage(blobId, 0, storedSize)) {
    size += chunk.length
    let at = chunk.indexOf(0x0a)
    while (at >= 0) {
      const before = at > 0 ? chunk[at - 1] : last
      if (before !== 0x0d) size += 1
      at = chunk.indexOf(0x0a, at + 1)
    }
    if (chunk.length > 0) last = chunk[chunk.length - 1] as number
  }
  return last === -1 || last === 0x0a ? size : size + 2
}
