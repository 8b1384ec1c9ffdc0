import { isIP } from 'node:net'
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import type { RelayConfig } from '../config/index.ts'
import type { MtaStsPolicies } from '../mailauth/index.ts'
import { downgrade8bit } from '../mime/index.ts'
import type { DnsResolver } from '../net/index.ts'
import {
  describeReply,
  type MessageSource,
  SmtpClient,
  SmtpClientError,
  type SmtpTimeouts,
} from '../smtp/client/index.ts'
import type { Reply } from '../smtp/proto/index.ts'
import type { QueueEntry, QueueRecipient } from '../store/index.ts'
import type { Logger } from '../util/index.ts'
import type { ConnectionPool, PooledSession } from './connection-pool.ts'
import { checkExtensions, needsSmtputf8 } from './extensions.ts'
import {
  STS_STATUS,
  type StsConnection,
  type StsGuard,
  StsViolation,
  stsGuardFor,
} from './mta-sts.ts'
import { readAll } from './read-all.ts'
import { type Route, RouteError, resolveRoute, resolveSmartHost } from './route.ts'

// One delivery attempt for the recipients of one queue entry at one destination domain: find
// the hosts (RFC 5321 §5.1), take the first that talks, send, and turn every reply into an
// outcome per recipient. Nothing here touches the store; the queue records what this returns.

export interface RecipientResult {
  id: number
  kind: 'delivered' | 'deferred' | 'bounced'
  /** One line: the peer's reply, or what went wrong here, for `queue show` and notices. */
  reply: string
  /** RFC 3463 status for the notice's Status field. */
  status: string
  /** The host that gave the reply, for the notice's Remote-MTA; null when none did. */
  remoteMta: string | null
  /** The peer's reply itself, for the notice's Diagnostic-Code; null when it was ours. */
  diagnostic: string | null
  /** The next hop announced DSN and took NOTIFY over (RFC 3461 §6.2.1): no success notice here. */
  isDsnPassedOn: boolean
}

export interface RelayJob {
  entry: QueueEntry
  /** All of one destination domain, at most MAX_RECIPIENTS_PER_TRANSACTION. */
  recipients: QueueRecipient[]
  /** The destination: the recipients' domain as written (a domain or an address literal). */
  destination: string
  /** The message as queued, streamed from the store. */
  read(): AsyncIterable<Buffer>
}

export interface RelayOptions {
  /** Our name in EHLO; also how a loop back to ourselves is recognised in a greeting. */
  hostname: string
  config: RelayConfig
  /** The smart host's CA file contents, when the config names one. */
  smartHostCa: Buffer | null
  resolver: DnsResolver
  pool: ConnectionPool
  /** MTA-STS policies for MX deliveries (RFC 8461); null when `[mta_sts] enforce_outbound` is off. */
  mtaSts: MtaStsPolicies | null
  log: Logger
}

/** RFC 5321 §4.5.3.1.8: a server takes at least 100 recipients per transaction. */
export const MAX_RECIPIENTS_PER_TRANSACTION = 100
/** Addresses tried per attempt, across all MX hosts (Postfix's smtp_mx_address_limit is 5). */
const MAX_ADDRESSES = 5
/** How long a domain's route is reused before the DNS is asked again. */
const ROUTE_TTL_MS = 60_000
/** How long a host whose TLS handshake failed is spoken to in plain text. */
const TLS_FAILURE_MS = 3_600_000

interface Target {
  address: string
  port: number
  /** The MX name (or smart host name): SNI, logs and Remote-MTA. */
  name: string
}

export class Relay {
  readonly #options: RelayOptions
  readonly #routes = new Map<string, { route: Route; until: number }>()
  readonly #tlsFailed = new Map<string, number>()

  constructor(options: RelayOptions) {
    this.#options = options
  }

