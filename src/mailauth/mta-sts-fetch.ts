// Fetches a domain's MTA-STS policy file (RFC 8461 §3.3) from
// https://mta-sts.<domain>/.well-known/mta-sts.txt through Postern's own DNS resolver (`[dns]
// servers`) rather than the system's, on the configured port, trusting the configured CA file
// when there is one: what mailauth's own fetcher cannot be told to do. No redirects, no HTTP
// caching, a bounded body and an overall timeout.
import type { IncomingMessage } from 'node:http'
import { request } from 'node:https'
import { DnsError, type DnsResolver } from '../net/index.ts'
import { MtaStsError, verifiedTlsOptions } from './mta-sts.ts'

export interface PolicyFetchOptions {
  resolver: DnsResolver
  /** 443, or a test's loopback port. */
  port: number
  /** Trusted instead of the system's CAs; null: the system's. */
  ca: Buffer | null
  /** For the whole fetch: address lookups, connection, TLS, response. */
  timeoutMs: number
}

/** RFC 8461 §3.3 suggests 64 KiB as the largest policy a sender takes. */
export const MAX_POLICY_OCTETS = 64 * 1024
/** Addresses of the policy host tried before giving up. */
const MAX_ADDRESSES = 3
const WELL_KNOWN_PATH = '/.well-known/mta-sts.txt'

/**
 * The policy text of `domain` (A-labels). Throws MtaStsError (or the DnsError of a failed
 * lookup) when there is none to be had now, for whatever reason: the caller then keeps a cached
 * policy or goes on as if the domain had none (§3.3).
 */
export async function fetchPolicyText(
  domain: string,
  options: PolicyFetchOptions,
): Promise<string> {
  const host = `mta-sts.${domain}`
  const deadline = Date.now() + options.timeoutMs
  const addresses = await addressesOf(host, options.resolver)
  if (addresses.length === 0) throw new MtaStsError(`${host} has no address`)
  let lastError: unknown = null
  for (const address of addresses.slice(0, MAX_ADDRESSES)) {
    const left = deadline - Date.now()
    if (left <= 0) break
    try {
      return await get(host, address, options, left)
    } catch (error) {
      // Only a connection that failed is worth another address; an answer is the answer.
      if (error instanceof MtaStsError) throw error
      lastError = error
    }
  }
  const why = lastError instanceof Error ? lastError.message : 'timed out'
  throw new MtaStsError(`cannot fetch https://${host}${WELL_KNOWN_PATH}: ${why}`, {
    cause: lastError,
  })
}

/**
 * A, then AAAA, as the DNS gave them; an empty list when the name has neither. A family that
 * failed for now matters only when the other gave nothing: then it is the DnsError thrown.
 */
async function addressesOf(host: string, resolver: DnsResolver): Promise<string[]> {
  const families = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)])
  const addresses = families.flatMap((family) =>
    family.status === 'fulfilled' ? family.value : [],
  )
  if (addresses.length > 0) return addresses
  for (const family of families) {
    if (family.status === 'fulfilled') continue
    const error: unknown = family.reason
    if (!(error instanceof DnsError) || error.code === 'temporary') throw error
  }
  return []
}

/** One GET to one address. Connection failures are plain Errors, bad answers MtaStsErrors. */
function get(host: string, address: string, options: PolicyFetchOptions, timeoutMs: number) {
  const url = `https://${host}${WELL_KNOWN_PATH}`
  return new Promise<string>((resolve, reject) => {
    let isDone = false
    const finish = (error: Error | null, text = '') => {
      if (isDone) return
      isDone = true
      clearTimeout(timer)
      req.destroy()
      if (error === null) resolve(text)
      else reject(error)
    }
    const req = request(
      {
        host: address,
        port: options.port,
        path: WELL_KNOWN_PATH,
        method: 'GET',
        // SNI and the certificate check name the policy host, whatever address was dialled.
        servername: host,
        headers: { host: options.port === 443 ? host : `${host}:${options.port}` },
        // A fresh connection each time: no session verified under other options is reused.
        agent: false,
        // §3.3: the certificate must chain to a trusted CA and carry a DNS-ID for the host.
        ...verifiedTlsOptions(options.ca),
      },
      (response) => readPolicy(response, url, finish),
    )
    req.on('error', (error) => finish(error))
    const timer = setTimeout(
      () => finish(new MtaStsError(`${url}: no complete answer within ${options.timeoutMs} ms`)),
      timeoutMs,
    )
    req.end()
  })
}

function readPolicy(
  response: IncomingMessage,
  url: string,
  finish: (error: Error | null, text?: string) => void,
): void {
  // §3.3: only a 200 is a policy, and 3xx redirects are not followed.
  if (response.statusCode !== 200) {
    finish(new MtaStsError(`${url} answered HTTP ${response.statusCode ?? '?'}`))
    return
  }
  // §3.3: senders SHOULD check the media type, so that a host serving files of its users'
  // choosing cannot be made to publish a policy.
  const type = (response.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'text/plain') {
    finish(new MtaStsError(`${url} is ${type === '' ? 'untyped' : type}, not text/plain`))
    return
  }
  const tooLarge = () => new MtaStsError(`${url} is larger than ${MAX_POLICY_OCTETS} octets`)
  if (Number(response.headers['content-length'] ?? 0) > MAX_POLICY_OCTETS) {
    finish(tooLarge())
    return
  }
  const chunks: Buffer[] = []
  let size = 0
  response.on('data', (chunk: Buffer) => {
    size += chunk.length
    if (size > MAX_POLICY_OCTETS) finish(tooLarge())
    else chunks.push(chunk)
  })
  response.on('end', () => finish(null, Buffer.concat(chunks, size).toString('utf8')))
  response.on('error', (error) => finish(error))
  response.on('close', () => {
    if (!response.complete) finish(new MtaStsError(`${url}: the answer was cut short`))
  })
}
