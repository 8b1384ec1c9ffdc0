import { existsSync, mkdirSync, unlinkSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import {
  type AcceptInput,
  type AcceptResult,
  type BlobStore,
  ChangeFeed,
  type DeliveryResult,
  describeMessage,
  isBlobId,
  type MailboxEvent,
  type MessageDescription,
  type MessageMetadata,
  type Migration,
  NotFoundError,
  planAccept,
  planAttempt,
  type QueueAttempt,
  type QueueAttemptResult,
  queuePage,
  type SchemaStatus,
  type Store,
  shape,
} from '../index.ts'
import { Connection } from './connection.ts'
import * as directory from './directory-rows.ts'
import { fileBlobPath, openFileBlobStore } from './file-blob-store.ts'
import * as locks from './mailbox-locks.ts'
import * as mailboxes from './mailbox-rows.ts'
import * as messages from './message-rows.ts'
import * as queue from './queue-rows.ts'
import { MIGRATIONS, migrate, prepareSchema, schemaStatus } from './schema.ts'
import { searchText } from './search.ts'
import { TextIndexer } from './text-index.ts'

type PutResult = Awaited<ReturnType<BlobStore['put']>>

export interface SqliteStoreOptions {
  /** Holds store.sqlite and the blobs/ folder. */
  dataDir: string
  /** Called with errors no caller is waiting for (a failed change-feed query, a failed cleanup). */
  onError?: (error: unknown) => void
  /** How often to look for commits by other processes while mailboxes are watched. */
  pollIntervalMs?: number
  /**
   * Blob files at least this old that no row refers to are removed in the background after the
   * store opens: what a crash between writing a message's file and committing its row leaves.
   * Default one hour, far longer than any delivery takes between the two; null: no sweep (for
   * short-lived openers such as the administration commands).
   */
  orphanAgeMs?: number | null
  /**
   * The schema history (default: this code's). Tests pass a longer one to rehearse an upgrade
   * on a database written by the current version.
   */
  migrations?: readonly Migration[]
  /** Told of each orphaned blob file removed (for the log). */
  onOrphanRemoved?: (blobId: string) => void
}

/** A blob file vanished under a row with no references: the garbage collector took it. */
class BlobCollectedError extends Error {}

/** Unreferenced blobs removed per write transaction. */
const GARBAGE_BATCH = 500

/** How many times a delivery stores its bytes again after the collector raced it. */
const PUT_ATTEMPTS = 3

/**
 * The embedded backend: metadata in one SQLite database (WAL), message bytes as files. The
 * database connection is synchronous, so each transaction below runs without yielding and no
 * two can interleave in this process; other processes (the CLI beside a running server) wait
 * for SQLite's write lock.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 })
  const blobRoot = path.join(options.dataDir, 'blobs')
  const blobs = await openFileBlobStore(blobRoot)
  const c = new Connection(path.join(options.dataDir, 'store.sqlite'))
  try {
    prepareSchema(c, options.migrations)
  } catch (error) {
    c.close()
    throw error
  }
  return new SqliteStore(c, blobs, blobRoot, options)
}

/** The schema version of the store in `dataDir` and what `migrateSqliteStore` would apply. */
export function sqliteSchemaStatus(
  dataDir: string,
  migrations: readonly Migration[] = MIGRATIONS,
): SchemaStatus {
  return withConnection(dataDir, (c) => schemaStatus(c, migrations))
}

/** Applies pending migrations to the store in `dataDir` (none with dryRun); returns the status. */
export function migrateSqliteStore(
  dataDir: string,
  options: { dryRun?: boolean; migrations?: readonly Migration[] } = {},
): SchemaStatus {
  const migrations = options.migrations ?? MIGRATIONS
  return withConnection(dataDir, (c) =>
    options.dryRun ? schemaStatus(c, migrations) : migrate(c, migrations),
  )
}

function withConnection<T>(dataDir: string, work: (c: Connection) => T): T {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const c = new Connection(path.join(dataDir, 'store.sqlite'))
  try {
    return work(c)
  } finally {
    c.close()
  }
}

class SqliteStore implements Store {
  readonly #c: Connection
  readonly #blobs: BlobStore
  readonly #blobRoot: string
  readonly #feed: ChangeFeed
  readonly #onError: (error: unknown) => void
  readonly #poll: NodeJS.Timeout
  #dataVersion: number
  #isClosed = false
  readonly #orphanSweep: Promise<void>
  readonly #textIndexer: TextIndexer | null
  readonly #onOrphan: (blobId: string) => void

  constructor(c: Connection, blobs: BlobStore, blobRoot: string, options: SqliteStoreOptions) {
    this.#c = c
    this.#blobs = blobs
    this.#blobRoot = blobRoot
    this.#onError = options.onError ?? (() => {})
    this.#onOrphan = options.onOrphanRemoved ?? (() => {})
    this.#feed = new ChangeFeed(
      async (id, modseq) => messages.changesSince(c, id, modseq),
      this.#onError,
    )
    // Another process's commit changes data_version; ours do not, and notify directly.
    this.#dataVersion = c.dataVersion()
    this.#poll = setInterval(() => this.#pollOtherProcesses(), options.pollIntervalMs ?? 250)
    this.#poll.unref()
    this.#collectGarbage()
    const orphanAgeMs = options.orphanAgeMs === undefined ? 60 * 60 * 1000 : options.orphanAgeMs
    this.#orphanSweep =
      orphanAgeMs === null
        ? Promise.resolve()
        : this.#sweepOrphans(orphanAgeMs).catch((error: unknown) => this.#onError(error))
    // Short-lived openers leave indexing to the server; text waiting for it is searched anyway.
    this.#textIndexer =
      orphanAgeMs === null ? null : new TextIndexer(c, () => c.hasBatchedWrites, this.#onError)
    this.#textIndexer?.schedule()
  }

  /**
   * Walks the blob files and removes those no row refers to. The check and the unlink happen
   * inside a write transaction, as in #collectGarbage, so a delivery of the same bytes either
   * committed its row first (the file stays) or finds the file gone and stores it again.
   */
  async #sweepOrphans(minimumAgeMs: number): Promise<void> {
    const cutoff = Date.now() - minimumAgeMs
    for (const shard of await readdir(this.#blobRoot)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue
      const folder = path.join(this.#blobRoot, shard)
      for (const name of await readdir(folder)) {
        if (this.#isClosed) return
        if (!isBlobId(name)) continue
        const file = path.join(folder, name)
        const modified = (await stat(file).catch(() => null))?.mtimeMs ?? Number.POSITIVE_INFINITY
        if (modified > cutoff || this.#isClosed) continue
        const isRemoved = this.#c.write(() => {
          if (this.#c.get('SELECT 1 FROM blobs WHERE blob_id = ?', name)) return false
          return removeFile(file)
        })
        if (isRemoved) this.#onOrphan(name)
      }
    }
  }

  #pollOtherProcesses(): void {
    if (this.#feed.size === 0 || this.#isClosed) return
    const version = this.#c.dataVersion()
    if (version === this.#dataVersion) return
    this.#dataVersion = version
    this.#feed.notifyAll()
  }

  /**
   * Removes blobs nothing refers to, file and row together, inside a write transaction: a
   * delivery of the same bytes either sees the row (and keeps it alive) or finds the file gone
   * and stores it again (see deliver).
   */
  #collectGarbage(): void {
    try {
      // Batches keep each write transaction short; a removed account may free many blobs.
      let isMore = true
      while (isMore) {
        isMore = this.#collectGarbageBatch(GARBAGE_BATCH)
      }
    } catch (error) {
      this.#onError(error)
    }
  }

  /** Files whose rows a transaction dropped, until their unlink is done (or rolled back). */
  readonly #unlinking = new Map<string, Promise<void>>()
  readonly #unlinkDone = new Map<string, () => void>()

  /**
   * Deletes a blob row no message or entry refers to any more, inside the caller's write
   * transaction, and returns its id: the caller calls #unlinkFreed once the transaction ends.
   * Until then #blobRow treats the bytes as collected, so no other write can take them back.
   */
  #dropIfUnreferenced(row: number): string | null {
    const blob = this.#c.get<{ blob_id: string }>(
      'SELECT blob_id FROM blobs WHERE id = ? AND refcount = 0',
      row,
    )
    if (!blob) return null
    if (!this.#unlinking.has(blob.blob_id)) {
      this.#unlinking.set(
        blob.blob_id,
        new Promise<void>((resolve) => this.#unlinkDone.set(blob.blob_id, resolve)),
      )
    }
    this.#c.run('DELETE FROM blob_text WHERE rowid = ?', row)
    this.#c.run('DELETE FROM blob_text_pending WHERE id = ?', row)
    this.#c.run('DELETE FROM blobs WHERE id = ?', row)
    return blob.blob_id
  }

  /**
   * After the transaction that dropped these rows: removes their files when it committed (a crash
   * before this leaves orphans the sweep removes), keeps them when it rolled back. The unlink
   * runs off the main thread, unlike the collector's, which holds the write lock for it.
   */
  async #unlinkFreed(ids: readonly string[], isCommitted: boolean): Promise<void> {
    await Promise.all(
      ids.map(async (id) => {
        try {
          if (isCommitted) await this.#blobs.delete(id)
        } catch (error) {
          this.#onError(error)
        } finally {
          this.#unlinking.delete(id)
          this.#unlinkDone.get(id)?.()
          this.#unlinkDone.delete(id)
        }
      }),
    )
  }

  /** Removes up to `limit` unreferenced blobs; true when there may be more. */
  #collectGarbageBatch(limit: number): boolean {
    return this.#c.write(() => {
      const garbage = this.#c.all<{ id: number; blob_id: string }>(
        'SELECT id, blob_id FROM blobs WHERE refcount = 0 LIMIT ?',
        limit,
      )
      for (const { id, blob_id } of garbage) {
        removeFile(fileBlobPath(this.#blobRoot, blob_id))
        this.#c.run('DELETE FROM blob_text WHERE rowid = ?', id)
        this.#c.run('DELETE FROM blob_text_pending WHERE id = ?', id)
        this.#c.run('DELETE FROM blobs WHERE id = ?', id)
      }
      return garbage.length === limit
    })
  }

  async addDomain(name: string) {
    return directory.addDomain(this.#c, name)
  }
  async removeDomain(name: string) {
    directory.removeDomain(this.#c, name)
  }
  async listDomains() {
    return directory.listDomains(this.#c)
  }
  async getDomain(name: string) {
    return directory.getDomain(this.#c, name)
  }
  async addAccount(input: Parameters<Store['addAccount']>[0]) {
    return directory.addAccount(this.#c, input)
  }
  async removeAccount(address: string) {
    const ids = directory.removeAccount(this.#c, address)
    for (const id of ids) this.#feed.notify(id)
    this.#collectGarbage()
  }
  async getAccount(address: string) {
    return directory.getAccount(this.#c, address)
  }
  async getAccountById(id: number) {
    return directory.getAccountById(this.#c, id)
  }
  async listAccounts(domain?: string) {
    return directory.listAccounts(this.#c, domain)
  }
  async getCredentials(address: string) {
    return directory.getCredentials(this.#c, address)
  }
  async setCredentials(address: string, credentials: Parameters<Store['setCredentials']>[1]) {
    directory.setCredentials(this.#c, address, credentials)
  }
  async setQuota(address: string, quota: Parameters<Store['setQuota']>[1]) {
    directory.setQuota(this.#c, address, quota)
  }
  async getQuotaUsage(accountId: number) {
    const row = this.#c.get<Record<string, number | null>>(
      `SELECT quota_storage, quota_messages, storage_used, messages_used FROM accounts
       WHERE id = ?`,
      accountId,
    )
    if (!row) throw new NotFoundError(`Account ${accountId} does not exist`)
    return {
      storage: { used: Number(row.storage_used), limit: row.quota_storage ?? null },
      messages: { used: Number(row.messages_used), limit: row.quota_messages ?? null },
    }
  }
  async addAlias(source: string, targets: readonly string[]) {
    return directory.addAlias(this.#c, source, targets)
  }
  async removeAlias(source: string, targets?: readonly string[]) {
    directory.removeAlias(this.#c, source, targets)
  }
  async getAlias(source: string) {
    return directory.getAlias(this.#c, source)
  }
  async listAliases(domain?: string) {
    return directory.listAliases(this.#c, domain)
  }

  async listMailboxes(accountId: number) {
    return mailboxes.listMailboxes(this.#c, accountId)
  }
  async getMailbox(accountId: number, name: string) {
    return mailboxes.getMailbox(this.#c, accountId, name)
  }
  async getMailboxById(id: number) {
    const row = this.#c.get(`SELECT ${shape.MAILBOX_COLUMNS} FROM mailboxes WHERE id = ?`, id)
    return row ? shape.toMailbox(row) : null
  }
  async createMailbox(
    accountId: number,
    name: string,
    options?: Parameters<Store['createMailbox']>[2],
  ) {
    return mailboxes.createMailbox(this.#c, accountId, name, options?.role ?? null)
  }
  async deleteMailbox(mailboxId: number) {
    mailboxes.deleteMailbox(this.#c, mailboxId)
    this.#feed.notify(mailboxId)
    this.#collectGarbage()
  }
  async renameMailbox(mailboxId: number, newName: string) {
    const mailbox = mailboxes.renameMailbox(this.#c, mailboxId, newName, (from, to) =>
      messages.moveAll(this.#c, from, to),
    )
    // Renaming INBOX expunges its messages; after any other rename the watchers find no change.
    this.#feed.notify(mailboxId)
    return mailbox
  }
  async setSubscribed(accountId: number, name: string, subscribed: boolean) {
    mailboxes.setSubscribed(this.#c, accountId, name, subscribed)
  }
  async listSubscriptions(accountId: number) {
    return mailboxes.listSubscriptions(this.#c, accountId)
  }
  async getMailboxStatus(mailboxId: number) {
    return shape.toStatus(mailboxes.mailboxRow(this.#c, mailboxId))
  }
  async openMailbox(mailboxId: number) {
    return this.#c.read(() => ({
      status: shape.toStatus(mailboxes.mailboxRow(this.#c, mailboxId)),
      // Arrays, not objects: node:sqlite builds row objects about three times slower, and this
      // is the query that opening a 100,000-message mailbox waits for.
      messages: this.#c
        .arrays(
          'SELECT uid, modseq, flags, keywords FROM messages WHERE mailbox_id = ? ORDER BY uid',
          mailboxId,
        )
        .map(shape.arrayToSummary),
    }))
  }

  async lockMailbox(mailboxId: number, options: Parameters<Store['lockMailbox']>[1]) {
    // The clock is read inside the transaction, so that another process's lock taken just
    // before is judged by a time no earlier than its own.
    return this.#c.writeBatched(() => locks.lockMailbox(this.#c, mailboxId, options, Date.now()))
  }
  async unlockMailbox(mailboxId: number, holder: string) {
    await this.#c.writeBatched(() => locks.unlockMailbox(this.#c, mailboxId, holder))
  }

  async deliver(
    message: Parameters<Store['deliver']>[0],
    targets: Parameters<Store['deliver']>[1],
  ): Promise<DeliveryResult[]> {
    const { deliveries } = await this.acceptMessage({
      deliveries: [{ message, targets }],
      queue: null,
    })
    return deliveries[0] ?? []
  }

  async acceptMessage(input: AcceptInput): Promise<AcceptResult> {
    const plan = planAccept(input)
    const now = Date.now()
    if (plan.deliveries.every((d) => d.targets.length === 0) && plan.queue === null) {
      return { deliveries: plan.deliveries.map(() => []), queued: null }
    }
    // Every blob is written and synced before the transaction that refers to it commits: after
    // a crash in between, the files are orphans the sweep removes, never rows without bytes.
    const putAll = () =>
      Promise.all([
        Promise.all(
          plan.deliveries.map((delivery) =>
            delivery.targets.length === 0 ? null : this.#blobs.put(delivery.bytes),
          ),
        ),
        plan.queue && this.#blobs.put(plan.queue.bytes),
      ])
    // The commit this delivery will join waits for it while its files are written.
    this.#c.expectBatchedWrite(1)
    let isExpected = true
    const arrived = () => {
      if (isExpected) this.#c.expectBatchedWrite(-1)
      isExpected = false
    }
    try {
      return await this.#accept(plan, now, putAll, arrived)
    } finally {
      arrived()
    }
  }

  /** The accept itself, once acceptMessage has registered it with the commit batcher. */
  async #accept(
    plan: ReturnType<typeof planAccept>,
    now: number,
    putAll: () => Promise<[Array<PutResult | null>, PutResult | null]>,
    arrived: () => void,
  ): Promise<AcceptResult> {
    let [deliveryBlobs, queueBlob] = await putAll()
    // Parsing happens outside the write lock, unless another writer removed the row meanwhile.
    const descriptions = new Map<string, MessageDescription>()
    const describe = (id: string, bytes: Buffer) => {
      if (!descriptions.has(id) && !this.#c.get('SELECT 1 FROM blobs WHERE blob_id = ?', id)) {
        descriptions.set(id, describeMessage(bytes))
      }
    }
    plan.deliveries.forEach((delivery, index) => {
      const blob = deliveryBlobs[index]
      if (blob) describe(blob.id, delivery.bytes)
    })
    if (plan.queue && queueBlob) describe(queueBlob.id, plan.queue.bytes)
    for (let attempt = 1; ; attempt += 1) {
      try {
        const committed = this.#c.writeBatched(() => {
          const deliveries = plan.deliveries.map((delivery, index) => {
            const blob = deliveryBlobs[index]
            if (!blob) return []
            const blobRow = this.#blobRow(blob.id, delivery.bytes, descriptions)
            return messages.fileMessage(
              this.#c,
              blobRow,
              blob.size,
              delivery.internalDate,
              delivery.targets,
            )
          })
          if (!plan.queue || !queueBlob) return { deliveries, queued: null }
          const blobRow = this.#blobRow(queueBlob.id, plan.queue.bytes, descriptions)
          const id = queue.insertQueueEntry(this.#c, blobRow, queueBlob.size, plan.queue.entry, now)
          return { deliveries, queued: queue.readQueueEntry(this.#c, id) }
        })
        arrived()
        const result = await committed
        const results = result.deliveries.flat()
        for (const delivered of results) this.#feed.notify(delivered.mailboxId)
        this.#textIndexer?.schedule()
        // A blob row whose every target was over quota has no reference: collect it now.
        if (results.some((delivered) => delivered.status !== 'stored')) this.#collectGarbage()
        return result
      } catch (error) {
        if (!(error instanceof BlobCollectedError) || attempt >= PUT_ATTEMPTS) throw error
        await Promise.all(this.#unlinking.values())
        ;[deliveryBlobs, queueBlob] = await putAll()
      }
    }
  }

  /**
   * The row of stored bytes, made when missing; the caller holds the write transaction. Bytes
   * whose row has no reference may have lost their file to the collector since they were put:
   * BlobCollectedError then makes acceptMessage store them again.
   */
  #blobRow(id: string, bytes: Buffer, descriptions: Map<string, MessageDescription>): number {
    const row = this.#c.get<{ id: number; refcount: number }>(
      'SELECT id, refcount FROM blobs WHERE blob_id = ?',
      id,
    )
    if (!row || row.refcount === 0) {
      // A file whose row was dropped in a commit not yet followed by its unlink is as good as
      // gone: taking it would leave this row without bytes once the unlink runs.
      if (this.#unlinking.has(id) || !existsSync(fileBlobPath(this.#blobRoot, id))) {
        throw new BlobCollectedError()
      }
    }
    if (row) return row.id
    let description = descriptions.get(id)
    if (!description) {
      description = describeMessage(bytes)
      descriptions.set(id, description)
    }
    return messages.insertBlob(this.#c, id, bytes.length, description)
  }

  async listQueue(options?: Parameters<Store['listQueue']>[0]) {
    const { afterId, limit } = queuePage(options)
    return queue.listQueue(this.#c, afterId, limit)
  }
  async getQueueEntry(id: number) {
    return queue.getQueueEntry(this.#c, id)
  }
  async removeQueueEntry(id: number) {
    this.#c.write(() => queue.removeQueueEntry(this.#c, id))
    this.#collectGarbage()
  }
  async claimQueue(options: Parameters<Store['claimQueue']>[0]) {
    const { owner, leaseMs, limit } = options
    return this.#c.writeBatched(() => queue.claimQueue(this.#c, owner, Date.now(), leaseMs, limit))
  }
  async renewQueueLeases(owner: string, leaseMs: number) {
    return this.#c.write(() => queue.renewQueueLeases(this.#c, owner, Date.now() + leaseMs))
  }
  async releaseQueueLeases(owner: string) {
    return this.#c.write(() => queue.releaseQueueLeases(this.#c, owner))
  }
  async finishQueueAttempt(attempt: QueueAttempt): Promise<QueueAttemptResult> {
    const plan = planAttempt(attempt)
    const now = Date.now()
    const descriptions = new Map<string, MessageDescription>()
    const freed: string[] = []
    for (let round = 1; ; round += 1) {
      // Notices are stored like any queued message: bytes durable before the commit.
      const blobs = await Promise.all(plan.notices.map((notice) => this.#blobs.put(notice.bytes)))
      try {
        const result = await this.#c.writeBatched(() => {
          const stale = queue.applyOutcomes(
            this.#c,
            attempt.entryId,
            attempt.owner,
            plan.outcomes,
            now,
          )
          // A lost lease means another claimant owns the recipient now, and its notices too.
          const notices =
            stale.length > 0
              ? []
              : plan.notices.map((notice, index) => {
                  const blob = blobs[index] as PutResult
                  const row = this.#blobRow(blob.id, notice.bytes, descriptions)
                  const id = queue.insertQueueEntry(this.#c, row, blob.size, notice.entry, now)
                  return queue.readQueueEntry(this.#c, id)
                })
          const removed = queue.removeIfDone(this.#c, attempt.entryId)
          // The bytes go in the same commit when nothing else holds them, instead of a
          // transaction of their own: one fsync per batch of finished messages, not two.
          if (typeof removed === 'number') {
            const id = this.#dropIfUnreferenced(removed)
            if (id !== null) freed.push(id)
          }
          return { result: { removed: removed !== false, stale, notices } }
        })
        if (freed.length > 0) await this.#unlinkFreed(freed, true)
        return result.result
      } catch (error) {
        // Rolled back: the rows stay, so their files must too.
        if (freed.length > 0) await this.#unlinkFreed(freed.splice(0), false)
        if (!(error instanceof BlobCollectedError) || round >= PUT_ATTEMPTS) throw error
        await Promise.all(this.#unlinking.values())
      }
    }
  }
  async rescheduleQueue(id?: number) {
    return this.#c.write(() => queue.rescheduleQueue(this.#c, id, Date.now()))
  }
  async nextQueueAttemptAt() {
    return queue.nextQueueAttemptAt(this.#c)
  }
  async getMessages(mailboxId: number, uids: Parameters<Store['getMessages']>[1]) {
    return messages.getMessages(this.#c, mailboxId, uids)
  }
  async getMetadata(blobId: string): Promise<MessageMetadata> {
    const row = this.#c.get<{ metadata: string }>(
      'SELECT metadata FROM blobs WHERE blob_id = ?',
      blobId,
    )
    if (!row) throw new NotFoundError(`Message ${blobId} does not exist`)
    return shape.parseMetadata(row.metadata)
  }
  readMessage(blobId: string, start?: number, end?: number) {
    return this.#blobs.read(blobId, start, end)
  }
  async storeFlags(
    mailboxId: number,
    uids: Parameters<Store['storeFlags']>[1],
    action: Parameters<Store['storeFlags']>[2],
    flags: readonly string[],
    options?: { unchangedSince?: number },
  ) {
    const result = messages.storeFlags(
      this.#c,
      mailboxId,
      uids,
      action,
      flags,
      options?.unchangedSince,
    )
    if (result.changed.length > 0) this.#feed.notify(mailboxId)
    return result
  }
  async expunge(mailboxId: number, uids?: Parameters<Store['expunge']>[1]) {
    // Never null: only a lock holder's removal can find the lock gone.
    return this.#expunge(mailboxId, uids, { isDeletedOnly: true }) ?? []
  }
  async deleteMessages(
    mailboxId: number,
    uids: Parameters<Store['deleteMessages']>[1],
    options?: Parameters<Store['deleteMessages']>[2],
  ) {
    return this.#expunge(mailboxId, uids, {
      isDeletedOnly: false,
      lockHolder: options?.lockHolder,
    })
  }
  /** IMAP's EXPUNGE and POP3's DELE alike: then watchers are told and freed bytes go. */
  #expunge(
    mailboxId: number,
    uids: Parameters<Store['expunge']>[1],
    options: messages.ExpungeOptions,
  ): number[] | null {
    const expunged = messages.expunge(this.#c, mailboxId, uids, options)
    if (expunged && expunged.length > 0) {
      this.#feed.notify(mailboxId)
      this.#collectGarbage()
    }
    return expunged
  }
  async copyMessages(from: number, uids: Parameters<Store['copyMessages']>[1], to: number) {
    const result = messages.copyMessages(this.#c, from, uids, to, false)
    if (result.uids.length > 0) this.#feed.notify(to)
    return result
  }
  async moveMessages(from: number, uids: Parameters<Store['moveMessages']>[1], to: number) {
    const result = messages.copyMessages(this.#c, from, uids, to, true)
    if (result.uids.length > 0) {
      this.#feed.notify(from)
      this.#feed.notify(to)
    }
    return result
  }
  async changesSince(mailboxId: number, modseq: number) {
    return messages.changesSince(this.#c, mailboxId, modseq)
  }
  async searchText(
    mailboxId: number,
    queries: Parameters<Store['searchText']>[1],
    uids?: Parameters<Store['searchText']>[2],
  ) {
    mailboxes.mailboxRow(this.#c, mailboxId)
    return searchText(this.#c, mailboxId, queries, uids)
  }
  watchMailbox(
    mailboxId: number,
    since: { modseq: number; uidNext: number },
    listener: (event: MailboxEvent) => void,
  ) {
    return this.#feed.watch(mailboxId, since, listener)
  }
  async close() {
    if (this.#isClosed) return
    this.#isClosed = true
    clearInterval(this.#poll)
    this.#textIndexer?.close()
    await this.#orphanSweep
    this.#feed.close()
    this.#c.close()
    await this.#blobs.close?.()
  }
}

/** Removes a file; one already gone is not an error. Returns whether this call removed it. */
function removeFile(file: string): boolean {
  try {
    unlinkSync(file)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}
