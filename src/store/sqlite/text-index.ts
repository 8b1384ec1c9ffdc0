import type { Connection } from './connection.ts'

/** Messages whose text is indexed per write transaction: short, so deliveries never wait long. */
const INDEX_BATCH = 16

/** Text indexed per write transaction, at most (one larger message is indexed on its own). */
const INDEX_BATCH_OCTETS = 256 * 1024

/** How often a busy store looks again for a quiet moment to index in. */
const RETRY_MS = 20

/**
 * Pending text past which indexing goes on even while deliveries keep coming, so that under
 * sustained load the index keeps up instead of falling ever further behind.
 */
const MAX_PENDING_BEFORE_FORCING = 2000

/**
 * Text worth indexing: not of bytes the outbound queue holds. Queued mail is never searched, and
 * its text goes when the entry does; indexing it took the relay benchmark from 1290 to 1090 msg/s. Bytes that
 * are also filed in a mailbox (rare: a local copy carries its own trace fields) are indexed once
 * the entry is gone, and searched from the pending text until then.
 */
const INDEXABLE = 'NOT EXISTS (SELECT 1 FROM queue_entries q WHERE q.blob = p.id)'

/**
 * Moves search text from blob_text_pending into the trigram index (blob_text) in the background,
 * a few messages per transaction, when no delivery is waiting for the database. Deliveries only
 * write the plain text, which is what lets a 100 KB message be received at the speed of its
 * bytes rather than of its trigrams. Nothing is lost if the process dies: pending text stays in
 * the table and the next opener indexes it.
 */
export class TextIndexer {
  readonly #c: Connection
  readonly #isBusy: () => boolean
  readonly #onError: (error: unknown) => void
  #timer: NodeJS.Timeout | null = null
  #isClosed = false

  constructor(c: Connection, isBusy: () => boolean, onError: (error: unknown) => void) {
    this.#c = c
    this.#isBusy = isBusy
    this.#onError = onError
  }

  /** Asks for a pass soon (after a delivery, and at open). */
  schedule(delayMs = RETRY_MS): void {
    if (this.#timer !== null || this.#isClosed) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#pass()
    }, delayMs)
    this.#timer.unref()
  }

  close(): void {
    this.#isClosed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #pass(): void {
    // A database from before schema version 3 indexes at delivery (see insertBlob).
    if (this.#isClosed || !this.#c.hasTable('blob_text_pending')) return
    try {
      const isBusy = this.#isBusy()
      if (isBusy && this.#pendingCount() < MAX_PENDING_BEFORE_FORCING) {
        this.schedule()
        return
      }
      // While deliveries keep coming, one batch per pause: the index catches up at its own pace
      // without taking the turns deliveries need. Once they stop, it runs flat out.
      if (this.#indexBatch()) this.schedule(isBusy ? RETRY_MS : 0)
    } catch (error) {
      this.#onError(error)
      this.schedule(1000)
    }
  }

  #pendingCount(): number {
    return Number(
      this.#c.get<{ n: number }>(`SELECT count(*) AS n FROM blob_text_pending p WHERE ${INDEXABLE}`)
        ?.n ?? 0,
    )
  }

  /** Indexes one batch; true when there may be more. */
  #indexBatch(): boolean {
    return this.#c.write(() => {
      const candidates = this.#c.all<{ id: number; size: number }>(
        `SELECT id, length(CAST(headers AS BLOB)) + length(CAST(body AS BLOB)) AS size
         FROM blob_text_pending p WHERE ${INDEXABLE} ORDER BY id LIMIT ?`,
        INDEX_BATCH,
      )
      // A batch stops at INDEX_BATCH_OCTETS of text (a large message goes alone), so one
      // transaction never holds the process for long.
      let octets = 0
      let taken = 0
      for (const { id, size } of candidates) {
        if (taken > 0 && octets + Number(size) > INDEX_BATCH_OCTETS) break
        octets += Number(size)
        taken += 1
        this.#c.run(
          `INSERT INTO blob_text (rowid, headers, body)
           SELECT id, headers, body FROM blob_text_pending WHERE id = ?`,
          id,
        )
        this.#c.run('DELETE FROM blob_text_pending WHERE id = ?', id)
      }
      return taken < candidates.length || candidates.length === INDEX_BATCH
    })
  }
}