  async deliver(job: RelayJob): Promise<RecipientResult[]> {
    const everyone = (kind: RecipientResult['kind'], status: string, reply: string) =>
      job.recipients.map((r) => result(r.id, kind, status, reply, null))
    let targets: Target[]
    try {
      const found = await this.#targets(job.destination)
      if (!Array.isArray(found)) return everyone('bounced', found.status, found.reply)
      targets = found
    } catch (error) {
      if (!(error instanceof RouteError)) throw error
      return everyone(
        'deferred',
        '4.4.3',
        `DNS lookup for ${job.destination} failed: ${error.message}`,
      )
    }
    const sts = await stsGuardFor(job.destination, this.#options)
    if (sts !== null) {
      const selected = sts.select(targets)
      if ('reply' in selected) return everyone('deferred', STS_STATUS, selected.reply)
      targets = selected.targets
    }
    let lastError = `no host for ${job.destination} could be reached`
    let stsFailure: string | null = null
    for (const target of targets.slice(0, MAX_ADDRESSES)) {
      let session: PooledSession
      try {
        session = await this.#session(target, sts)
      } catch (error) {
        lastError = describeFailure(target, error)
        if (error instanceof LoopError) return everyone('bounced', '5.4.6', lastError)
        if (error instanceof StsViolation) stsFailure = lastError
        this.#options.log.info(
          { host: target.name, address: target.address, error: lastError },
          'relay host unusable, trying the next',
        )
        continue
      }
      return this.#transaction(job, target, session)
    }
    // RFC 8461 §5: a host refused under an enforced policy is never given the mail in clear.
    if (sts !== null && stsFailure !== null) {
      return everyone('deferred', STS_STATUS, sts.deferral(stsFailure))
    }
    return everyone('deferred', '4.4.1', lastError)
  }

