// The MTA-STS policies of the domains Postern relays to (RFC 8461 §3 and §5.1): discovered
// through the `_mta-sts` TXT record, fetched over HTTPS, and cached per domain in memory and in
// a JSON file in the data dir, so a restart keeps what was learnt: a cached policy protects
// the next delivery even when an attacker suppresses the TXT record or the policy host (§10.1).
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { MtaStsConfig } from '../config/index.ts'
import { DnsError, type DnsResolver } from '../net/index.ts'
import { type Logger, writeFileDurably } from '../util/index.ts'
import {
  type MtaStsPolicy,
  parseStsPolicy,
  parseStsRecord,
  policyExpiresAt,
  toALabels,
} from './mta-sts.ts'
import { fetchPolicyText } from './mta-sts-fetch.ts'

export interface MtaStsPoliciesOptions {
  resolver: DnsResolver
  /** The policy text of a domain (A-labels); throws when there is none to be had now. */
  fetchPolicy: (domain: string) => Promise<string>
  /** Trusted instead of the system's CAs for enforced MX connections; null: the system's. */
  ca: Buffer | null
  /** The JSON file policies persist in; null keeps them in memory only. */
  file: string | null
  log: Logger
  now?: () => number
}

/** The cache file's name in the data dir. */
export const CACHE_FILE = 'mta-sts-cache.json'
/** How long a TXT answer (or its absence) stands before the next delivery asks again. */
export const TXT_RECHECK_MS = 60_000
/**
 * §3.3: a failed fetch of a policy id is not tried again for five minutes, "to avoid
 * overwhelming resource-constrained recipients with cascading failures".
 */
export const FETCH_RETRY_MS = 5 * 60_000
/** §3.3: cached policies SHOULD be refreshed before they expire, suggested once a day. */
export const REFRESH_MS = 86_400_000
/** Domains remembered in memory; past it, those without a usable policy are forgotten first. */
export const MAX_DOMAINS = 10_000

interface Entry {
  /** The last policy fetched, while it has not expired. */
  policy: MtaStsPolicy | null
  /** When the TXT record was last asked for. */
  checkedAt: number
  /** The id whose fetch failed last, and when: not fetched again for FETCH_RETRY_MS. */
  failed: { id: string; at: number } | null
}

/**
 * Policies per destination domain. `policyFor` answers what applies to a delivery now: the live
 * policy, a cached one, or null (no policy: deliver as without MTA-STS). It never throws for
 * the DNS or the policy host; those are logged.
 */
export class MtaStsPolicies {
  /** For enforced MX connections (`[mta_sts] ca_file`): tests and private CAs. */
  readonly ca: Buffer | null
  readonly #options: MtaStsPoliciesOptions
  readonly #log: Logger
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()
  readonly #pending = new Map<string, Promise<MtaStsPolicy | null>>()
  #isLoaded = false

  constructor(options: MtaStsPoliciesOptions) {
    this.#options = options
    this.ca = options.ca
    this.#log = options.log
    this.#now = options.now ?? Date.now
  }

