import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'

export interface MxRecord {
  exchange: string
  priority: number
}

/** The lookups outbound mail needs. Every failure is a `DnsError`. */
export interface DnsResolver {
  resolveMx(name: string): Promise<MxRecord[]>
  resolve4(name: string): Promise<string[]>
  resolve6(name: string): Promise<string[]>
  resolveTxt(name: string): Promise<string[][]>
  /** PTR records of a reverse name (SPF's ptr mechanism and %{p} macro, RFC 7208 §5.5). */
  resolvePtr(name: string): Promise<string[]>
  /** CNAME targets (DMARC asks whether a name exists at all, for its np= policy). */
  resolveCname(name: string): Promise<string[]>
}

export type DnsErrorCode = 'nxdomain' | 'nodata' | 'temporary'

/**
 * A failed lookup. `nxdomain`: the name does not exist; `nodata`: it exists without records of
 * the type asked; `temporary`: anything else (SERVFAIL, timeout, refused, unreachable server),
 * which says nothing about the name, so a caller retries later instead of deciding on it.
 */
export class DnsError extends Error {
  override readonly name = 'DnsError'
  readonly code: DnsErrorCode

  constructor(message: string, code: DnsErrorCode, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

export interface DnsResolverOptions {
  /** Config's `HostPort` in shape (net may not import config). Empty: the system's resolvers. */
  servers: ReadonlyArray<{ host: string; port: number }>
  /** For the first try; c-ares doubles it on each retry. */
  timeoutMs?: number
  /** Tries per server. */
  tries?: number
}

const DEFAULT_TIMEOUT_MS = 5000
const DEFAULT_TRIES = 2

export function createDnsResolver(options: DnsResolverOptions): DnsResolver {
  const resolver = new Resolver({
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    tries: options.tries ?? DEFAULT_TRIES,
  })
  if (options.servers.length > 0) {
    resolver.setServers(
      options.servers.map(({ host, port }) =>
        isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`,
      ),
    )
  }
  return {
    // Only the two fields: Node adds others (`type`) that callers should not come to rely on.
    resolveMx: async (name) =>
      (await mapErrors(resolver.resolveMx(name))).map(({ exchange, priority }) => ({
        exchange,
        priority,
      })),
    resolve4: (name) => mapErrors(resolver.resolve4(name)),
    resolve6: (name) => mapErrors(resolver.resolve6(name)),
    resolveTxt: (name) => mapErrors(resolver.resolveTxt(name)),
    resolvePtr: (name) => mapErrors(resolver.resolvePtr(name)),
    resolveCname: (name) => mapErrors(resolver.resolveCname(name)),
  }
}

async function mapErrors<T>(lookup: Promise<T>): Promise<T> {
  try {
    return await lookup
  } catch (error) {
    throw toDnsError(error)
  }
}

function toDnsError(error: unknown): DnsError {
  if (!(error instanceof Error)) return new DnsError(String(error), 'temporary')
  const code = 'code' in error ? error.code : undefined
  // c-ares says ENOTFOUND for NXDOMAIN and ENODATA for NOERROR without answers.
  const mapped = code === 'ENOTFOUND' ? 'nxdomain' : code === 'ENODATA' ? 'nodata' : 'temporary'
  return new DnsError(error.message, mapped, { cause: error })
}