  /** Where the destination's mail goes, or why it cannot go anywhere (a bounce). */
  async #targets(destination: string): Promise<Target[] | { status: string; reply: string }> {
    const { config } = this.#options
    if (config.smartHost !== null) {
      const { host, port } = config.smartHost.address
      if (isIP(host) !== 0) return [{ address: host, port, name: host }]
      // Through the configured resolver, like every other lookup ([dns] servers).
      const route = await this.#route(host, () => resolveSmartHost(host, this.#options.resolver))
      if (route.kind !== 'hosts') throw new RouteError(`the smart host ${host} has no address`)
      return route.hosts.flatMap((h) =>
        h.addresses.map((address) => ({ address, port, name: host })),
      )
    }
    const route = await this.#route(destination, () =>
      resolveRoute(destination, this.#options.resolver),
    )
    switch (route.kind) {
      case 'null-mx': // RFC 7505 §3
        return { status: '5.1.10', reply: `${destination} accepts no mail (null MX)` }
      case 'no-such-domain':
        return { status: '5.1.2', reply: `Domain ${destination} does not exist` }
      case 'no-hosts':
        return { status: '5.4.4', reply: `No mail host for ${destination}: ${route.reason}` }
      case 'hosts':
        return route.hosts.flatMap((host) =>
          host.addresses.map((address) => ({ address, port: config.port, name: host.name })),
        )
    }
  }

  /** A destination's route, looked up at most once per ROUTE_TTL_MS. */
  async #route(destination: string, lookUp: () => Promise<Route>): Promise<Route> {
    const key = destination.toLowerCase()
    const now = Date.now()
    let cached = this.#routes.get(key)
    if (cached === undefined || cached.until <= now) {
      cached = { route: await lookUp(), until: now + ROUTE_TTL_MS }
      this.#routes.set(key, cached)
    }
    return cached.route
  }

  /** A session ready for MAIL: from the pool, or connected, greeted, TLS and AUTH done. */
  async #session(target: Target, sts: StsGuard | null): Promise<PooledSession> {
    // A session whose certificate was verified for this name is pooled apart from the others.
    const enforced = sts?.isEnforced === true
    const key = `${target.address}|${target.port}${enforced ? `|sts:${target.name}` : ''}`
    const pooled = this.#options.pool.take(key)
    if (pooled !== null) return pooled
    // RFC 8461 §5: under an enforced policy there is no fallback to plain text.
    if (enforced) return { client: await this.#open(target, true, sts), uses: 0, key }
    const smart = this.#options.config.smartHost
    const failedAt = this.#tlsFailed.get(key)
    const tryTls =
      smart !== null || failedAt === undefined || Date.now() - failedAt > TLS_FAILURE_MS
    try {
      return { client: await this.#open(target, tryTls, sts), uses: 0, key }
    } catch (error) {
      // Opportunistic TLS (RFC 7435): a host whose handshake fails still gets its mail, in the
      // clear, as Postfix does at security level "may". A smart host never does.
      if (!(error instanceof SmtpClientError) || error.phase !== 'STARTTLS' || smart !== null) {
        throw error
      }
      if (error.kind !== 'tls' && error.kind !== 'reply') throw error
      this.#tlsFailed.set(key, Date.now())
      return { client: await this.#open(target, false, sts), uses: 0, key }
    }
  }

  async #open(target: Target, tryTls: boolean, sts: StsGuard | null): Promise<SmtpClient> {
    const { config, hostname, smartHostCa } = this.#options
    const smart = config.smartHost
    const check: StsConnection | null = sts?.connection(target.name) ?? null
    const tls: TlsOptions =
      smart !== null
        ? { rejectUnauthorized: smart.verifyCertificate, ...(smartHostCa && { ca: smartHostCa }) }
        : // Opportunistic TLS cannot check a certificate: MX names are not authenticated, unless
          // an MTA-STS policy names them (RFC 8461 §4).
          (check?.tls ?? { rejectUnauthorized: false })
    const client = await SmtpClient.connect({
      host: target.address,
      port: target.port,
      localAddress: config.sourceAddress ?? undefined,
      servername: isName(target.name) ? target.name : undefined,
      implicitTls: smart?.tls === 'implicit',
      tls,
      timeouts: this.#timeouts(),
    })
    try {
      // RFC 5321 §5.2: a greeting with our own name means the MX points back at us.
      const greeter = client.greeting.lines[0]?.split(' ')[0]?.toLowerCase()
      if (greeter === hostname.toLowerCase()) throw new LoopError(target)
      const capabilities = await client.hello(hostname)
      check?.checkOffer(capabilities)
      if (tryTls && !client.isSecure && (capabilities.startTls || smart?.tls === 'starttls')) {
        await client.startTls().catch((error: Error) => {
          throw check?.tlsFailed(error) ?? error
        })
        await client.hello(hostname)
      }
      check?.checkSession(client.isSecure, capabilities)
      if (smart !== null && smart.tls !== 'opportunistic' && !client.isSecure) {
        throw new SmtpClientError('tls', 'STARTTLS', `${target.name} does not offer STARTTLS`)
      }
      if (smart?.credentials) {
        await client.authenticate(smart.credentials.username, smart.credentials.password)
      }
      return client
    } catch (error) {
      client.close()
      throw error
    }
  }

  #timeouts(): Partial<SmtpTimeouts> {
    const { connectTimeoutMs, commandTimeoutMs } = this.#options.config
    if (commandTimeoutMs === null) return { connect: connectTimeoutMs }
    const t = commandTimeoutMs
    return {
      connect: connectTimeoutMs,
      greeting: t,
      mail: t,
      rcpt: t,
      dataInit: t,
      dataBlock: t,
      dataEnd: t,
      command: t,
    }
  }

  /** MAIL, RCPTs and the message on a ready session; the session goes back to the pool. */
  async #transaction(
    job: RelayJob,
    target: Target,
    session: PooledSession,
  ): Promise<RecipientResult[]> {
    const { entry, recipients } = job
    const { client } = session
    const capabilities = client.capabilities
    const remote = target.name
    const everyone = (kind: RecipientResult['kind'], status: string, reply: string) =>
      recipients.map((r) => result(r.id, kind, status, reply, remote))
    try {
      // RFC 6531 §3.4: a message flagged SMTPUTF8 whose envelope and header are ASCII after all
      // goes without the flag to a host that lacks it, as Postfix does; only a real need bounces.
      const needsUtf8 =
        entry.smtputf8 && !capabilities.smtputf8 && (await needsSmtputf8(entry, recipients, job))
      const refusal = checkExtensions(entry, needsUtf8, capabilities, remote)
      if (refusal !== null) {
        this.#options.pool.give(session)
        return everyone('bounced', refusal.status, refusal.reply)
      }
      let message: MessageSource = { size: entry.size, chunks: () => job.read() }
      if (entry.body === '8bitmime' && !capabilities.eightBitMime) {
        // RFC 6152 §3: 8-bit content goes to a host without 8BITMIME only converted to 7 bits.
        const converted = downgrade8bit(await readAll(job.read()))
        if (converted === null) {
          this.#options.pool.give(session)
          return everyone(
            'bounced',
            '5.6.3',
            `${remote} does not accept 8-bit data (no 8BITMIME) and the message cannot be converted`,
          )
        }
        message = {
          size: converted.length,
          chunks: async function* () {
            yield converted
          },
        }
      }
      const sent = await client.send(
        {
          sender: entry.sender,
          recipients: recipients.map((r) => ({
            address: r.address,
            notify: r.notify,
            originalRecipient: r.originalRecipient,
          })),
          body: entry.body === '8bitmime' && !capabilities.eightBitMime ? '7bit' : entry.body,
          smtputf8: entry.smtputf8 && capabilities.smtputf8,
          envelopeId: entry.envelopeId,
          ret: entry.ret,
        },
        message,
      )
      this.#options.pool.give(session)
      return recipients.map((r, index) => {
        const rcpt = sent.recipients[index] ?? sent.mail
        const final = rcpt.code >= 200 && rcpt.code < 300 ? (sent.data ?? rcpt) : rcpt
        return fromReply(r.id, final, remote, capabilities.dsn)
      })
    } catch (error) {
      session.client.close()
      // The peer may have taken the message before the connection broke (after the final dot,
      // before its reply reached us): the retry may then deliver it twice. At least once, never
      // lost (RFC 5321 §6.1 accepts duplicates over losses).
      return everyone('deferred', '4.4.2', describeFailure(target, error))
    }
  }
}

