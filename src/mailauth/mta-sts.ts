// MTA-STS (RFC 8461), the parts without I/O: the `_mta-sts` TXT record (§3.1), the policy file
// (§3.2, parsed by the npm package mailauth in its strict mode), MX host patterns (§4.1), the
// certificate check of a policy host or an MX host (§3.3, §4.2), and the policy Postern serves
// for its own domains with the id of its TXT record. Fetching and caching: mta-sts-fetch.ts and
// mta-sts-cache.ts.
import { createHash, X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'
import { type ConnectionOptions, checkServerIdentity } from 'node:tls'
import { domainToASCII } from 'node:url'
import { parsePolicy } from 'mailauth/lib/mta-sts.js'
import type { MtaStsConfig } from '../config/index.ts'

export type MtaStsMode = 'enforce' | 'testing' | 'none'

/** A policy as fetched from a policy domain, with what the cache needs to know about it. */
export interface MtaStsPolicy {
  /** The policy domain: A-labels, lower case, no trailing dot. */
  domain: string
  /** The `id` of the TXT record the policy was fetched under (§3.1). */
  id: string
  mode: MtaStsMode
  /** The `mx` patterns, lower case (§3.2); empty only in mode "none". */
  mx: string[]
  /** §3.2 `max_age`: how long after `fetchedAt` the policy may be used, in seconds. */
  maxAgeS: number
  /** When the policy was fetched (or fetched again unchanged), in ms since the epoch. */
  fetchedAt: number
}

/** A record or policy that does not parse, or a fetch that failed. */
export class MtaStsError extends Error {
  override readonly name = 'MtaStsError'
}

/** RFC 8461 §3.2: the largest `max_age`, one year. */
export const MAX_AGE_LIMIT_S = 31_557_600

/** When the policy stops being usable (§3.2 max_age, §5.1 step 1). */
export function policyExpiresAt(policy: MtaStsPolicy): number {
  return policy.fetchedAt + policy.maxAgeS * 1000
}

/** The TXT record's reading: a policy id, or why the domain counts as having no policy. */
export type StsRecord = { kind: 'id'; id: string } | { kind: 'none'; reason: string }

// RFC 8461 §3.1 ABNF: sts-version, sts-id, sts-ext-name and sts-ext-value.
const RECORD_START = /^v=STSv1[ \t]*;/
const VERSION = /^v=STSv1[ \t]*$/
const ID = /^[A-Za-z0-9]{1,32}$/
const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/
const EXT_VALUE = /^[!-:<>-~]+$/

/**
 * The policy id from the TXT records of `_mta-sts.<domain>`, each as its character-strings.
 * RFC 8461 §3.1: the strings of one record are concatenated; records that do not begin with
 * "v=STSv1;" are discarded; unless exactly one is left and it is syntactically valid, the
 * domain is taken to have no policy.
 */
export function parseStsRecord(records: readonly (readonly string[])[]): StsRecord {
  const candidates = records.map((strings) => strings.join('')).filter((r) => RECORD_START.test(r))
  if (candidates.length !== 1) {
    return { kind: 'none', reason: `${candidates.length} "v=STSv1" TXT records` }
  }
  const [version = '', ...rest] = (candidates[0] ?? '').split(';')
  if (!VERSION.test(version)) return { kind: 'none', reason: 'malformed TXT record' }
  let id: string | null = null
  for (const [index, raw] of rest.entries()) {
    // sts-field-delim = *WSP ";" *WSP, and the record may end with a delimiter.
    const field = raw.replace(/^[ \t]+|[ \t]+$/g, '')
    if (field === '' && index === rest.length - 1 && index > 0) continue
    const equals = field.indexOf('=')
    const name = field.slice(0, equals)
    const value = field.slice(equals + 1)
    if (equals < 1) return { kind: 'none', reason: `malformed field "${field}" in the TXT record` }
    if (name === 'id' && id === null) {
      if (!ID.test(value)) return { kind: 'none', reason: `malformed id "${value}"` }
      id = value
    } else if (!EXT_NAME.test(name) || !EXT_VALUE.test(value)) {
      return { kind: 'none', reason: `malformed field "${field}" in the TXT record` }
    }
  }
  // §3.1: "id" is required.
  if (id === null) return { kind: 'none', reason: 'the TXT record has no id' }
  return { kind: 'id', id }
}

/**
 * A policy file's fields (RFC 8461 §3.2): version STSv1, a mode, the mx patterns (at least one
 * unless the mode is "none"), and max_age up to MAX_AGE_LIMIT_S. mailauth's strict mode applies
 * the ABNF exactly; unknown fields are ignored, as §3.2 requires.
 * @throws MtaStsError when the text is no valid policy.
 */
export function parseStsPolicy(text: string): Pick<MtaStsPolicy, 'mode' | 'mx' | 'maxAgeS'> {
  let parsed: ReturnType<typeof parsePolicy>
  try {
    parsed = parsePolicy(text, { strict: true })
  } catch (error) {
    throw new MtaStsError(`invalid policy: ${(error as Error).message}`, { cause: error })
  }
  const { mode, mx, maxAge } = parsed
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') {
    throw new MtaStsError(`invalid policy: mode "${String(mode)}"`)
  }
  if (typeof maxAge !== 'number') throw new MtaStsError('invalid policy: no max_age')
  return { mode, mx: mx ?? [], maxAgeS: maxAge }
}

