// `postern domain check DOMAIN`: what DNS must hold for a domain Postern serves, next to what it
// holds now, each marked OK or not. MX pointing at this server (RFC 5321 §5.1); an SPF record
// (RFC 7208 §3) that lets it send; every DKIM key's TXT record (RFC 6376 §3.6.1); a DMARC
// record (RFC 7489 §6.1); the MTA-STS TXT record when a policy is served (RFC 8461 §3.1); and a
// TLS-RPT record (RFC 8460 §3). Lookups go through the configured resolver.
import { DnsError, type DnsResolver } from '../net/index.ts'
import type { DkimKey } from './dkim-keys.ts'
import { dkimDnsRecord } from './dkim-keys.ts'

export type CheckStatus = 'ok' | 'missing' | 'wrong' | 'unknown'

export interface CheckRow {
  /** MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT. */
  kind: string
  /** The DNS name asked. */
  name: string
  /** What to publish (zone-file text without the name). */
  expected: string
  /** What DNS answered, one entry per record; the error for 'unknown'. */
  found: string[]
  status: CheckStatus
  /** Why, when not OK; advice for the optional records. */
  note: string
}

export interface DomainCheckInput {
  /** A-label, lower case. */
  domain: string
  /** This server's name: what MX must point at and SPF must allow. */
  hostname: string
  dkimKeys: readonly DkimKey[]
  /** `v=STSv1; id=…` when an MTA-STS policy is served for our domains, else null. */
  mtaStsRecord: string | null
  resolver: DnsResolver
}

type Lookup<T> = { records: T[] } | { error: string }

async function lookup<T>(query: () => Promise<T[]>): Promise<Lookup<T>> {
  try {
    return { records: await query() }
  } catch (error) {
    if (error instanceof DnsError && error.code !== 'temporary') return { records: [] }
    return { error: (error as Error).message }
  }
}

const joined = (record: readonly string[]) => record.join('')

