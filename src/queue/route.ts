import { isIP } from 'node:net'
import { domainToASCII } from 'node:url'
import { DnsError, type DnsErrorCode, type DnsResolver } from '../net/index.ts'

/** One host to try, with its addresses in the order to try them. */
export interface RouteHost {
  /**
   * The MX exchange, or the domain itself for an implicit MX: an A-label, lower case, no
   * trailing dot. An IP address when the destination is an address literal or an MX record
   * names an address.
   */
  name: string
  preference: number
  /** The A records, then the AAAA records, each in the order the DNS gave them. */
  addresses: string[]
  /** True when no MX record named the host: the domain's own address, or an address literal. */
  isImplicit: boolean
}

export type Route =
  /** In the order to try. */
  | { kind: 'hosts'; hosts: RouteHost[] }
  /** The domain says it accepts no mail (RFC 7505): bounce with 5.1.10. */
  | { kind: 'null-mx' }
  /** The domain does not exist, or is no domain at all: bounce with 5.1.2. */
  | { kind: 'no-such-domain' }
  /** The DNS answered for certain, and no host has an address: bounce with 5.4.4. */
  | { kind: 'no-hosts'; reason: string }

/** A temporary DNS failure: the route is unknown for now, so the caller tries later (4.4.3). */
export class RouteError extends Error {
  override readonly name = 'RouteError'
}

/**
 * The most MX hosts looked at, after sorting: the lookups per destination stay bounded whatever
 * a zone lists. Like Postfix's smtp_mx_address_limit, though that one counts addresses (5).
 */
export const MAX_MX_HOSTS = 10

export interface ResolveRouteOptions {
  /** Orders MX hosts of equal preference; Math.random unless a test fixes it. */
  random?: () => number
}

/**
 * Where mail for `destination` goes (RFC 5321 §5.1). `destination` is the domain part of a
 * recipient address as written: a domain, U-labels allowed, or an address literal.
 */
export async function resolveRoute(
  destination: string,
  resolver: DnsResolver,
  options: ResolveRouteOptions = {},
): Promise<Route> {
  if (destination.startsWith('[')) {
    const address = parseAddressLiteral(destination)
    if (address === undefined) return { kind: 'no-such-domain' }
    return {
      kind: 'hosts',
      hosts: [{ name: address, preference: 0, addresses: [address], isImplicit: true }],
    }
  }
  const domain = toALabels(destination)
  if (domain === undefined) return { kind: 'no-such-domain' }

  let records: { exchange: string; priority: number }[]
  try {
    records = await resolver.resolveMx(domain)
  } catch (error) {
    const failure = classify(error)
    if (failure.code === 'nxdomain') return { kind: 'no-such-domain' }
    // Never the domain's own address instead: a broken DNS is no proof that there is no MX.
    if (failure.code === 'temporary') {
      throw new RouteError(`MX lookup for ${domain} failed: ${failure.message}`, { cause: error })
    }
    records = []
  }

  // No MX records: the domain itself is the host, with preference 0 (RFC 5321 §5.1).
  if (records.length === 0) {
    const host = await lookUpHost(domain, 0, true, resolver)
    if (host.route.addresses.length > 0) return { kind: 'hosts', hosts: [host.route] }
    if (host.isTemporary) {
      throw new RouteError(`address lookup for ${domain} failed: ${host.detail}`)
    }
    return {
      kind: 'no-hosts',
      reason: `${domain} has no MX record and no address of its own (${host.detail})`,
    }
  }

  const [only] = records
  // A single MX of preference 0 naming the root: the domain accepts no mail (RFC 7505 §3).
  if (records.length === 1 && only !== undefined && only.priority === 0 && isRoot(only.exchange)) {
    return { kind: 'null-mx' }
  }

  const random = options.random ?? Math.random
  // Lowest preference first, equal preferences in random order (RFC 5321 §5.1).
  const sorted = records
    .map((record) => ({ record, key: random() }))
    .sort((a, b) => a.record.priority - b.record.priority || a.key - b.key)
  const seen = new Set<string>()
  const candidates: { name: string; preference: number }[] = []
  for (const { record } of sorted) {
    const name = record.exchange.toLowerCase().replace(/\.$/, '')
    // A root exchange beside other records is a broken null MX (RFC 7505 §3): nothing to try.
    if (name === '' || seen.has(name)) continue
    seen.add(name)
    candidates.push({ name, preference: record.priority })
    if (candidates.length === MAX_MX_HOSTS) break
  }
  if (candidates.length === 0) {
    return { kind: 'no-hosts', reason: `the MX records of ${domain} name no host` }
  }

  const looked = await Promise.all(
    candidates.map(({ name, preference }) => lookUpHost(name, preference, false, resolver)),
  )
  const hosts = looked.map((host) => host.route).filter((host) => host.addresses.length > 0)
  // A host that failed for now is skipped when another can take the mail.
  if (hosts.length > 0) return { kind: 'hosts', hosts }
  const details = looked.map((host) => `${host.route.name}: ${host.detail}`).join('; ')
  if (looked.some((host) => host.isTemporary)) {
    throw new RouteError(`no MX host of ${domain} has an address yet (${details})`)
  }
  return { kind: 'no-hosts', reason: `no MX host of ${domain} has an address (${details})` }
}