/**
 * Whether an MX host name matches one of a policy's patterns (RFC 8461 §4.1): exactly, or
 * through "*.": the wildcard stands for exactly one leftmost label, so "*.example.com" matches
 * "mx1.example.com" and neither "example.com" nor "a.b.example.com". Case-insensitive, IDNs as
 * A-labels (§3.2).
 */
export function mxMatches(host: string, patterns: readonly string[]): boolean {
  const name = toALabels(host)
  if (name === '' || name.includes('*') || isIP(name) !== 0) return false
  for (const raw of patterns) {
    const pattern = raw.toLowerCase().replace(/\.$/, '')
    if (pattern.startsWith('*.')) {
      const suffix = pattern.slice(1)
      const label = name.slice(0, -suffix.length)
      if (name.endsWith(suffix) && label !== '' && !label.includes('.')) return true
    } else if (pattern !== '' && pattern === name) {
      return true
    }
  }
  return false
}

/**
 * Whether a DER certificate is valid for `host` by a subjectAltName DNS-ID (RFC 8461 §3.3 and
 * §4.2, by the rules of RFC 6125): the subject's CN does not count, and a wildcard is a whole
 * leftmost label only.
 */
export function certificateMatchesHost(host: string, raw: Buffer): boolean {
  try {
    const match = new X509Certificate(raw).checkHost(host, {
      subject: 'never',
      wildcards: true,
      partialWildcards: false,
      multiLabelWildcards: false,
      singleLabelSubdomains: false,
    })
    return match !== undefined
  } catch {
    return false
  }
}

/**
 * TLS client options that accept only a certificate that chains to a trusted CA and is valid for
 * the name connected to (RFC 8461 §3.3 for the policy host, §4.2 for an MX host). `ca` replaces
 * the system's CAs when given: the `[mta_sts] ca_file` of tests and private CAs.
 */
export function verifiedTlsOptions(ca: Buffer | null): ConnectionOptions {
  return {
    rejectUnauthorized: true,
    ...(ca !== null && { ca }),
    checkServerIdentity: (host, cert) => {
      const error = checkServerIdentity(host, cert)
      if (error !== undefined) return error
      if (certificateMatchesHost(host, cert.raw)) return undefined
      return new MtaStsError(`the certificate has no subjectAltName DNS-ID for ${host}`)
    },
  }
}

/**
 * The policy Postern serves for its own domains (RFC 8461 §3.2), lines ending in CRLF; null in
 * mode "none", where nothing is served.
 */
export function ownPolicyText(config: { mtaSts: MtaStsConfig }): string | null {
  const { mode, mx, maxAgeS } = config.mtaSts
  if (mode === 'none') return null
  const lines = [
    'version: STSv1',
    `mode: ${mode}`,
    // §3.2: one "mx" line per pattern, IDNs as A-labels.
    ...mx.map((pattern) => `mx: ${patternToALabels(pattern)}`),
    `max_age: ${maxAgeS}`,
  ]
  return lines.map((line) => `${line}\r\n`).join('')
}

/**
 * The id for the `_mta-sts` TXT record of Postern's domains: a digest of the policy text, so it
 * changes exactly when the policy does (§3.1: 1 to 32 letters and digits, to be changed with
 * every policy change). null when no policy is served.
 */
export function ownPolicyId(config: { mtaSts: MtaStsConfig }): string | null {
  const text = ownPolicyText(config)
  if (text === null) return null
  return createHash('sha256').update(text).digest('hex').slice(0, 32)
}

/** The `_mta-sts.<domain>` TXT record to publish (§3.1), or null when no policy is served. */
export function ownStsRecord(config: { mtaSts: MtaStsConfig }): string | null {
  const id = ownPolicyId(config)
  return id === null ? null : `v=STSv1; id=${id}`
}

/** A host name in A-labels, lower case, without a trailing dot; '' when it is none. */
export function toALabels(name: string): string {
  return domainToASCII(name.trim().toLowerCase().replace(/\.$/, ''))
}

function patternToALabels(pattern: string): string {
  const isWildcard = pattern.startsWith('*.')
  const ascii = toALabels(isWildcard ? pattern.slice(2) : pattern)
  // A name IDNA refuses stays as written: the operator sees it in the served policy.
  const name = ascii === '' ? pattern.toLowerCase() : ascii
  return isWildcard && ascii !== '' ? `*.${name}` : name
}
