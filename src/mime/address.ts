/**
 * Address lists of header fields (From, Sender, Reply-To, To, Cc, Bcc) in the shape IMAP
 * ENVELOPE needs: RFC 5322 §3.4 with the obsolete syntax of RFC 5322 §4.4, and UTF-8 addresses
 * (RFC 6532 §3.2).
 *
 * Parsing never fails. Real mail carries every kind of broken address, and a message is still
 * worth showing when its Cc field is garbage, so each rule below that goes beyond the grammar
 * says what it tolerates. The parser works on tokens in one pass; its one look-ahead, for an
 * obsolete route, stops at the next "<". Nothing is scanned twice from more than one place, so
 * the time is linear in the input however deep its comments, quotes or brackets go.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5322#section-3.4
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-7.5.2
 */
import { domainToASCII, domainToUnicode } from 'node:url'

/**
 * One mailbox, holding the four fields of an IMAP envelope address structure (RFC 9051 §7.5.2,
 * RFC 3501 §7.4.2): name, adl (route), mailbox and host.
 */
export interface Mailbox {
  kind: 'mailbox'
  /**
   * The display name: quoted-strings unquoted, quoted-pairs unescaped, comments removed, runs
   * of whitespace collapsed to one space, trimmed. Encoded words are left as they are; RFC 2047
   * decoding is a later step. null when there is none.
   */
  name: string | null
  /** The obsolete source route (RFC 5322 §4.4) as "@a.example,@b.example", or null. */
  route: string | null
  /** The local part, unquoted as IMAP envelopes carry it ("john doe" for `"john doe"@x`). */
  mailbox: string
  /**
   * The domain as written: not lower-cased, domain literals keep their brackets. null when
   * there is none. An envelope writer must not send NIL for it: a NIL host marks a group in
   * RFC 9051 §7.5.2, so a placeholder is needed there (Dovecot writes "MISSING_DOMAIN").
   */
  host: string | null
}

/** A group (RFC 5322 §3.4): a display name and the mailboxes listed under it, maybe none. */
export interface Group {
  kind: 'group'
  name: string
  members: Mailbox[]
}

export type AddressListEntry = Mailbox | Group

/** A mailbox to write into a header: `address` is "local@domain" with an unquoted local part. */
export interface AddressInput {
  name?: string | null
  address: string
}

/** A group to write into a header. */
export interface GroupInput {
  name: string
  members: readonly AddressInput[]
}

/**
 * Turns a phrase that holds non-ASCII characters into one that a reader without RFC 6532
 * support can take, normally RFC 2047 encoded-words. It must return a valid phrase.
 */
export type PhraseEncoder = (text: string) => string

type TokenKind = 'atom' | 'quoted' | 'literal' | '@' | '<' | '>' | ',' | ';' | ':' | 'end'

interface Token {
  kind: TokenKind
  /** The value: the content of a quoted-string with its quoted-pairs unescaped, else as written. */
  text: string
  /** As written, quotes and backslashes included. */
  raw: string
  /** Whitespace or a comment separates this token from the one before. */
  hasSpaceBefore: boolean
  /** The last non-empty comment between the previous token and this one, normalised. */
  commentBefore: string | null
}

const END: Token = { kind: 'end', text: '', raw: '', hasSpaceBefore: false, commentBefore: null }

// RFC 2047 §2: an encoded-word is one token. Some senders leave specials unencoded inside one
// ("=?utf-8?Q?Doe,_John?="), so the lexer keeps a whole encoded-word in its atom instead of
// splitting the phrase at the comma.
const ENCODED_WORD = /=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=/y

/**
 * Parses the value of an address header field, already unfolded and not RFC 2047-decoded.
 * Entries come out in order. Text that is not a complete address still becomes a mailbox with
 * what could be read, so nothing a reader might look for disappears; each such rule is marked
 * "Deviation" below.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5322#section-3.4
 */