  /** The policy for mail to `domain` (as written: U-labels are fine), or null for none. */
  policyFor(domain: string): Promise<MtaStsPolicy | null> {
    const key = toALabels(domain)
    if (key === '') return Promise.resolve(null)
    this.#load()
    const entry = this.#entries.get(key)
    const now = this.#now()
    const cached = this.#usable(entry, now)
    if (entry !== undefined && now - entry.checkedAt < TXT_RECHECK_MS)
      return Promise.resolve(cached)
    // Deliveries to one domain at the same moment share one lookup (and one fetch).
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      pending = this.#refresh(key).finally(() => this.#pending.delete(key))
      this.#pending.set(key, pending)
    }
    return pending
  }

  /** The cached policy when it has not expired (§5.1 step 1). */
  #usable(entry: Entry | undefined, now: number): MtaStsPolicy | null {
    const policy = entry?.policy ?? null
    return policy !== null && policyExpiresAt(policy) > now ? policy : null
  }

  async #refresh(domain: string): Promise<MtaStsPolicy | null> {
    const now = this.#now()
    let entry = this.#entries.get(domain)
    if (entry === undefined) {
      this.#makeRoom(now)
      entry = { policy: null, checkedAt: 0, failed: null }
      this.#entries.set(domain, entry)
    }
    const cached = this.#usable(entry, now)
    const record = await this.#lookUpRecord(domain)
    entry.checkedAt = now
    if (record.kind !== 'id') {
      // §3.3: "if no 'live' policy can be discovered via DNS ..., but a valid (non-expired)
      // policy exists in the sender's cache, the sender MUST apply that cached policy". With
      // none cached, the domain has no policy; for a lookup that failed for now that is the
      // trust-on-first-use gap §10.1 describes.
      if (cached !== null) {
        this.#log.info(
          { domain, id: cached.id, mode: cached.mode, reason: record.reason },
          'MTA-STS: no live policy record; applying the cached policy',
        )
      } else if (record.kind === 'failed') {
        this.#log.warn(
          { domain, reason: record.reason },
          'MTA-STS: policy record lookup failed and nothing is cached; delivering as without a policy',
        )
      }
      return cached
    }
    // §3.1: the id changes when the policy does; an unchanged id needs no fetch until the daily
    // refresh (§3.3).
    if (cached !== null && cached.id === record.id && now - cached.fetchedAt < REFRESH_MS) {
      return cached
    }
    if (entry.failed?.id === record.id && now - entry.failed.at < FETCH_RETRY_MS) return cached
    try {
      const text = await this.#options.fetchPolicy(domain)
      const policy: MtaStsPolicy = {
        domain,
        id: record.id,
        ...parseStsPolicy(text),
        fetchedAt: now,
      }
      const changed = cached === null || cached.id !== policy.id
      entry.policy = policy
      entry.failed = null
      this.#save()
      if (changed) {
        this.#log.info(
          { domain, id: policy.id, mode: policy.mode, mx: policy.mx, maxAgeS: policy.maxAgeS },
          'MTA-STS: policy fetched',
        )
      }
      return policy
    } catch (error) {
      entry.failed = { id: record.id, at: now }
      const reason = error instanceof Error ? error.message : String(error)
      // §3.3: a policy that cannot be fetched leaves a valid cached one in force; with none, the
      // domain is treated as not implementing MTA-STS.
      if (cached !== null) {
        this.#log.warn(
          { domain, id: record.id, cachedId: cached.id, mode: cached.mode, reason },
          'MTA-STS: policy fetch failed; applying the cached policy',
        )
      } else {
        this.#log.warn(
          { domain, id: record.id, reason },
          'MTA-STS: policy fetch failed and nothing is cached; delivering as without a policy',
        )
      }
      return cached
    }
  }

  /** Keeps the memory bounded: entries without a usable policy go first, then the oldest. */
  #makeRoom(now: number): void {
    if (this.#entries.size < MAX_DOMAINS) return
    for (const [domain, entry] of this.#entries) {
      if (this.#entries.size < MAX_DOMAINS) return
      if (this.#usable(entry, now) === null && !this.#pending.has(domain)) {
        this.#entries.delete(domain)
      }
    }
    const oldest = this.#entries.keys().next()
    if (this.#entries.size >= MAX_DOMAINS && oldest.done !== true) {
      this.#entries.delete(oldest.value)
    }
  }

  async #lookUpRecord(
    domain: string,
  ): Promise<{ kind: 'id'; id: string } | { kind: 'none' | 'failed'; reason: string }> {
    let records: string[][]
    try {
      records = await this.#options.resolver.resolveTxt(`_mta-sts.${domain}`)
    } catch (error) {
      if (error instanceof DnsError && error.code !== 'temporary') {
        return { kind: 'none', reason: `no _mta-sts record (${error.code})` }
      }
      return { kind: 'failed', reason: error instanceof Error ? error.message : String(error) }
    }
    return parseStsRecord(records)
  }

  /** Reads the cache file once; expired or malformed entries are dropped. */
  #load(): void {
    if (this.#isLoaded) return
    this.#isLoaded = true
    const { file } = this.#options
    if (file === null) return
    let stored: unknown
    try {
      stored = JSON.parse(readFileSync(file, 'utf8'))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      this.#log.warn({ file, err: error }, 'MTA-STS: cache file unreadable; starting empty')
      return
    }
    const now = this.#now()
    const policies = (stored as { policies?: unknown } | null)?.policies
    for (const value of Array.isArray(policies) ? policies : []) {
      const policy = asPolicy(value)
      if (policy === null || policyExpiresAt(policy) <= now) continue
      this.#entries.set(policy.domain, { policy, checkedAt: 0, failed: null })
    }
  }

  /** Writes every unexpired policy; a failure is logged, the memory copy still serves. */
  #save(): void {
    const { file } = this.#options
    if (file === null) return
    const now = this.#now()
    const policies = [...this.#entries.values()]
      .map((entry) => entry.policy)
      .filter((policy) => policy !== null && policyExpiresAt(policy) > now)
    try {
      writeFileDurably(file, `${JSON.stringify({ version: 1, policies }, null, 2)}\n`, 0o600)
    } catch (error) {
      this.#log.warn({ file, err: error }, 'MTA-STS: cannot write the policy cache')
    }
  }
}

function asPolicy(value: unknown): MtaStsPolicy | null {
  if (typeof value !== 'object' || value === null) return null
  const { domain, id, mode, mx, maxAgeS, fetchedAt } = value as Record<string, unknown>
  const isValid =
    typeof domain === 'string' &&
    typeof id === 'string' &&
    (mode === 'enforce' || mode === 'testing' || mode === 'none') &&
    Array.isArray(mx) &&
    mx.every((pattern) => typeof pattern === 'string') &&
    typeof maxAgeS === 'number' &&
    typeof fetchedAt === 'number'
  return isValid ? { domain, id, mode, mx, maxAgeS, fetchedAt } : null
}

export interface OpenMtaStsOptions {
  config: MtaStsConfig
  /** Where the cache file lives. */
  dataDir: string
  resolver: DnsResolver
  log: Logger
}

/**
 * The policies for outbound delivery from `[mta_sts]`, or null when enforce_outbound is off.
 * @throws Error when ca_file cannot be read.
 */
export function openMtaStsPolicies(options: OpenMtaStsOptions): MtaStsPolicies | null {
  const { config, resolver } = options
  if (!config.enforceOutbound) return null
  let ca: Buffer | null = null
  if (config.caFile !== null) {
    try {
      ca = readFileSync(config.caFile)
    } catch (error) {
      throw new Error(
        `mta_sts.ca_file: cannot read "${config.caFile}": ${(error as Error).message}`,
      )
    }
  }
  return new MtaStsPolicies({
    resolver,
    ca,
    fetchPolicy: (domain) =>
      fetchPolicyText(domain, {
        resolver,
        port: config.httpsPort,
        ca,
        timeoutMs: config.fetchTimeoutMs,
      }),
    file: path.join(options.dataDir, CACHE_FILE),
    log: options.log,
  })
}