/** Every row, in a fixed order. */
export async function checkDomain(input: DomainCheckInput): Promise<CheckRow[]> {
  const { domain, hostname, resolver } = input
  const rows: CheckRow[] = []

  const mx = await lookup(() => resolver.resolveMx(domain))
  const pointsHere =
    'records' in mx && mx.records.some((record) => sameName(record.exchange, hostname))
  rows.push(
    row('MX', domain, `10 ${hostname}.`, mx, (records) =>
      records.length === 0
        ? ['missing', 'no MX record: mail for the domain has nowhere to go']
        : pointsHere
          ? ['ok', '']
          : ['wrong', `no MX names ${hostname}`],
    ),
  )
  if ('records' in mx) {
    const last = rows[rows.length - 1]
    if (last) last.found = mx.records.map((record) => `${record.priority} ${record.exchange}.`)
  }

  const txt = await lookup(() => resolver.resolveTxt(domain))
  const spfRecords = 'records' in txt ? txt.records.map(joined).filter(isSpf) : []
  rows.push(
    row('SPF', domain, 'v=spf1 mx -all', mapLookup(txt, spfRecords), (records) => {
      if (records.length === 0) return ['missing', 'receivers cannot tell our mail from forgeries']
      // RFC 7208 §4.5: more than one record is a permerror.
      if (records.length > 1) return ['wrong', 'more than one SPF record (a permanent error)']
      const record = records[0] ?? ''
      const allowsUs =
        (/\bmx\b/.test(record) && pointsHere) ||
        record.includes(`a:${hostname}`) ||
        /\binclude:/.test(record)
      return allowsUs
        ? ['ok', '']
        : ['wrong', `it does not name this server (mx, a:${hostname} or an include)`]
    }),
  )

  const usable = input.dkimKeys.filter((key) => key.publicKey !== null)
  if (usable.length === 0) {
    rows.push({
      kind: 'DKIM',
      name: `<selector>._domainkey.${domain}`,
      expected: `(no key: run postern dkim generate ${domain})`,
      found: [],
      status: 'missing',
      note: 'outgoing mail is not signed',
    })
  }
  for (const key of usable) {
    const record = dkimDnsRecord(key)
    const answer = await lookup(() => resolver.resolveTxt(record.name))
    const values = 'records' in answer ? answer.records.map(joined) : []
    rows.push(
      row(
        `DKIM ${key.state}`,
        record.name,
        record.strings.map((part) => `"${part}"`).join(' '),
        mapLookup(answer, values),
        (found) =>
          found.some((value) => sameKeyRecord(value, record.value))
            ? ['ok', '']
            : found.length === 0
              ? [
                  'missing',
                  key.state === 'pending' ? 'publish it before postern dkim activate' : '',
                ]
              : ['wrong', 'the published key is not this one'],
      ),
    )
  }

  const dmarcName = `_dmarc.${domain}`
  const dmarc = await lookup(() => resolver.resolveTxt(dmarcName))
  const dmarcRecords =
    'records' in dmarc ? dmarc.records.map(joined).filter((v) => /^v=DMARC1\b/i.test(v)) : []
  rows.push(
    row(
      'DMARC',
      dmarcName,
      `v=DMARC1; p=quarantine; rua=mailto:postmaster@${domain}`,
      mapLookup(dmarc, dmarcRecords),
      (records) =>
        records.length === 1
          ? ['ok', '']
          : records.length === 0
            ? ['missing', 'receivers apply no policy to forgeries of the domain']
            : ['wrong', 'more than one DMARC record (receivers ignore them all)'],
    ),
  )

  if (input.mtaStsRecord !== null) {
    const expected = input.mtaStsRecord
    const name = `_mta-sts.${domain}`
    const sts = await lookup(() => resolver.resolveTxt(name))
    const values =
      'records' in sts ? sts.records.map(joined).filter((v) => /^v=STSv1\b/.test(v)) : []
    rows.push(
      row('MTA-STS', name, expected, mapLookup(sts, values), (records) =>
        records.includes(expected)
          ? ['ok', `and https://mta-sts.${domain}/.well-known/mta-sts.txt must serve the policy`]
          : records.length === 0
            ? ['missing', 'senders will not enforce TLS to this domain']
            : ['wrong', 'the id differs from the policy served (senders keep the old one)'],
      ),
    )
  }

  const tlsrptName = `_smtp._tls.${domain}`
  const tlsrpt = await lookup(() => resolver.resolveTxt(tlsrptName))
  const reports =
    'records' in tlsrpt ? tlsrpt.records.map(joined).filter((v) => /^v=TLSRPTv1\b/.test(v)) : []
  rows.push(
    row(
      'TLS-RPT',
      tlsrptName,
      `v=TLSRPTv1; rua=mailto:postmaster@${domain}`,
      mapLookup(tlsrpt, reports),
      (records) =>
        records.length > 0 ? ['ok', ''] : ['missing', 'optional: reports of TLS failures to you'],
    ),
  )
  return rows
}

function mapLookup<T, U>(result: Lookup<T>, values: U[]): Lookup<U> {
  return 'records' in result ? { records: values } : result
}

function row<T>(
  kind: string,
  name: string,
  expected: string,
  result: Lookup<T>,
  judge: (records: T[]) => [CheckStatus, string],
): CheckRow {
  if ('error' in result) {
    return { kind, name, expected, found: [result.error], status: 'unknown', note: 'DNS failed' }
  }
  const [status, note] = judge(result.records)
  return { kind, name, expected, found: result.records.map(String), status, note }
}

function isSpf(value: string): boolean {
  return /^v=spf1(\s|$)/i.test(value)
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '')
}

/** Two key records are the same key when their p= values are (spacing aside). */
function sameKeyRecord(found: string, expected: string): boolean {
  const keyOf = (value: string) => /(?:^|;)\s*p=([^;]*)/.exec(value)?.[1]?.replace(/\s+/g, '')
  return keyOf(found) !== undefined && keyOf(found) === keyOf(expected)
}

/** The report as lines: one per row, with what was found under it. */
export function formatDomainCheck(rows: readonly CheckRow[]): string[] {
  const label: Record<CheckStatus, string> = {
    ok: 'OK',
    missing: 'MISSING',
    wrong: 'WRONG',
    unknown: 'UNKNOWN',
  }
  const lines: string[] = []
  for (const entry of rows) {
    lines.push(`${label[entry.status].padEnd(8)}${entry.kind.padEnd(15)}${entry.name}`)
    lines.push(`          publish: ${entry.expected}`)
    for (const found of entry.found) lines.push(`          found:   ${found}`)
    if (entry.found.length === 0) lines.push('          found:   (nothing)')
    if (entry.note !== '') lines.push(`          ${entry.note}`)
  }
  return lines
}