// address-list = (address *("," address)) / obs-addr-list   (RFC 5322 §3.4)
// obs-addr-list = *([CFWS] ",") address *("," [address / CFWS])   (RFC 5322 §4.4)
export function parseAddressList(text: string): AddressListEntry[] {
  return new AddressListParser(tokenize(text)).parse()
}

/** "mailbox@host", or the mailbox alone when there is no host. The local part stays unquoted. */
export function addressOf(m: Mailbox): string {
  return m.host === null ? m.mailbox : `${m.mailbox}@${m.host}`
}

/**
 * The ASCII form of a domain for comparison and DNS (IDN labels become "xn--" labels, letters
 * become lower case), or null when `host` is not a usable domain name. A domain literal comes
 * back unchanged: it is an address, not a name.
 */
export function toAsciiDomain(host: string): string | null {
  // domain-literal = "[" *dtext "]", dtext = %d33-90 / %d94-126   (RFC 5322 §3.4.1)
  if (host.startsWith('[')) return /^\[[\x21-\x5a\x5e-\x7e]*\]$/.test(host) ? host : null
  // domainToASCII parses a URL host: "/", "?", "#" and "\" end it, "%" is percent-decoded. A
  // mail domain has none of them, so any ASCII outside letters, digits, "-", "." and "_" is
  // refused before it could be reinterpreted.
  if (!/^[A-Za-z0-9._\-\u0080-\uffff]+$/.test(host)) return null
  const ascii = domainToASCII(host)
  if (ascii === '' || ascii.length > 253) return null
  const labels = ascii.split('.')
  for (const label of labels) {
    if (label === '' || label.length > 63) return null
    if (label.startsWith('-') || label.endsWith('-')) return null
    // domainToASCII lets malformed punycode through; a valid "xn--" label decodes to something
    // else.
    if (label.startsWith('xn--') && domainToUnicode(label) === label) return null
  }
  // A numeric last label makes the URL parser read an IPv4 number ("123" → "0.0.0.123").
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) return null
  return ascii
}

/**
 * Writes one mailbox for a header field: `Name <local@domain>`, or the bare address when there
 * is no name. The local part is quoted when it is not a dot-atom. Control characters are
 * dropped, since a CR or LF would end the header field. Lines are not folded.
 *
 * `encodePhrase` is called for a display name with non-ASCII characters; without it, UTF-8 is
 * written as it is (RFC 6532 §3.2).
 */
export function formatAddress(mailbox: AddressInput, encodePhrase?: PhraseEncoder): string {
  const address = removeControls(mailbox.address)
  const at = address.lastIndexOf('@')
  const local = at < 0 ? address : address.slice(0, at)
  const domain = at < 0 ? null : address.slice(at + 1)
  const localText = DOT_ATOM.test(local) ? local : quoteString(local)
  const addrSpec = address === '' ? '' : domain === null ? localText : `${localText}@${domain}`
  const phrase = formatPhrase(mailbox.name ?? '', encodePhrase)
  if (phrase !== '') return `${phrase} <${addrSpec}>`
  if (addrSpec === '') return '<>'
  // A domain that is neither a dot-atom nor a literal (it was parsed from broken input) would
  // not read back as one without the angle brackets.
  if (domain === null || DOT_ATOM.test(domain) || DOMAIN_LITERAL.test(domain)) return addrSpec
  return `<${addrSpec}>`
}

/** Writes an address list: mailboxes and groups (`Name: a@x, b@y;`), separated by ", ". */
export function formatAddressList(
  entries: readonly (AddressInput | GroupInput)[],
  encodePhrase?: PhraseEncoder,
): string {
  return entries
    .map((entry) => {
      if (!('members' in entry)) return formatAddress(entry, encodePhrase)
      // RFC 5322 §3.4: a display-name is required, so an empty group name is written as "".
      const phrase = formatPhrase(entry.name, encodePhrase) || '""'
      const members = entry.members.map((member) => formatAddress(member, encodePhrase))
      return members.length === 0 ? `${phrase}:;` : `${phrase}: ${members.join(', ')};`
    })
    .join(', ')
}

