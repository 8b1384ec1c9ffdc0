import type { MtaStsConfig, QueueConfig, RelayConfig } from '../config/index.ts'
import { type Delivery, MAILBOX_FULL } from '../delivery/index.ts'
import type { Directory } from '../directory/index.ts'
import { openMtaStsPolicies } from '../mailauth/index.ts'
import type { DnsResolver } from '../net/index.ts'
import type {
  QueueClaim,
  QueueEntry,
  QueueRecipient,
  QueueRecipientOutcome,
  Store,
} from '../store/index.ts'
import type { Logger } from '../util/index.ts'
import { ConnectionPool } from './connection-pool.ts'
import { buildNotices, type NoticeInput, type NoticeRecipient } from './notices.ts'
import { readAll } from './read-all.ts'
import { MAX_RECIPIENTS_PER_TRANSACTION, type RecipientResult, Relay, result } from './relay.ts'
import { decideRetry, shouldWarnDelay } from './retry-policy.ts'

// The queue runner: claims due recipients from the store, groups them by destination domain,
// runs each group as one SMTP transaction (or a local delivery, for our own domains) within the
// connection limits, and records every outcome with the notices it owes in one transaction. The
// store's leases make it safe to run on several nodes at once (DESIGN.md: nothing assumes one
// process); a crashed node's recipients come back when their leases run out.
//
// At least once, never lost: a recipient is marked delivered only after the peer's 250, in a
// commit that follows it. A crash between the two sends the message again after restart.

export interface QueueOptions {
  store: Store
  directory: Directory
  delivery: Delivery
  resolver: DnsResolver
  /** Our name: EHLO, the notices' Reporting-MTA, loop detection. */
  hostname: string
  config: QueueConfig
  relay: RelayConfig
  /** The smart host's CA file contents, if configured. */
  smartHostCa?: Buffer | null
  /**
   * MTA-STS (RFC 8461) for deliveries by MX: `[mta_sts]`, and the data dir its policy cache
   * file lives in. Absent or null: no policies are looked up.
   */
  mtaSts?: { config: MtaStsConfig; dataDir: string } | null
  /** Names this node's leases: stable across restarts, different on every node. */
  owner: string
  log: Logger
}

interface Job {
  entry: QueueEntry
  recipients: QueueRecipient[]
  destination: string
  isLocal: boolean
  /** Set when the directory could not say whether the domain is ours: the job is retried. */
  lookupError?: unknown
}

/** Claimed recipients held in memory per connection slot: enough to keep every slot busy. */
const CLAIMS_PER_SLOT = 4
const MAX_CLAIM = 1000

export class OutboundQueue {
  readonly #options: QueueOptions
  readonly #pool = new ConnectionPool()
  readonly #relay: Relay
  readonly #log: Logger
  /** Jobs waiting for a slot, per destination, in the order claimed. */
  readonly #waiting = new Map<string, Job[]>()
  readonly #activeFor = new Map<string, number>()
  readonly #running = new Set<Promise<void>>()
  #active = 0
  /** Recipients claimed and not yet finished. */
  #outstanding = 0
  #isStopped = false
  #isWoken = false
  #wakeUp: (() => void) | null = null
  #loop: Promise<void> | null = null
  #renewal: NodeJS.Timeout | null = null

