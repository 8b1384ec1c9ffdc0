import { isIPv6 } from 'node:net'
import { MAX_DOMAIN_OCTETS, MAX_LOCAL_PART_OCTETS, MAX_PATH_OCTETS } from './limits.ts'

/** A mailbox as a MAIL FROM or RCPT TO path gave it (RFC 5321 §4.1.2). */
export interface SmtpMailbox {
  /** The local part with quoting undone: `"a b"@x` has local part `a b`. */
  localPart: string
  /** True when the local part was a Quoted-string (it then may hold "@", spaces, …). */
  isQuoted: boolean
  /** The domain as written, or the address literal with its brackets ("[192.0.2.1]"). */
  domain: string
  isAddressLiteral: boolean
  /** The mailbox as the client wrote it (no route, no brackets): what a relay passes on. */
  text: string
  /** Any octet above 127: needs SMTPUTF8 (RFC 6531 §3.4). */
  hasNonAscii: boolean
}

export interface SmtpPath {
  /** null for the null reverse-path "<>" (RFC 5321 §4.5.5). */
  mailbox: SmtpMailbox | null
  /**
   * The source route ("@a,@b:") if one was given. RFC 5321 §4.1.1.3 and Appendix C: accepted
   * for compatibility, then ignored; mail goes to the mailbox alone.
   */
  route: string[]
  /** RCPT TO:<Postmaster> without a domain (RFC 5321 §4.1.1.3), which every server accepts. */
  isPostmaster: boolean
}

export type PathParse = { path: SmtpPath; rest: string } | { error: string }

// atext (RFC 5322 §3.2.3), plus any non-ASCII character for RFC 6531 §3.3's UTF8-non-ascii.
const ATEXT = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]/u
// sub-domain = Let-dig [Ldh-str]; RFC 6531 §3.3 allows U-labels, hence non-ASCII letters.
const SUB_DOMAIN =
  /^[A-Za-z0-9\u0080-\u{10ffff}](?:[A-Za-z0-9\u0080-\u{10ffff}-]*[A-Za-z0-9\u0080-\u{10ffff}])?$/u

/**
 * Parses a Path at the start of `input` (after "FROM:" or "TO:"): "<" [A-d-l ":"] Mailbox ">",
 * or "<>" when `allowNull`. Returns the rest of the line (the ESMTP parameters) unparsed.
 */
export function parsePath(
  input: string,
  options: { allowNull?: boolean; allowPostmaster?: boolean } = {},
): PathParse {
  if (!input.startsWith('<')) {
    return { error: 'The address must be enclosed in angle brackets, as in <user@example.com>' }
  }
  const close = findClosingBracket(input)
  if (close < 0) return { error: 'The address has no closing ">"' }
  const inner = input.slice(1, close)
  const rest = input.slice(close + 1)
  if (rest !== '' && !rest.startsWith(' ')) {
    return { error: 'Unexpected text after the closing ">"' }
  }
  if (Buffer.byteLength(inner) + 2 > MAX_PATH_OCTETS) {
    return {
      error: `The path is longer than ${MAX_PATH_OCTETS} octets (RFC 5321 section 4.5.3.1.3)`,
    }
  }
  if (inner === '') {
    if (options.allowNull) return { path: { mailbox: null, route: [], isPostmaster: false }, rest }
    return { error: 'The null path <> is not allowed here' }
  }
  if (options.allowPostmaster && inner.toLowerCase() === 'postmaster') {
    const mailbox: SmtpMailbox = {
      localPart: 'postmaster',
      isQuoted: false,
      domain: '',
      isAddressLiteral: false,
      text: inner,
      hasNonAscii: false,
    }
    return { path: { mailbox, route: [], isPostmaster: true }, rest }
  }

  let mailboxText = inner
  const route: string[] = []
  if (inner.startsWith('@')) {
    // A-d-l = At-domain *( "," At-domain ) ":"
    const colon = inner.indexOf(':')
    if (colon < 0) return { error: 'The source route has no ":"' }
    for (const hop of inner.slice(0, colon).split(',')) {
      if (!hop.startsWith('@') || checkDomain(hop.slice(1)) !== null) {
        return { error: 'The source route is malformed' }
      }
      route.push(hop.slice(1))
    }
    mailboxText = inner.slice(colon + 1)
  }
  const mailbox = parseMailbox(mailboxText)
  if ('error' in mailbox) return mailbox
  return { path: { mailbox, route, isPostmaster: false }, rest }
}

/**
 * Mailbox = Local-part "@" ( Domain / address-literal ); Local-part = Dot-string / Quoted-string.
 */