// atext = ALPHA / DIGIT / "!" / "#" / … / "~"   (RFC 5322 §3.2.3)
// atext =/ UTF8-non-ascii   (RFC 6532 §3.2)
const ATEXT = "A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~\\u0080-\\uffff"
// dot-atom-text = 1*atext *("." 1*atext)   (RFC 5322 §3.2.3)
const DOT_ATOM = new RegExp(`^[${ATEXT}]+(?:\\.[${ATEXT}]+)*$`)
const ATOM = new RegExp(`^[${ATEXT}]+$`)
// domain-literal = [CFWS] "[" *([FWS] dtext) [FWS] "]" [CFWS]   (RFC 5322 §3.4.1)
const DOMAIN_LITERAL = /^\[(?:[^[\]\\]|\\[\s\S])*\]$/

// phrase = 1*word   (RFC 5322 §3.2.5)
function formatPhrase(name: string, encodePhrase: PhraseEncoder | undefined): string {
  const text = normalizeSpace(name)
  if (text === '') return ''
  if (encodePhrase !== undefined && /[\u0080-\uffff]/.test(text)) return encodePhrase(text)
  // RFC 2047 §5: an encoded-word must not appear within a quoted-string, so text that merely
  // looks like one is quoted, telling readers to show it as written.
  if (!text.includes('=?') && text.split(' ').every((word) => ATOM.test(word))) return text
  return quoteString(text)
}

// quoted-string = [CFWS] DQUOTE *([FWS] qcontent) [FWS] DQUOTE [CFWS]   (RFC 5322 §3.2.4)
function quoteString(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`
}

/** Drops C0 controls (tab excepted) and DEL: a CR or LF in a header value ends the field. */
function removeControls(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i)
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) continue
    out += text[i]
  }
  return out
}

/** Collapses each run of whitespace and control characters to one space, and trims. */
function normalizeSpace(text: string): string {
  let out = ''
  let isSpacePending = false
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i)
    if (code <= 0x20 || code === 0x7f) {
      isSpacePending = out !== ''
      continue
    }
    if (isSpacePending) out += ' '
    isSpacePending = false
    out += text[i]
  }
  return out
}

/** Removes the backslash of each quoted-pair (RFC 5322 §3.2.1). */
function unescapeQuotedPairs(text: string): string {
  return text.includes('\\') ? text.replace(/\\([\s\S])/g, '$1') : text
}

function isSpaceOrControl(code: number): boolean {
  return code <= 0x20 || code === 0x7f
}

/**
 * The index just past the comment that opens at `start`, or -1 when it is never closed (then
 * everything after the "(" is comment, which is what the grammar says). Shared with date.ts and
 * message-id.ts, which skip comments the same way.
 */
// comment = "(" *([FWS] ccontent) [FWS] ")"   (RFC 5322 §3.2.2)
// ccontent = ctext / quoted-pair / comment
export function commentEnd(text: string, start: number): number {
  let depth = 0
  let i = start
  while (i < text.length) {
    const char = text[i]
    if (char === '\\') i += 2
    else {
      if (char === '(') depth += 1
      else if (char === ')') {
        depth -= 1
        if (depth === 0) return i + 1
      }
      i += 1
    }
  }
  return -1
}

/**
 * The index of the character that closes the quoted-string or domain literal opened at `start`,
 * or -1. Shared with message-id.ts.
 */
export function findClose(text: string, start: number, close: '"' | ']'): number {
  let i = start + 1
  while (i < text.length) {
    const char = text[i]
    if (char === '\\') i += 2
    else if (char === close) return i
    else i += 1
  }
  return -1
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let hasSpaceBefore = false
  let commentBefore: string | null = null
  // A quote or bracket that is never closed is dropped, which keeps `"John <j@x>` readable as
  // name and address. Every later one is dropped too: the first one's scan already showed there
  // is no closing one, and scanning again from each would be quadratic. Dropping them (rather
  // than keeping them as text) means no value holds a lone quote that could not be written back.
  let canQuote = true
  let canLiteral = true
  const push = (kind: TokenKind, value: string, raw: string) => {
    tokens.push({ kind, text: value, raw, hasSpaceBefore, commentBefore })
    hasSpaceBefore = false
    commentBefore = null
  }
  let i = 0
  while (i < text.length) {
    if (isSpaceOrControl(text.charCodeAt(i))) {
      hasSpaceBefore = true
      i += 1
      continue
    }
    const char = text[i] ?? ''
    if (char === '(') {
      const end = commentEnd(text, i)
      const inner = end < 0 ? text.slice(i + 1) : text.slice(i + 1, end - 1)
      const comment = normalizeSpace(unescapeQuotedPairs(inner))
      if (comment !== '') commentBefore = comment
      hasSpaceBefore = true
      i = end < 0 ? text.length : end
      continue
    }
    if (
      char === '<' ||
      char === '>' ||
      char === '@' ||
      char === ',' ||
      char === ';' ||
      char === ':'
    ) {
      push(char, char, char)
      i += 1
      continue
    }
    if (char === '"' || char === '[') {
      if (char === '"' ? canQuote : canLiteral) {
        const end = findClose(text, i, char === '"' ? '"' : ']')
        if (end >= 0) {
          const raw = text.slice(i, end + 1)
          if (char === '"') push('quoted', unescapeQuotedPairs(raw.slice(1, -1)), raw)
          else push('literal', raw, raw)
          i = end + 1
          continue
        }
        if (char === '"') canQuote = false
        else canLiteral = false
      }
      i += 1 // never closed: dropped, like every later one
      continue
    }
    const end = Math.max(i + 1, atomEnd(text, i))
    const atom = text.slice(i, end)
    push('atom', atom, atom)
    i = end
  }
  push('end', '', '')
  return tokens
}