  constructor(options: QueueOptions) {
    this.#options = options
    this.#log = options.log
    this.#relay = new Relay({
      hostname: options.hostname,
      config: options.relay,
      smartHostCa: options.smartHostCa ?? null,
      resolver: options.resolver,
      pool: this.#pool,
      mtaSts: options.mtaSts
        ? openMtaStsPolicies({ ...options.mtaSts, resolver: options.resolver, log: options.log })
        : null,
      log: options.log,
    })
  }

  /** Takes back this node's leases from before a crash, then runs until stop(). */
  async start(): Promise<void> {
    const { store, owner, config } = this.#options
    const released = await store.releaseQueueLeases(owner)
    if (released > 0) {
      this.#log.warn({ recipients: released, owner }, 'resuming queue work a previous run left')
    }
    this.#renewal = setInterval(() => void this.#renew(), Math.max(config.leaseMs / 3, 100))
    this.#renewal.unref()
    this.#loop = this.#run()
  }

  /** New work may be due (a message was queued, or a flush): look now instead of at the next poll. */
  wake(): void {
    this.#isWoken = true
    this.#wakeUp?.()
  }

  /**
   * Stops claiming, lets running deliveries finish for up to `graceMs`, then closes the
   * connections and releases what is left, so another node (or the next start) takes it.
   */
  async stop(graceMs: number): Promise<void> {
    this.#isStopped = true
    this.wake()
    await this.#loop
    this.#waiting.clear()
    const running = Promise.all(this.#running)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      running,
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs)
      }),
    ])
    clearTimeout(timer)
    if (this.#renewal) clearInterval(this.#renewal)
    await this.#pool.close(graceMs)
    await this.#options.store.releaseQueueLeases(this.#options.owner).catch(() => 0)
  }

  async #run(): Promise<void> {
    const { store, config, owner } = this.#options
    while (!this.#isStopped) {
      this.#isWoken = false
      let wait = config.pollMs
      const room = Math.min(config.maxConnections * CLAIMS_PER_SLOT - this.#outstanding, MAX_CLAIM)
      if (room > 0) {
        try {
          const claims = await store.claimQueue({ owner, leaseMs: config.leaseMs, limit: room })
          if (claims.length > 0) {
            await this.#plan(claims)
            this.#dispatch()
            continue
          }
          const next = await store.nextQueueAttemptAt()
          if (next !== null) wait = Math.max(10, Math.min(next.getTime() - Date.now(), wait))
        } catch (error) {
          this.#log.error({ err: error }, 'queue: cannot read the queue; trying again')
        }
      }
      if (this.#isWoken || this.#isStopped) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait)
        this.#wakeUp = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wakeUp = null
    }
  }

  /** Splits claims into jobs: per destination domain, at most 100 recipients each. */
  async #plan(claims: QueueClaim[]): Promise<void> {
    const isLocal = new Map<string, boolean | { error: unknown }>()
    for (const { entry, recipientIds } of claims) {
      this.#outstanding += recipientIds.length
      const claimed = new Set(recipientIds)
      const byDestination = new Map<string, QueueRecipient[]>()
      for (const recipient of entry.recipients) {
        if (!claimed.has(recipient.id)) continue
        const destination = domainOf(recipient.address)
        const key = destination.toLowerCase()
        const list = byDestination.get(key) ?? []
        list.push(recipient)
        byDestination.set(key, list)
      }
      for (const [key, recipients] of byDestination) {
        let local = isLocal.get(key)
        if (local === undefined) {
          // A failed lookup must not send our own domain's mail out by MX: the job is deferred.
          local = await this.#options.directory
            .isLocalDomain(key)
            .catch((error: unknown) => ({ error }))
          isLocal.set(key, local)
        }
        for (let i = 0; i < recipients.length; i += MAX_RECIPIENTS_PER_TRANSACTION) {
          const part = recipients.slice(i, i + MAX_RECIPIENTS_PER_TRANSACTION)
          const job = {
            entry,
            recipients: part,
            destination: domainOf(part[0]?.address ?? ''),
            isLocal: local === true,
            ...(typeof local === 'object' && { lookupError: local.error }),
          }
          const jobs = this.#waiting.get(key) ?? []
          jobs.push(job)
          this.#waiting.set(key, jobs)
        }
      }
    }
  }

  /** Starts waiting jobs while the global and per-destination limits allow. */
  #dispatch(): void {
    const { maxConnections, maxPerDomain } = this.#options.config
    for (const [key, jobs] of this.#waiting) {
      if (this.#active >= maxConnections) return
      while (
        jobs.length > 0 &&
        this.#active < maxConnections &&
        (this.#activeFor.get(key) ?? 0) < maxPerDomain
      ) {
        const job = jobs.shift() as Job
        this.#active += 1
        this.#activeFor.set(key, (this.#activeFor.get(key) ?? 0) + 1)
        const running: Promise<void> = this.#runJob(job).finally(() => {
          this.#running.delete(running)
          this.#active -= 1
          const left = (this.#activeFor.get(key) ?? 1) - 1
          if (left === 0) this.#activeFor.delete(key)
          else this.#activeFor.set(key, left)
          this.#outstanding -= job.recipients.length
          this.#dispatch()
          this.wake()
        })
        this.#running.add(running)
      }
      if (jobs.length === 0) this.#waiting.delete(key)
    }
  }

  async #runJob(job: Job): Promise<void> {
    const { store } = this.#options
    let results: RecipientResult[]
    try {
      if (job.lookupError !== undefined) throw job.lookupError
      results = job.isLocal
        ? await this.#deliverLocally(job)
        : await this.#relay.deliver({
            entry: job.entry,
            recipients: job.recipients,
            destination: job.destination,
            read: () => store.readMessage(job.entry.blobId),
          })
    } catch (error) {
      this.#log.error({ err: error, queueId: job.entry.id }, 'queue: delivery attempt failed')
      const reason = `local error: ${error instanceof Error ? error.message : String(error)}`
      results = job.recipients.map((r) => result(r.id, 'deferred', '4.3.0', reason))
    }
    try {
      await this.#finish(job, results)
    } catch (error) {
      // The leases run out and the recipients are tried again: at least once, never lost.
      this.#log.error({ err: error, queueId: job.entry.id }, 'queue: cannot record the outcome')
    }
  }

  /** Outcomes, retry times and notices for one job, recorded in one store transaction. */
  async #finish(job: Job, results: RecipientResult[]): Promise<void> {
    const { store, config, hostname, owner } = this.#options
    const { entry } = job
    const now = Date.now()
    const at = new Date(now)
    const byId = new Map(job.recipients.map((r) => [r.id, r]))
    const outcomes: QueueRecipientOutcome[] = []
    const notice: NoticeInput = {
      entry,
      hostname,
      failed: [],
      delayed: [],
      succeeded: [],
      original: () => readAll(store.readMessage(entry.blobId)),
    }
    for (const result of results) {
      const recipient = byId.get(result.id)
      if (recipient === undefined) continue
      const about: NoticeRecipient = { recipient, ...result, lastAttemptAt: at }
      let status = result.kind
      if (status === 'deferred') {
        const decision = decideRetry(config, entry, recipient.attempts + 1, now)
        if (decision.kind === 'expired') {
          status = 'bounced'
          // RFC 3463 X.4.7: delivery time expired; the last reply says why.
          notice.failed.push({ ...about, status: '4.4.7' })
          outcomes.push({
            id: recipient.id,
            status,
            reply: `${result.reply} (gave up: message expired)`,
          })
        } else {
          const warn = shouldWarnDelay(config, entry, recipient, now)
          if (warn) {
            notice.delayed.push({
              ...about,
              retryUntil: new Date(entry.createdAt.getTime() + config.lifetimeMs),
            })
          }
          outcomes.push({
            id: recipient.id,
            status,
            reply: result.reply,
            nextAttemptAt: decision.at,
            delayNotified: warn,
          })
        }
      } else {
        if (status === 'bounced') notice.failed.push(about)
        else if (!result.isDsnPassedOn) {
          notice.succeeded.push({ ...about, action: job.isLocal ? 'delivered' : 'relayed' })
        }
        outcomes.push({ id: recipient.id, status, reply: result.reply })
      }
      this.#log.info(
        {
          queueId: entry.id,
          from: entry.sender,
          to: recipient.address,
          relay: result.remoteMta ?? (job.isLocal ? 'local' : null),
          status: result.status,
          attempts: recipient.attempts + 1,
          reply: result.reply,
        },
        status === 'delivered' ? 'delivered' : status === 'bounced' ? 'bounced' : 'deferred',
      )
    }
    const notices = await buildNotices(notice)
    const finished = await store.finishQueueAttempt({ entryId: entry.id, owner, outcomes, notices })
    if (finished.stale.length > 0) {
      this.#log.warn(
        { queueId: entry.id, recipients: finished.stale },
        'queue: lease lost before the outcome was recorded; another runner has these recipients',
      )
    }
    for (const queued of finished.notices) {
      this.#log.info(
        { queueId: queued.id, of: entry.id, to: entry.sender },
        'delivery status notification queued',
      )
    }
    if (finished.notices.length > 0) this.wake()
  }

  /** A recipient in one of our own domains: filed through local delivery (a full mailbox, retried). */
  async #deliverLocally(job: Job): Promise<RecipientResult[]> {
    const { directory, delivery, store } = this.#options
    const { entry } = job
    const bytes = await readAll(store.readMessage(entry.blobId))
    const results: RecipientResult[] = []
    for (const recipient of job.recipients) {
      const resolution = await directory.resolve(recipient.address)
      if (resolution.kind !== 'deliver') {
        results.push(
          result(recipient.id, 'bounced', '5.1.1', `${recipient.address}: no such recipient here`),
        )
        continue
      }
      let isFull = false
      for (const { account } of resolution.local) {
        if ((await delivery.deliverQueued(entry.sender, account, bytes)) === 'over-quota')
          isFull = true
      }
      if (resolution.remote.length > 0) {
        // An alias that forwards: the forwarded copy is a queue entry of its own.
        await store.acceptMessage({
          deliveries: [],
          queue: {
            message: { bytes },
            entry: {
              sender: entry.sender,
              recipients: resolution.remote.map((address) => ({
                address,
                originalRecipient: recipient.originalRecipient ?? `rfc822;${recipient.address}`,
                notify: recipient.notify,
              })),
              envelopeId: entry.envelopeId,
              ret: entry.ret,
              body: entry.body,
              smtputf8: entry.smtputf8,
              submittedBy: entry.submittedBy,
            },
          },
        })
      }
      results.push(
        isFull
          ? result(recipient.id, 'deferred', '4.2.2', MAILBOX_FULL)
          : result(recipient.id, 'delivered', '2.0.0', 'delivered to the local mailbox'),
      )
    }
    return results
  }

  async #renew(): Promise<void> {
    if (this.#outstanding === 0) return
    try {
      await this.#options.store.renewQueueLeases(this.#options.owner, this.#options.config.leaseMs)
    } catch (error) {
      this.#log.warn({ err: error }, 'queue: cannot renew leases')
    }
  }
}

/** The part after the last "@": a domain or an address literal. */
function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1)
}
