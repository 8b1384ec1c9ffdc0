// mailauth asks DNS through a function (name, type) and reads Node's error codes to tell "no
// such record" (ENOTFOUND, ENODATA: SPF none, no DKIM key) from a failure (anything else:
// temperror). This adapter puts Postern's resolver (`[dns] servers`, with its timeouts) behind
// that function, so verification asks the configured servers and a failed lookup stays a
// temporary error (RFC 7208 §2.6.6, RFC 6376 §6.1.2), never an absence.
import { DnsError, type DnsResolver } from '../net/index.ts'

/** The resolver function mailauth's verifiers take. */
export type MailauthResolver = (name: string, type: string) => Promise<unknown>

/** Node's codes for what DnsError says, which mailauth's verifiers test for. */
const CODES = { nxdomain: 'ENOTFOUND', nodata: 'ENODATA', temporary: 'ESERVFAIL' } as const

export function mailauthResolver(resolver: DnsResolver): MailauthResolver {
  return async (name, type) => {
    try {
      switch (type) {
        case 'TXT':
          return await resolver.resolveTxt(name)
        case 'MX':
          return await resolver.resolveMx(name)
        case 'A':
          return await resolver.resolve4(name)
        case 'AAAA':
          return await resolver.resolve6(name)
        case 'PTR':
          return await resolver.resolvePtr(name)
        case 'CNAME':
          return await resolver.resolveCname(name)
        default:
          throw withCode(new Error(`no lookups of type ${type} here`), 'ENOTIMP')
      }
    } catch (error) {
      if (error instanceof DnsError) {
        throw withCode(new Error(`${type} ${name}: ${error.message}`), CODES[error.code])
      }
      throw error
    }
  }
}

function withCode(error: Error, code: string): Error {
  return Object.assign(error, { code })
}
