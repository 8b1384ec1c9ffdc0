import pg from 'pg'

const CHANNEL = 'postern_mailbox'
const FIRST_RETRY_MS = 100
const LAST_RETRY_MS = 10_000

/**
 * The cross-node half of the change feed: one dedicated connection LISTENing for the mailbox ids
 * that transactions on any node NOTIFY at commit. When the connection drops it is made again
 * with growing delays; notifications sent meanwhile are lost, so after every (re)connection
 * `onResync` asks every watcher to read its changes from the store again.
 */
export class MailboxListener {
  readonly #url: string
  readonly #onMailbox: (mailboxId: number) => void
  readonly #onResync: () => void
  readonly #onError: (error: unknown) => void
  #client: pg.Client | null = null
  #retryMs = FIRST_RETRY_MS
  #timer: NodeJS.Timeout | null = null
  #isClosed = false

  constructor(
    url: string,
    handlers: {
      onMailbox: (mailboxId: number) => void
      onResync: () => void
      onError: (error: unknown) => void
    },
  ) {
    this.#url = url
    this.#onMailbox = handlers.onMailbox
    this.#onResync = handlers.onResync
    this.#onError = handlers.onError
  }

  /** Connects once; rejects when the database cannot be reached (a start-up error). */
  async start(): Promise<void> {
    await this.#connect()
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url })
    client.on('notification', (message) => {
      const id = Number(message.payload)
      if (message.channel === CHANNEL && Number.isInteger(id)) this.#onMailbox(id)
    })
    client.on('error', (error) => {
      this.#onError(error)
      this.#lost(client)
    })
    client.on('end', () => this.#lost(client))
    await client.connect()
    await client.query(`LISTEN ${CHANNEL}`)
    this.#client = client
    this.#retryMs = FIRST_RETRY_MS
    this.#onResync()
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client || this.#isClosed) return
    this.#client = null
    client.end().catch(() => {})
    this.#schedule()
  }

  #schedule(): void {
    if (this.#isClosed || this.#timer) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#connect().catch((error: unknown) => {
        this.#onError(error)
        this.#retryMs = Math.min(this.#retryMs * 2, LAST_RETRY_MS)
        this.#schedule()
      })
    }, this.#retryMs)
    this.#timer.unref()
  }

  async close(): Promise<void> {
    this.#isClosed = true
    if (this.#timer) clearTimeout(this.#timer)
    const client = this.#client
    this.#client = null
    await client?.end().catch(() => {})
  }
}