// atom = [CFWS] 1*atext [CFWS]   (RFC 5322 §3.2.3)
// Deviation from RFC 5322 §3.2.3: every character that does not start another token is taken
// into the atom, "." included (obs-phrase and obs-local-part allow dots between words, and
// "john..doe@x" is common), and so are stray ")" "]" "\" and non-ASCII (RFC 6532 §3.2).
function atomEnd(text: string, start: number): number {
  let i = start
  while (i < text.length) {
    const code = text.charCodeAt(i)
    if (isSpaceOrControl(code)) break
    const char = text[i]
    if (char === '=' && text[i + 1] === '?') {
      ENCODED_WORD.lastIndex = i
      if (ENCODED_WORD.test(text)) {
        i = ENCODED_WORD.lastIndex
        continue
      }
    }
    if (
      char === '(' ||
      char === '<' ||
      char === '>' ||
      char === '@' ||
      char === ',' ||
      char === ';' ||
      char === ':' ||
      char === '"' ||
      char === '['
    ) {
      break
    }
    i += 1
  }
  return i
}

function isWord(kind: TokenKind): boolean {
  return kind === 'atom' || kind === 'quoted' || kind === 'literal'
}

class AddressListParser {
  readonly #tokens: readonly Token[]
  readonly #entries: AddressListEntry[] = []
  #group: Group | null = null
  /** The mailbox just read, while no separator has followed it: trailing words may name it. */
  #previous: Mailbox | null = null

  constructor(tokens: readonly Token[]) {
    this.#tokens = tokens
  }

  parse(): AddressListEntry[] {
    let i = 0
    for (;;) {
      const kind = this.#at(i).kind
      if (kind === 'end') return this.#entries
      if (kind === ',') {
        this.#previous = null
        i += 1
      } else if (kind === ';') {
        // Deviation from RFC 5322 §3.4: ";" outside a group separates like ",", as Outlook users
        // type it.
        this.#previous = null
        this.#group = null
        i += 1
      } else if (kind === '>' || kind === ':') {
        i += 1 // stray, with no phrase before it: nothing to read
      } else {
        i = Math.max(i + 1, this.#parseAddress(i))
      }
    }
  }

  #at(i: number): Token {
    return this.#tokens[i] ?? END
  }