/** The smart host's own addresses (A, then AAAA); no MX lookup for it. */
export async function resolveSmartHost(host: string, resolver: DnsResolver): Promise<Route> {
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

/** "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3) to its address; else undefined. */
function parseAddressLiteral(literal: string): string | undefined {
  if (!literal.endsWith(']')) return undefined
  const inner = literal.slice(1, -1)
  if (isIP(inner) === 4) return inner
  // The tag is an ABNF string, case-insensitive: "ipv6:" is as good as "IPv6:".
  if (!/^ipv6:/i.test(inner)) return undefined
  const address = inner.slice('IPv6:'.length)
  if (isIP(address) !== 6) return undefined
  // One spelling per address: "2001:DB8:0::1" and "2001:db8::1" are the same host.
  return new URL(`http://[${address}]/`).hostname.slice(1, -1)
}

/** The domain in A-labels, lower case, without a trailing dot; undefined when it is none. */
function toALabels(domain: string): string | undefined {
  // Empty for a name IDNA refuses.
  const ascii = domainToASCII(domain).replace(/\.$/, '')
  if (ascii === '') return undefined
  // A bare address is no domain (literals need brackets, RFC 5321 §4.1.3); IDNA would also
  // read "1.2.3" as an IPv4 address.
  if (isIP(ascii) !== 0) return undefined
  // The DNS's own bounds: labels of 1-63 octets, 253 in all without the final dot.
  if (ascii.length > 253) return undefined
  if (ascii.split('.').some((label) => label.length === 0 || label.length > 63)) return undefined
  return ascii
}

function isRoot(exchange: string): boolean {
  return exchange === '' || exchange === '.'
}

interface HostLookup {
  route: RouteHost
  /** Some lookup failed for now, so the missing addresses may yet exist. */
  isTemporary: boolean
  /** Why there are no addresses, for a bounce or a log line. */
  detail: string
}

async function lookUpHost(
  name: string,
  preference: number,
  isImplicit: boolean,
  resolver: DnsResolver,
): Promise<HostLookup> {
  // An MX must name a host (RFC 5321 §5.1), but some name an address; like Postfix, use it.
  if (isIP(name) !== 0) {
    return {
      route: { name, preference, addresses: [name], isImplicit },
      isTemporary: false,
      detail: '',
    }
  }
  // Both families are asked; one with no records is fine when the other has some.
  const [v4, v6] = await Promise.all([
    addressesOf(resolver.resolve4(name)),
    addressesOf(resolver.resolve6(name)),
  ])
  const addresses = [...v4.addresses, ...v6.addresses]
  const route = { name, preference, addresses, isImplicit }
  const temporary = [v4, v6].find((family) => family.failure?.code === 'temporary')
  if (temporary?.failure !== undefined) {
    return { route, isTemporary: true, detail: temporary.failure.message }
  }
  const isNxdomain = v4.failure?.code === 'nxdomain' && v6.failure?.code === 'nxdomain'
  const detail = isNxdomain ? 'no such host' : 'no A or AAAA record'
  return { route, isTemporary: false, detail }
}

interface Failure {
  code: DnsErrorCode
  message: string
}

async function addressesOf(
  lookup: Promise<string[]>,
): Promise<{ addresses: string[]; failure?: Failure }> {
  try {
    const addresses = await lookup
    return addresses.length > 0
      ? { addresses }
      : { addresses, failure: { code: 'nodata', message: 'no records' } }
  } catch (error) {
    return { addresses: [], failure: classify(error) }
  }
}

/** Anything but a DnsError's nxdomain or nodata says nothing certain: temporary. */
function classify(error: unknown): Failure {
  if (error instanceof DnsError) return { code: error.code, message: error.message }
  return { code: 'temporary', message: error instanceof Error ? error.message : String(error) }
}
