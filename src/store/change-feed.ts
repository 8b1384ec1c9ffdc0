import { NotFoundError } from './errors.ts'
import type { MailboxChanges, MailboxEvent, MailboxId, MailboxWatch } from './types.ts'

interface Watcher {
  mailboxId: MailboxId
  modseq: number
  uidNext: number
  listener: (event: MailboxEvent) => void
  isStopped: boolean
}

/** A mailbox's watchers; one query at a time serves them all. */
interface MailboxWatchers {
  watchers: Set<Watcher>
  isRunning: boolean
  isPending: boolean
}

/**
 * The change feed every backend shares. A backend only says that something may have changed
 * (`notify` after its own commits, `notifyAll` when another process or node wrote); the feed
 * then asks the store what changed since each watcher's last MODSEQ. Because events are read
 * back from the store rather than passed along, a missed or coalesced notification never
 * loses an event: the next query returns everything after the last one delivered.
 */
export class ChangeFeed {
  readonly #changesSince: (mailboxId: MailboxId, modseq: number) => Promise<MailboxChanges>
  readonly #onError: (error: unknown) => void
  readonly #watchers = new Map<MailboxId, MailboxWatchers>()

  constructor(
    changesSince: (mailboxId: MailboxId, modseq: number) => Promise<MailboxChanges>,
    onError: (error: unknown) => void,
  ) {
    this.#changesSince = changesSince
    this.#onError = onError
  }

  get size(): number {
    return this.#watchers.size
  }

  watch(
    mailboxId: MailboxId,
    since: { modseq: number; uidNext: number },
    listener: (event: MailboxEvent) => void,
  ): MailboxWatch {
    const watcher: Watcher = {
      mailboxId,
      modseq: since.modseq,
      uidNext: since.uidNext,
      listener,
      isStopped: false,
    }
    let entry = this.#watchers.get(mailboxId)
    if (!entry) {
      entry = { watchers: new Set(), isRunning: false, isPending: false }
      this.#watchers.set(mailboxId, entry)
    }
    entry.watchers.add(watcher)
    // Changes may have happened between the caller's snapshot and now.
    this.#run(mailboxId)
    return { stop: () => this.#remove(watcher) }
  }

  notify(mailboxId: MailboxId): void {
    if (this.#watchers.has(mailboxId)) this.#run(mailboxId)
  }

  notifyAll(): void {
    for (const mailboxId of this.#watchers.keys()) this.#run(mailboxId)
  }

  close(): void {
    for (const entry of this.#watchers.values()) {
      for (const watcher of entry.watchers) watcher.isStopped = true
    }
    this.#watchers.clear()
  }

  #remove(watcher: Watcher): void {
    watcher.isStopped = true
    const entry = this.#watchers.get(watcher.mailboxId)
    entry?.watchers.delete(watcher)
    if (entry?.watchers.size === 0) this.#watchers.delete(watcher.mailboxId)
  }

  /**
   * One query at a time per mailbox, from the lowest MODSEQ any of its watchers has seen, shared
   * by all of them (ten thousand IDLE sessions on one mailbox cost one query per change, not ten
   * thousand); a notification during a query runs it once more.
   */
  #run(mailboxId: MailboxId): void {
    const entry = this.#watchers.get(mailboxId)
    if (entry === undefined) return
    if (entry.isRunning) {
      entry.isPending = true
      return
    }
    entry.isRunning = true
    void this.#drain(mailboxId, entry).finally(() => {
      entry.isRunning = false
      if (entry.isPending) {
        entry.isPending = false
        this.#run(mailboxId)
      }
    })
  }

  async #drain(mailboxId: MailboxId, entry: MailboxWatchers): Promise<void> {
    const watchers = [...entry.watchers]
    if (watchers.length === 0) return
    const since = watchers.reduce((low, watcher) => Math.min(low, watcher.modseq), Infinity)
    let changes: MailboxChanges
    try {
      changes = await this.#changesSince(mailboxId, since)
    } catch (error) {
      if (error instanceof NotFoundError) {
        for (const watcher of watchers) {
          if (watcher.isStopped) continue
          this.#remove(watcher)
          this.#emit(watcher, { type: 'gone' })
        }
      } else if (watchers.some((watcher) => !watcher.isStopped)) {
        this.#onError(error)
      }
      return
    }
    for (const watcher of watchers) {
      if (!watcher.isStopped) this.#deliver(watcher, changes)
    }
  }

  /** The part of `changes` this watcher has not seen, as events in the order MailboxEvent says. */
  #deliver(watcher: Watcher, changes: MailboxChanges): void {
    // Expunges and flag changes of messages the watcher knows, in MODSEQ order (within one
    // MODSEQ, expunges first); then new messages in UID order, so that sequence numbers given
    // as they are announced follow UIDs. An expunge of a message never announced is dropped.
    const known: Array<{ modseq: number; event: MailboxEvent }> = []
    for (const { uid, modseq } of changes.expunged) {
      if (modseq <= watcher.modseq) continue
      if (uid < watcher.uidNext) known.push({ modseq, event: { type: 'expunged', uid, modseq } })
    }
    const added: MailboxEvent[] = []
    let lastUid = 0
    for (const message of changes.changed) {
      if (message.modseq <= watcher.modseq) continue
      lastUid = Math.max(lastUid, message.uid)
      if (message.uid >= watcher.uidNext) added.push({ type: 'added', message })
      else known.push({ modseq: message.modseq, event: { type: 'flags', message } })
    }
    known.sort((a, b) => a.modseq - b.modseq)
    for (const event of [...known.map((entry) => entry.event), ...added]) {
      if (watcher.isStopped) return
      this.#emit(watcher, event)
    }
    if (lastUid > 0) watcher.uidNext = Math.max(watcher.uidNext, lastUid + 1)
    watcher.modseq = Math.max(watcher.modseq, changes.highestModseq)
  }

  #emit(watcher: Watcher, event: MailboxEvent): void {
    try {
      watcher.listener(event)
    } catch (error) {
      this.#onError(error)
    }
  }
}