  #add(mailbox: Mailbox): void {
    ;(this.#group?.members ?? this.#entries).push(mailbox)
    this.#previous = mailbox
  }

  // address = mailbox / group   (RFC 5322 §3.4)
  // mailbox = name-addr / addr-spec
  // name-addr = [display-name] angle-addr
  // group = display-name ":" [group-list] ";" [CFWS]
  #parseAddress(start: number): number {
    const words: number[] = []
    let i = start
    for (; ; i += 1) {
      const kind = this.#at(i).kind
      if (isWord(kind) || kind === '@') words.push(i)
      else if (kind !== '>') break
    }
    const next = this.#at(i).kind
    if (next === '<') {
      const name = words.length > 0 ? phraseOf(words.map((w) => this.#at(w))) : ''
      return this.#parseAngleAddr(i, name === '' ? null : name)
    }
    if (next === ':' && words.length > 0) {
      // Groups do not nest (RFC 5322 §3.4), so a second group name closes the first: it was
      // missing its ";".
      const group: Group = {
        kind: 'group',
        name: phraseOf(words.map((w) => this.#at(w))),
        members: [],
      }
      this.#entries.push(group)
      this.#group = group
      this.#previous = null
      return i + 1
    }
    this.#addWords(words)
    return i
  }

  // angle-addr = [CFWS] "<" addr-spec ">" [CFWS] / obs-angle-addr   (RFC 5322 §3.4)
  // obs-angle-addr = [CFWS] "<" obs-route addr-spec ">" [CFWS]   (RFC 5322 §4.4)
  #parseAngleAddr(open: number, name: string | null): number {
    let i = open + 1
    while (this.#at(i).kind === '<') i += 1 // "<<a@x>>" is seen in the wild
    const route = this.#parseRoute(i)
    if (route !== null) i = route.end
    const inner: Token[] = []
    for (; ; i += 1) {
      const token = this.#at(i)
      if (token.kind === '>') {
        i += 1
        break
      }
      // A "," or ";" cannot be in an addr-spec: the ">" is missing, and what follows is the
      // next address ("A <a@x, B <b@y>").
      if (token.kind === ',' || token.kind === ';' || token.kind === 'end') break
      if (token.kind !== '<') inner.push(token)
    }
    this.#add({ kind: 'mailbox', name, route: route?.route ?? null, ...addrSpecOf(inner) })
    return i
  }

  // obs-route = obs-domain-list ":"   (RFC 5322 §4.4)
  // obs-domain-list = *(CFWS / ",") "@" domain *("," [CFWS] ["@" domain])
  #parseRoute(start: number): { route: string | null; end: number } | null {
    const domains: string[] = []
    let i = start
    for (;;) {
      const kind = this.#at(i).kind
      if (kind === ',') i += 1
      else if (kind === '@') {
        i += 1
        let domain = ''
        for (; isWord(this.#at(i).kind); i += 1) domain += this.#at(i).raw
        domains.push(`@${domain}`)
      } else if (kind === ':' && domains.length > 0) {
        return { route: domains.join(','), end: i + 1 }
      } else {
        return null // not a route: "<@x>" is an addr-spec with an empty local part
      }
    }
  }

  /**
   * Words up to a separator, with no angle-addr and no group: addr-specs, each maybe named by
   * the words before it, and words that hold no "@".
   */
  // addr-spec = local-part "@" domain   (RFC 5322 §3.4.1)
  // obs-local-part = word *("." word)   (RFC 5322 §4.4)
  // obs-domain = atom *("." atom)
  #addWords(words: readonly number[]): void {
    let pending: number[][] = []
    for (const run of this.#runs(words)) {
      if (!run.some((w) => this.#at(w).kind === '@')) {
        pending.push(run)
        continue
      }
      // Deviation from RFC 5322 §3.4: words before an unbracketed addr-spec are its display name
      // ("John Doe jdoe@example.com"), as mail from broken scripts means it.
      const name =
        pending.length > 0
          ? phraseOf(pending.flat().map((w) => this.#at(w)))
          : this.#commentAfter(run)
      this.#add({
        kind: 'mailbox',
        name: name === '' ? null : name,
        route: null,
        ...addrSpecOf(run.map((w) => this.#at(w))),
      })
      pending = []
    }
    if (pending.length > 0) this.#addPhraseOnly(pending)
  }

  /** Words without "@": the name of the address just before, or an address without a domain. */
  #addPhraseOnly(runs: readonly number[][]): void {
    const tokens = runs.flat().map((w) => this.#at(w))
    const previous = this.#previous
    if (previous !== null && previous.name === null) {
      // Deviation from RFC 5322 §3.4: "<jdoe@example.com> John Doe" and "jdoe@example.com John
      // Doe" name the address, rather than adding an address called "John Doe".
      const name = phraseOf(tokens)
      if (name !== '') previous.name = name
      return
    }
    const [run] = runs
    if (runs.length === 1 && run !== undefined) {
      // "root", "undisclosed-recipients" without ":", the "Doe" of an unquoted "Doe, John".
      const name = this.#commentAfter(run)
      this.#add({
        kind: 'mailbox',
        name: name === '' ? null : name,
        route: null,
        ...addrSpecOf(tokens),
      })
      return
    }
    // Several words and no "@": a display name with no address ("To: John Smith"), as Dovecot
    // reads it.
    this.#add({ kind: 'mailbox', name: phraseOf(tokens), route: null, mailbox: '', host: null })
  }

  /**
   * Splits words into runs that belong to one addr-spec: whitespace separates words unless a
   * "." or "@" joins them, since CFWS may surround both in the obsolete syntax (RFC 5322 §4.4).
   */
  #runs(words: readonly number[]): number[][] {
    const runs: number[][] = []
    let run: number[] = []
    let last = -1
    for (const w of words) {
      const token = this.#at(w)
      const previous = this.#at(last)
      const isJoined =
        last >= 0 &&
        ((w === last + 1 && !token.hasSpaceBefore) ||
          token.kind === '@' ||
          previous.kind === '@' ||
          (token.kind === 'atom' && token.text.startsWith('.')) ||
          (previous.kind === 'atom' && previous.text.endsWith('.')))
      if (!isJoined && run.length > 0) {
        runs.push(run)
        run = []
      }
      run.push(w)
      last = w
    }
    if (run.length > 0) runs.push(run)
    return runs
  }

  /**
   * The comment after an addr-spec, as its display name: `jdoe@example.com (John Doe)`. RFC
   * 5322 §3.4 notes legacy mail uses this form; Dovecot reads the comment as the name, and IMAP
   * clients expect the same ENVELOPE from us. Only for addr-specs without angle brackets, as
   * Dovecot does.
   */
  #commentAfter(run: readonly number[]): string {
    const last = run[run.length - 1] ?? -1
    return this.#at(last + 1).commentBefore ?? ''
  }
}

/** The display name from its words: one space where whitespace or a comment separated them. */
function phraseOf(tokens: readonly Token[]): string {
  let text = ''
  for (const [k, token] of tokens.entries()) {
    if (k > 0 && token.hasSpaceBefore) text += ' '
    text += token.text
  }
  return normalizeSpace(text)
}

// addr-spec = local-part "@" domain   (RFC 5322 §3.4.1)
// Deviation from RFC 5322 §3.4.1: with more than one "@" the last one separates, so the host is
// the domain mail would go to ("a@b@c" has mailbox "a@b" and host "c").
function addrSpecOf(tokens: readonly Token[]): { mailbox: string; host: string | null } {
  let at = -1
  for (const [k, token] of tokens.entries()) if (token.kind === '@') at = k
  const localTokens = at < 0 ? tokens : tokens.slice(0, at)
  const mailbox = localTokens.map((token) => token.text).join('')
  if (at < 0) return { mailbox, host: null }
  // The domain keeps what was written, quotes included, so that it reads back the same.
  const host = tokens
    .slice(at + 1)
    .map((token) => token.raw)
    .join('')
  return { mailbox, host: host === '' ? null : host }
}