export function parseMailbox(text: string): SmtpMailbox | { error: string } {
  let localPart: string
  let at: number
  const isQuoted = text.startsWith('"')
  if (isQuoted) {
    // Quoted-string = DQUOTE *QcontentSMTP DQUOTE; quoted-pairSMTP = "\" %d32-126
    let value = ''
    let i = 1
    for (;;) {
      if (i >= text.length) return { error: 'The quoted local part has no closing quote' }
      const char = text[i] as string
      if (char === '"') break
      if (char === '\\') {
        const next = text[i + 1]
        if (next === undefined || !/[\x20-\x7e]/.test(next)) {
          return { error: 'The quoted local part has a bad escape' }
        }
        value += next
        i += 2
        continue
      }
      // qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF8-non-ascii
      if (!/[\x20-\x7e\u0080-\u{10ffff}]/u.test(char)) {
        return { error: 'The quoted local part has a control character' }
      }
      value += char
      i += char.length
    }
    localPart = value
    at = i + 1
    if (text[at] !== '@') return { error: 'The address has no "@" after its local part' }
  } else {
    at = text.lastIndexOf('@')
    if (at < 0) return { error: 'The address has no "@domain"' }
    localPart = text.slice(0, at)
    // Dot-string = Atom *("." Atom)
    if (localPart === '') return { error: 'The local part is empty' }
    for (const atom of localPart.split('.')) {
      if (atom === '') return { error: 'The local part has an empty atom (".." or an edge dot)' }
      for (const char of atom) {
        if (!ATEXT.test(char)) {
          return { error: 'The local part has a character that must be quoted' }
        }
      }
    }
  }
  if (Buffer.byteLength(localPart) > MAX_LOCAL_PART_OCTETS) {
    return {
      error: `The local part is longer than ${MAX_LOCAL_PART_OCTETS} octets (RFC 5321 section 4.5.3.1.1)`,
    }
  }
  const domain = text.slice(at + 1)
  const isAddressLiteral = domain.startsWith('[')
  const problem = isAddressLiteral ? checkAddressLiteral(domain) : checkDomain(domain)
  if (problem !== null) return { error: problem }
  return {
    localPart,
    isQuoted,
    domain,
    isAddressLiteral,
    text,
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range, not controls
    hasNonAscii: /[^\x00-\x7f]/.test(text),
  }
}

/** Formats a mailbox for a path, quoting the local part when it is not a Dot-string. */
export function formatMailbox(localPart: string, domain: string): string {
  const isDotString =
    localPart !== '' &&
    localPart.split('.').every((atom) => atom !== '' && [...atom].every((c) => ATEXT.test(c)))
  const local = isDotString ? localPart : `"${localPart.replace(/(["\\])/g, '\\$1')}"`
  return `${local}@${domain}`
}

function checkDomain(domain: string): string | null {
  if (domain === '') return 'The domain is empty'
  if (Buffer.byteLength(domain) > MAX_DOMAIN_OCTETS) {
    return `The domain is longer than ${MAX_DOMAIN_OCTETS} octets (RFC 5321 section 4.5.3.1.2)`
  }
  // A trailing dot (the DNS root) is tolerated here; src/directory reads "d." as "d".
  const name = domain.endsWith('.') ? domain.slice(0, -1) : domain
  for (const label of name.split('.')) {
    if (!SUB_DOMAIN.test(label)) return `The domain "${domain}" is not a valid domain name`
  }
  return null
}

// address-literal = "[" ( IPv4-address-literal / IPv6-address-literal / General-address-literal ) "]"
function checkAddressLiteral(literal: string): string | null {
  if (!literal.endsWith(']')) return 'The address literal has no closing "]"'
  const body = literal.slice(1, -1)
  if (
    /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(body)
  ) {
    return null
  }
  // IPv6-address-literal = "IPv6:" IPv6-addr. The tag is the one standardized so far; a body
  // under it that is no IPv6 address is malformed, not a General-address-literal. isIPv6 also
  // takes a zone ("fe80::1%eth0"), which IPv6-addr does not: hence the character check.
  if (/^IPv6:/i.test(body)) {
    const address = body.slice(5)
    if (/^[0-9A-Fa-f:.]+$/.test(address) && isIPv6(address)) return null
    return `The address literal ${literal} is not a valid IPv6 address`
  }
  // General-address-literal = Standardized-tag ":" 1*dcontent
  if (/^[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+$/.test(body)) return null
  return `The address literal ${literal} is malformed`
}

/** The ">" that closes the path: the first one outside a quoted local part. */
function findClosingBracket(input: string): number {
  let isInQuotes = false
  for (let i = 1; i < input.length; i += 1) {
    const char = input[i]
    if (isInQuotes) {
      if (char === '\\') i += 1
      else if (char === '"') isInQuotes = false
    } else if (char === '"') {
      isInQuotes = true
    } else if (char === '>') {
      return i
    }
  }
  return -1
}
