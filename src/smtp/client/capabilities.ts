import type { Reply } from '../proto/index.ts'

/** What the peer's EHLO reply announced (RFC 5321 §4.1.1.1), as far as sending needs to know. */
export interface SmtpCapabilities {
  /** EHLO was accepted; false after the HELO fallback, which announces nothing. */
  esmtp: boolean
  pipelining: boolean
  /** RFC 1870 SIZE: the peer's limit, 0 when it announced no limit, null without SIZE. */
  size: number | null
  eightBitMime: boolean
  binaryMime: boolean
  smtputf8: boolean
  chunking: boolean
  startTls: boolean
  dsn: boolean
  enhancedStatusCodes: boolean
  requireTls: boolean
  /** RFC 4954 AUTH mechanisms, upper-case. */
  auth: string[]
}

/** Before EHLO, after HELO, and after STARTTLS (RFC 3207 §4.2): nothing is known. */
export function noCapabilities(): SmtpCapabilities {
  return {
    esmtp: false,
    pipelining: false,
    size: null,
    eightBitMime: false,
    binaryMime: false,
    smtputf8: false,
    chunking: false,
    startTls: false,
    dsn: false,
    enhancedStatusCodes: false,
    requireTls: false,
    auth: [],
  }
}

/**
 * Reads a 250 EHLO reply: the first line is the greeting, each further line an ehlo-line,
 * keyword and parameters separated by spaces (RFC 5321 §4.1.1.1). Keywords are case-insensitive.
 */
export function parseCapabilities(reply: Reply): SmtpCapabilities {
  const capabilities = noCapabilities()
  capabilities.esmtp = true
  const mechanisms = new Set<string>()
  for (const line of reply.lines.slice(1)) {
    const [keyword = '', ...params] = line.trim().split(/\s+/)
    const upper = keyword.toUpperCase()
    switch (upper) {
      case 'PIPELINING':
        capabilities.pipelining = true
        break
      case 'SIZE': {
        // RFC 1870 §4: "SIZE" alone or "SIZE 0" means no fixed maximum.
        const value = params[0] ?? '0'
        capabilities.size = /^\d{1,20}$/.test(value) ? Number(value) : 0
        break
      }
      case '8BITMIME':
        capabilities.eightBitMime = true
        break
      case 'BINARYMIME':
        capabilities.binaryMime = true
        break
      case 'SMTPUTF8':
        capabilities.smtputf8 = true
        break
      case 'CHUNKING':
        capabilities.chunking = true
        break
      case 'STARTTLS':
        capabilities.startTls = true
        break
      case 'DSN':
        capabilities.dsn = true
        break
      case 'ENHANCEDSTATUSCODES':
        capabilities.enhancedStatusCodes = true
        break
      case 'REQUIRETLS':
        capabilities.requireTls = true
        break
      default:
        // RFC 4954 §3 "AUTH PLAIN LOGIN"; some old servers also send "AUTH=PLAIN LOGIN".
        if (upper === 'AUTH' || upper.startsWith('AUTH=')) {
          const first = upper === 'AUTH' ? [] : [upper.slice(5)]
          for (const mechanism of [...first, ...params]) {
            if (mechanism !== '') mechanisms.add(mechanism.toUpperCase())
          }
        }
    }
  }
  capabilities.auth = [...mechanisms]
  return capabilities
}
