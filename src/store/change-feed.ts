import { NotFoundError } from './errors.ts'
import type { MailboxChanges, MailboxEvent, MailboxId, MailboxWatch } from './types.ts'

interface Watcher {
  mailboxId: MailboxId
  modseq: number
  uidNext: number
  listener: (event: MailboxEvent) => void
  isRunning: boolean
  isPending: boolean
  isStopped: boolean
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
  readonly #watchers = new Map<MailboxId, Set<Watcher>>()

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
      isRunning: false,
      isPending: false,
      isStopped: false,
    }
    let set = this.#watchers.get(mailboxId)
    if (!set) {
      set = new Set()
      this.#watchers.set(mailboxId, set)
    }
    set.add(watcher)
    // Changes may have happened between the caller's snapshot and now.
    this.#run(watcher)
    return { stop: () => this.#remove(watcher) }
  }

  notify(mailboxId: MailboxId): void {
    for (const watcher of this.#watchers.get(mailboxId) ?? []) this.#run(watcher)
  }

  notifyAll(): void {
    for (const set of this.#watchers.values()) for (const watcher of set) this.#run(watcher)
  }

  close(): void {
    for (const set of this.#watchers.values()) for (const watcher of set) watcher.isStopped = true
    this.#watchers.clear()
  }

  #remove(watcher: Watcher): void {
    watcher.isStopped = true
    const set = this.#watchers.get(watcher.mailboxId)
    set?.delete(watcher)
    if (set?.size === 0) this.#watchers.delete(watcher.mailboxId)
  }

  /** One query at a time per watcher; a notification during a query runs it once more. */
  #run(watcher: Watcher): void {
    if (watcher.isStopped) return
    if (watcher.isRunning) {
      watcher.isPending = true
      return
    }
    watcher.isRunning = true
    void this.#drain(watcher).finally(() => {
      watcher.isRunning = false
      if (watcher.isPending) {
        watcher.isPending = false
        this.#run(watcher)
      }
    })
  }

  async #drain(watcher: Watcher): Promise<void> {
    let changes: MailboxChanges
    try {
      changes = await this.#changesSince(watcher.mailboxId, watcher.modseq)
    } catch (error) {
      if (watcher.isStopped) return
      if (error instanceof NotFoundError) {
        this.#remove(watcher)
        this.#emit(watcher, { type: 'gone' })
      } else {
        this.#onError(error)
      }
      return
    }
    if (watcher.isStopped) return
    // Expunges and flag changes of messages the watcher knows, in MODSEQ order (within one
    // MODSEQ, expunges first); then new messages in UID order, so that sequence numbers given
    // as they are announced follow UIDs. An expunge of a message never announced is dropped.
    const known: Array<{ modseq: number; event: MailboxEvent }> = []
    for (const { uid, modseq } of changes.expunged) {
      if (uid < watcher.uidNext) known.push({ modseq, event: { type: 'expunged', uid, modseq } })
    }
    const added: MailboxEvent[] = []
    for (const message of changes.changed) {
      if (message.uid >= watcher.uidNext) added.push({ type: 'added', message })
      else known.push({ modseq: message.modseq, event: { type: 'flags', message } })
    }
    known.sort((a, b) => a.modseq - b.modseq)
    for (const event of [...known.map((entry) => entry.event), ...added]) {
      if (watcher.isStopped) return
      this.#emit(watcher, event)
    }
    const last = changes.changed.at(-1)
    if (last) watcher.uidNext = Math.max(watcher.uidNext, last.uid + 1)
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
