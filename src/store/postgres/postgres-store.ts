import { createHash } from 'node:crypto'
import type pg from 'pg'
import {
  type AcceptInput,
  type AcceptResult,
  type BlobStore,
  ChangeFeed,
  type DeliveryResult,
  describeMessage,
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
import { createPostgresBlobStore } from './blob-store.ts'
import { all, createPool, one } from './database.ts'
import * as directory from './directory-rows.ts'
import * as locks from './mailbox-locks.ts'
import * as mailboxes from './mailbox-rows.ts'
import * as messages from './message-rows.ts'
import { MailboxListener } from './notify.ts'
import * as queue from './queue-rows.ts'
import { MIGRATIONS, migrate, prepareSchema, schemaStatus } from './schema.ts'

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string
  /** Connections in the pool, besides the one that listens for changes. */
  poolSize?: number
  /** Errors no caller waits for: a lost listening connection, a failed cleanup. */
  onError?: (error: unknown) => void
  /** The schema history (default: this code's); tests pass a longer one to rehearse upgrades. */
  migrations?: readonly Migration[]
}

/** The schema version of the database at `url` and what migratePostgresStore would apply. */
export async function postgresSchemaStatus(
  url: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<SchemaStatus> {
  const pool = createPool(url, 1)
  try {
    return await schemaStatus(pool, migrations)
  } finally {
    await pool.end()
  }
}

/** Applies pending migrations to the database at `url` (none with dryRun); returns the status. */
export async function migratePostgresStore(
  url: string,
  options: { dryRun?: boolean; migrations?: readonly Migration[] } = {},
): Promise<SchemaStatus> {
  const migrations = options.migrations ?? MIGRATIONS
  const pool = createPool(url, 1)
  try {
    return options.dryRun ? await schemaStatus(pool, migrations) : await migrate(pool, migrations)
  } finally {
    await pool.end()
  }
}

/** Unreferenced blobs removed per transaction. */
const GARBAGE_BATCH = 500

/**
 * The backend for several Postern nodes on one PostgreSQL database: metadata, search text and
 * message bytes all in the database, so every node sees everything; UIDs and MODSEQs allocated
 * under row locks taken in one global order; changes announced to every node with NOTIFY.
 * @throws when the database cannot be reached or has a schema this code does not know.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const pool = createPool(options.url, options.poolSize)
  const onError = options.onError ?? (() => {})
  // An idle connection that dies (the server restarted) is dropped from the pool, not fatal.
  pool.on('error', onError)
  try {
    await prepareSchema(pool, options.migrations)
  } catch (error) {
    await pool.end()
    throw error
  }
  const store = new PostgresStore(pool, options.url, onError)
  try {
    await store.start()
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}

class PostgresStore implements Store {
  readonly #pool: pg.Pool
  readonly #blobs: BlobStore
  readonly #feed: ChangeFeed
  readonly #listener: MailboxListener
  readonly #onError: (error: unknown) => void
  #isClosed = false

  constructor(pool: pg.Pool, url: string, onError: (error: unknown) => void) {
    this.#pool = pool
    this.#onError = onError
    this.#blobs = createPostgresBlobStore(pool)
    this.#feed = new ChangeFeed((id, modseq) => messages.changesSince(pool, id, modseq), onError)
    this.#listener = new MailboxListener(url, {
      onMailbox: (id) => this.#feed.notify(id),
      onResync: () => this.#feed.notifyAll(),
      onError,
    })
  }

  async start(): Promise<void> {
    await this.#listener.start()
    await this.#collectGarbage()
  }

  async #collectGarbage(): Promise<void> {
    try {
      while (await messages.collectGarbage(this.#pool, GARBAGE_BATCH)) {
        if (this.#isClosed) return
      }
    } catch (error) {
      this.#onError(error)
    }
  }

  addDomain(name: string) {
    return directory.addDomain(this.#pool, name)
  }
  removeDomain(name: string) {
    return directory.removeDomain(this.#pool, name)
  }
  listDomains() {
    return directory.listDomains(this.#pool)
  }
  getDomain(name: string) {
    return directory.getDomain(this.#pool, name)
  }
  addAccount(input: Parameters<Store['addAccount']>[0]) {
    return directory.addAccount(this.#pool, input)
  }
  async removeAccount(address: string) {
    const ids = await directory.removeAccount(this.#pool, address)
    for (const id of ids) this.#feed.notify(id)
    await this.#collectGarbage()
  }
  getAccount(address: string) {
    return directory.getAccount(this.#pool, address)
  }
  getAccountById(id: number) {
    return directory.getAccountById(this.#pool, id)
  }
  listAccounts(domain?: string) {
    return directory.listAccounts(this.#pool, domain)
  }
  getCredentials(address: string) {
    return directory.getCredentials(this.#pool, address)
  }
  setCredentials(address: string, credentials: Parameters<Store['setCredentials']>[1]) {
    return directory.setCredentials(this.#pool, address, credentials)
  }
  setQuota(address: string, quota: Parameters<Store['setQuota']>[1]) {
    return directory.setQuota(this.#pool, address, quota)
  }
  async getQuotaUsage(accountId: number) {
    const row = await one<Record<string, number | null>>(
      this.#pool,
      'SELECT quota_storage, quota_messages, storage_used, messages_used FROM accounts WHERE id = $1',
      [accountId],
    )
    if (!row) throw new NotFoundError(`Account ${accountId} does not exist`)
    return {
      storage: { used: Number(row.storage_used), limit: row.quota_storage ?? null },
      messages: { used: Number(row.messages_used), limit: row.quota_messages ?? null },
    }
  }
  addAlias(source: string, targets: readonly string[]) {
    return directory.addAlias(this.#pool, source, targets)
  }
  removeAlias(source: string, targets?: readonly string[]) {
    return directory.removeAlias(this.#pool, source, targets)
  }
  getAlias(source: string) {
    return directory.getAlias(this.#pool, source)
  }
  listAliases(domain?: string) {
    return directory.listAliases(this.#pool, domain)
  }

  listMailboxes(accountId: number) {
    return mailboxes.listMailboxes(this.#pool, accountId)
  }
  getMailbox(accountId: number, name: string) {
    return mailboxes.getMailbox(this.#pool, accountId, name)
  }
  async getMailboxById(id: number) {
    const row = await one(
      this.#pool,
      `SELECT ${shape.MAILBOX_COLUMNS} FROM mailboxes WHERE id = $1`,
      [id],
    )
    return row ? shape.toMailbox(row) : null
  }
  createMailbox(accountId: number, name: string, options?: Parameters<Store['createMailbox']>[2]) {
    return mailboxes.createMailbox(this.#pool, accountId, name, options?.role ?? null)
  }
  async deleteMailbox(mailboxId: number) {
    await mailboxes.deleteMailbox(this.#pool, mailboxId)
    this.#feed.notify(mailboxId)
    await this.#collectGarbage()
  }
  async renameMailbox(mailboxId: number, newName: string) {
    const mailbox = await mailboxes.renameMailbox(this.#pool, mailboxId, newName, messages.moveAll)
    this.#feed.notify(mailboxId)
    return mailbox
  }
  setSubscribed(accountId: number, name: string, subscribed: boolean) {
    return mailboxes.setSubscribed(this.#pool, accountId, name, subscribed)
  }
  listSubscriptions(accountId: number) {
    return mailboxes.listSubscriptions(this.#pool, accountId)
  }
  async getMailboxStatus(mailboxId: number) {
    return shape.toStatus(await mailboxes.mailboxRow(this.#pool, mailboxId))
  }
  async openMailbox(mailboxId: number) {
    const { status, messages: list } = await messages.openMailbox(this.#pool, mailboxId)
    return { status: shape.toStatus(status), messages: list }
  }

  lockMailbox(mailboxId: number, options: Parameters<Store['lockMailbox']>[1]) {
    return locks.lockMailbox(this.#pool, mailboxId, options)
  }
  unlockMailbox(mailboxId: number, holder: string) {
    return locks.unlockMailbox(this.#pool, mailboxId, holder)
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
    const blobs = new Map<string, Buffer>()
    const blobOf = (bytes: Buffer) => {
      const id = createHash('sha256').update(bytes).digest('hex')
      blobs.set(id, bytes)
      return id
    }
    const contents = {
      blobs,
      deliveryBlobs: plan.deliveries.map((d) => (d.targets.length === 0 ? null : blobOf(d.bytes))),
      queueBlob: plan.queue && blobOf(plan.queue.bytes),
    }
    if (blobs.size === 0) return { deliveries: plan.deliveries.map(() => []), queued: null }
    // Parse before the transaction takes its row locks. Only if a collector removes the known
    // bytes in between does the parse happen inside it.
    const known = await all<{ blob_id: string }>(
      this.#pool,
      'SELECT blob_id FROM blobs WHERE blob_id = ANY($1)',
      [[...blobs.keys()]],
    )
    const descriptions = new Map<string, MessageDescription>()
    const isKnown = new Set(known.map((row) => row.blob_id))
    for (const [id, bytes] of blobs) {
      if (!isKnown.has(id)) descriptions.set(id, describeMessage(bytes))
    }
    const describe = (id: string, bytes: Buffer) => {
      let description = descriptions.get(id)
      if (!description) {
        description = describeMessage(bytes)
        descriptions.set(id, description)
      }
      return description
    }
    const result = await messages.accept(this.#pool, plan, contents, describe, now)
    const results = result.deliveries.flat()
    for (const delivered of results) this.#feed.notify(delivered.mailboxId)
    // A blob row whose every target was over quota has no reference: collect it now.
    if (results.some((delivered) => delivered.status !== 'stored')) await this.#collectGarbage()
    return result
  }
  async listQueue(options?: Parameters<Store['listQueue']>[0]) {
    const { afterId, limit } = queuePage(options)
    return queue.listQueue(this.#pool, afterId, limit)
  }
  getQueueEntry(id: number) {
    return queue.getQueueEntry(this.#pool, id)
  }
  async removeQueueEntry(id: number) {
    await queue.removeQueueEntry(this.#pool, id)
    await this.#collectGarbage()
  }
  async claimQueue(options: Parameters<Store['claimQueue']>[0]) {
    const { owner, leaseMs, limit } = options
    return queue.claimQueue(this.#pool, owner, Date.now(), leaseMs, limit)
  }
  renewQueueLeases(owner: string, leaseMs: number) {
    return queue.renewQueueLeases(this.#pool, owner, Date.now() + leaseMs)
  }
  releaseQueueLeases(owner: string) {
    return queue.releaseQueueLeases(this.#pool, owner)
  }
  async finishQueueAttempt(attempt: QueueAttempt): Promise<QueueAttemptResult> {
    const plan = planAttempt(attempt)
    const result = await queue.finishAttempt(
      this.#pool,
      attempt.entryId,
      attempt.owner,
      plan,
      Date.now(),
      (_id, bytes) => describeMessage(bytes),
      (bytes) => createHash('sha256').update(bytes).digest('hex'),
    )
    if (result.removed) await this.#collectGarbage()
    return result
  }
  rescheduleQueue(id?: number) {
    return queue.rescheduleQueue(this.#pool, id, Date.now())
  }
  nextQueueAttemptAt() {
    return queue.nextQueueAttemptAt(this.#pool)
  }
  getMessages(mailboxId: number, uids: Parameters<Store['getMessages']>[1]) {
    return messages.getMessages(this.#pool, mailboxId, uids)
  }
  async getMetadata(blobId: string): Promise<MessageMetadata> {
    const row = await one<{ metadata: string }>(
      this.#pool,
      'SELECT metadata FROM blobs WHERE blob_id = $1',
      [blobId],
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
    const result = await messages.storeFlags(
      this.#pool,
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
    return (await this.#expunge(mailboxId, uids, { isDeletedOnly: true })) ?? []
  }
  deleteMessages(
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
  async #expunge(
    mailboxId: number,
    uids: Parameters<Store['expunge']>[1],
    options: messages.ExpungeOptions,
  ): Promise<number[] | null> {
    const expunged = await messages.expunge(this.#pool, mailboxId, uids, options)
    if (expunged && expunged.length > 0) {
      this.#feed.notify(mailboxId)
      await this.#collectGarbage()
    }
    return expunged
  }
  async copyMessages(from: number, uids: Parameters<Store['copyMessages']>[1], to: number) {
    const result = await messages.copyMessages(this.#pool, from, uids, to, false)
    if (result.uids.length > 0) this.#feed.notify(to)
    return result
  }
  async moveMessages(from: number, uids: Parameters<Store['moveMessages']>[1], to: number) {
    const result = await messages.copyMessages(this.#pool, from, uids, to, true)
    if (result.uids.length > 0) {
      this.#feed.notify(from)
      this.#feed.notify(to)
    }
    return result
  }
  changesSince(mailboxId: number, modseq: number) {
    return messages.changesSince(this.#pool, mailboxId, modseq)
  }
  async searchText(
    mailboxId: number,
    queries: Parameters<Store['searchText']>[1],
    uids?: Parameters<Store['searchText']>[2],
  ) {
    await mailboxes.mailboxRow(this.#pool, mailboxId)
    return messages.searchText(this.#pool, mailboxId, queries, uids)
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
    this.#feed.close()
    await this.#listener.close()
    await this.#pool.end()
  }
}