function fromReply(id: number, reply: Reply, remote: string, hasDsn: boolean): RecipientResult {
  const kind = reply.code < 300 ? 'delivered' : reply.code < 500 ? 'deferred' : 'bounced'
  const status =
    reply.status ?? (kind === 'delivered' ? '2.0.0' : kind === 'deferred' ? '4.0.0' : '5.0.0')
  return {
    ...result(id, kind, status, `${remote} said: ${describeReply(reply)}`, remote),
    diagnostic: describeReply(reply),
    isDsnPassedOn: hasDsn,
  }
}

/** An outcome without a peer's reply behind it (ours: a DNS answer, a local delivery…). */
export function result(
  id: number,
  kind: RecipientResult['kind'],
  status: string,
  reply: string,
  remoteMta: string | null = null,
): RecipientResult {
  return { id, kind, status, reply, remoteMta, diagnostic: null, isDsnPassedOn: false }
}

class LoopError extends Error {
  constructor(target: Target) {
    super(`mail for ${target.name} loops back to myself`)
  }
}

function describeFailure(target: Target, error: unknown): string {
  const where =
    target.name === target.address ? target.address : `${target.name}[${target.address}]`
  if (error instanceof LoopError) return error.message
  if (error instanceof SmtpClientError) {
    if (error.reply !== null) return `${where} said: ${describeReply(error.reply)}`
    return `${where}: ${error.message}`
  }
  return `${where}: ${error instanceof Error ? error.message : String(error)}`
}

function isName(name: string): boolean {
  return /[a-z]/i.test(name) && !name.includes(':')
}
