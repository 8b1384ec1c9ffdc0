import { isIP } from 'node:net'
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import type { RelayConfig } from '../config/index.ts'
import { downgrade8bit } from '../mime/index.ts'
import { DnsError, type DnsResolver } from '../net/index.ts'
import {
  describeReply,
  type MessageSource,
  type SmtpCapabilities,
  SmtpClient,
  SmtpClientError,
  type SmtpTimeouts,
} from '../smtp/client/index.ts'
import type { Reply } from '../smtp/proto/index.ts'
import type { QueueEntry, QueueRecipient } from '../store/index.ts'
import type { Logger } from '../util/index.ts'
import type { ConnectionPool, PooledSession } from './connection-pool.ts'
import { readAll } from './read-all.ts'
import { type Route, RouteError, resolveRoute } from './route.ts'

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
    let lastError = `no host for ${job.destination} could be reached`
    for (const target of targets.slice(0, MAX_ADDRESSES)) {
      let session: PooledSession
      try {
        session = await this.#session(target)
      } catch (error) {
        lastError = describeFailure(target, error)
        if (error instanceof LoopError) return everyone('bounced', '5.4.6', lastError)
        this.#options.log.info(
          { host: target.name, address: target.address, error: lastError },
          'relay host unusable, trying the next',
        )
        continue
      }
      return this.#transaction(job, target, session)
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
  async #session(target: Target): Promise<PooledSession> {
    const key = `${target.address}|${target.port}`
    const pooled = this.#options.pool.take(key)
    if (pooled !== null) return pooled
    const smart = this.#options.config.smartHost
    const failedAt = this.#tlsFailed.get(key)
    const tryTls =
      smart !== null || failedAt === undefined || Date.now() - failedAt > TLS_FAILURE_MS
    try {
      return { client: await this.#open(target, tryTls), uses: 0, key }
    } catch (error) {
      // Opportunistic TLS (RFC 7435): a host whose handshake fails still gets its mail, in the
      // clear, as Postfix does at security level "may". A smart host never does.
      if (!(error instanceof SmtpClientError) || error.phase !== 'STARTTLS' || smart !== null) {
        throw error
      }
      if (error.kind !== 'tls' && error.kind !== 'reply') throw error
      this.#tlsFailed.set(key, Date.now())
      return { client: await this.#open(target, false), uses: 0, key }
    }
  }

  async #open(target: Target, tryTls: boolean): Promise<SmtpClient> {
    const { config, hostname, smartHostCa } = this.#options
    const smart = config.smartHost
    const tls: TlsOptions =
      smart === null
        ? // Opportunistic TLS cannot check a certificate: MX names are not authenticated.
          { rejectUnauthorized: false }
        : { rejectUnauthorized: smart.verifyCertificate, ...(smartHostCa && { ca: smartHostCa }) }
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
      if (tryTls && !client.isSecure && (capabilities.startTls || smart?.tls === 'starttls')) {
        await client.startTls()
        await client.hello(hostname)
      }
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

/** The smart host's own addresses (A, then AAAA); no MX lookup for it. */
async function resolveSmartHost(host: string, resolver: DnsResolver): Promise<Route> {
  const lookUp = (family: Promise<string[]>) =>
    family.catch((error: unknown) => {
      if (error instanceof DnsError && error.code !== 'temporary') return []
      throw new RouteError(`DNS lookup for ${host} failed: ${(error as Error).message}`)
    })
  const addresses = [
    ...(await lookUp(resolver.resolve4(host))),
    ...(await lookUp(resolver.resolve6(host))),
  ]
  if (addresses.length === 0) return { kind: 'no-hosts', reason: `${host} has no address` }
  return { kind: 'hosts', hosts: [{ name: host, preference: 0, addresses, isImplicit: true }] }
}

/** What the peer lacks that this message needs; such a message bounces (it cannot ever go). */
function checkExtensions(
  entry: QueueEntry,
  needsUtf8: boolean,
  capabilities: SmtpCapabilities,
  remote: string,
): { status: string; reply: string } | null {
  if (needsUtf8) {
    // RFC 6531 §3.4: an SMTPUTF8 message is not sent to a server that lacks it.
    return {
      status: '5.6.7',
      reply: `${remote} does not support SMTPUTF8, which the message needs`,
    }
  }
  if (entry.body === 'binarymime' && !(capabilities.binaryMime && capabilities.chunking)) {
    return { status: '5.6.3', reply: `${remote} does not accept binary data (no BINARYMIME)` }
  }
  return null
}

/** Whether the envelope or the header section holds non-ASCII (the body is 8BITMIME's business). */
async function needsSmtputf8(
  entry: QueueEntry,
  recipients: readonly QueueRecipient[],
  job: RelayJob,
): Promise<boolean> {
  const isAscii = (text: string) => [...text].every((c) => c.charCodeAt(0) < 0x80)
  if (!isAscii(entry.sender) || recipients.some((r) => !isAscii(r.address))) return true
  const parts: Buffer[] = []
  let size = 0
  for await (const chunk of job.read()) {
    parts.push(chunk)
    size += chunk.length
    const seen = Buffer.concat(parts, size)
    const end = seen.indexOf('\r\n\r\n')
    const head = end < 0 ? seen : seen.subarray(0, end)
    if (head.some((octet) => octet > 0x7f)) return true
    if (end >= 0) return false
  }
  return false
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
