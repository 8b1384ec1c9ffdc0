import { isIP } from 'node:net'
import { domainToASCII, domainToUnicode } from 'node:url'
import {
  MAX_ADDRESS_OCTETS,
  MAX_DOMAIN_OCTETS,
  MAX_INPUT_CHARACTERS,
  MAX_LABEL_OCTETS,
  MAX_LOCAL_PART_OCTETS,
} from './limits.ts'

// One spelling per name. The store compares names exactly, so every name goes through here on
// its way in and on every lookup: "User@EXAMPLE.test", "user@bücher.test" and
// "user@xn--bcher-kva.test" must each meet a single stored row.

/** A domain or address that has no canonical form. The message names the input and the reason. */
export class AddressError extends Error {
  override name = 'AddressError'
}

export interface CanonicalAddress {
  /** `${local}@${domain}`: the form the store keys accounts and aliases by. */
  address: string
  local: string
  /** The domain as a lower-case A-label. */
  domain: string
}

type Checked = { value: string } | { problem: string }

/**
 * The stored form of a domain: lower case, an internationalized name as its A-labels, without
 * the root's trailing dot. Single-label names ("localhost") are allowed: the embedded default
 * hostname is one. @throws AddressError
 */
export function canonicalDomain(input: string): string {
  const checked = checkDomain(input)
  if ('problem' in checked) {
    throw new AddressError(`Cannot use ${quote(input)} as a domain, it ${checked.problem}`)
  }
  return checked.value
}

/**
 * The stored form of an address: a dot-atom local part, NFC-normalized and lower-cased, and a
 * canonical domain. @throws AddressError
 */
export function canonicalAddress(input: string): CanonicalAddress {
  const checked = checkAddress(input)
  if ('problem' in checked) {
    throw new AddressError(`Cannot use ${quote(input)} as an address, ${checked.problem}`)
  }
  const at = checked.value.lastIndexOf('@')
  return {
    address: checked.value,
    local: checked.value.slice(0, at),
    domain: checked.value.slice(at + 1),
  }
}

/** An alias source: an address, or "@domain" for the domain's catch-all. @throws AddressError */
export function canonicalAliasSource(input: string): string {
  return input.startsWith('@')
    ? `@${canonicalDomain(input.slice(1))}`
    : canonicalAddress(input).address
}

/** The U-label form of a stored domain, for people to read ("xn--bcher-kva.test" → "bücher.test"). */
export function displayDomain(aLabel: string): string {
  return domainToUnicode(aLabel) || aLabel
}

function checkDomain(input: string): Checked {
  if (input === '') return { problem: 'is empty' }
  if (input.length > MAX_INPUT_CHARACTERS) return { problem: 'is far too long' }
  // RFC 5321 §4.1.3: an address literal names one host's interface, not a domain with accounts.
  if (input.startsWith('[') || isIP(input) !== 0) {
    return { problem: 'is an IP address literal, not a domain name' }
  }
  // UTS #46 mapping (what browsers do): case folded, width variants unified, U-labels turned into
  // A-labels and existing A-labels checked. It returns "" for what no mapping can save.
  const ascii = domainToASCII(input)
  if (ascii === '') return { problem: 'is not a valid domain name' }
  // "example.test." is the same domain written fully qualified.
  const name = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii
  if (name === '') return { problem: 'is empty' }
  if (name.length > MAX_DOMAIN_OCTETS) {
    return { problem: `is longer than ${MAX_DOMAIN_OCTETS} octets` }
  }
  const labels = name.split('.')
  for (const label of labels) {
    if (label === '') return { problem: 'has an empty label' }
    if (label.length > MAX_LABEL_OCTETS) {
      return { problem: `has a label longer than ${MAX_LABEL_OCTETS} octets` }
    }
    // RFC 1123 §2.1: a host name label is letters, digits and hyphens, neither first nor last a
    // hyphen. domainToASCII lets "_" and edge hyphens through, DNS host names do not.
    if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(label)) {
      return { problem: `has label "${label}", which is not letters, digits and inner hyphens` }
    }
  }
  // RFC 1123 §2.1: the top-level label is alphabetic, so a name never looks like dotted decimal.
  // This also catches what domainToASCII read as IPv4 ("0x7f.1" becomes "127.0.0.1").
  if (/^[0-9]+$/.test(labels.at(-1) ?? '')) {
    return { problem: 'ends in a numeric label, as an IP address does' }
  }
  return { value: name }
}

// atext = ALPHA / DIGIT / "!" / "#" / … / "~"   (RFC 5322 §3.2.3)
// atext =/ UTF8-non-ascii   (RFC 6531 §3.3)
// Of the non-ASCII characters, controls, format characters other than the joiners some scripts
// need (U+200C, U+200D), private-use characters and spaces are refused: RFC 6531 allows them, but
// they make addresses that look alike, or that no one can type, and these addresses are logins.
const ATOM =
  /^(?:[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|[\u200c\u200d]|[^\p{ASCII}\p{Cc}\p{Cf}\p{Co}\p{White_Space}])+$/u

// Mailbox = Local-part "@" ( Domain / address-literal )   (RFC 5321 §4.1.2)
// Local-part = Dot-string / Quoted-string
// Dot-string = Atom *("."  Atom)
function checkAddress(input: string): Checked {
  if (input.length > MAX_INPUT_CHARACTERS) return { problem: 'it is far too long' }
  // A dot-atom has no "@", so the last one separates the domain.
  const at = input.lastIndexOf('@')
  if (at === -1) return { problem: 'it has no "@"' }
  const raw = input.slice(0, at)
  if (raw === '') return { problem: 'the local part is empty' }
  // Quoted local parts ("john smith"@example.test) are refused: an account's address is also its
  // login, typed into mail clients that rarely quote it, and a quoted form has several spellings
  // ("a"@ and a@) that would all need one canonical form. Real senders do not use them.
  if (raw.startsWith('"')) return { problem: 'quoted local parts are not accepted' }
  // A lone surrogate has no UTF-8 form, so it could never arrive over SMTP.
  if (!raw.isWellFormed()) return { problem: 'the local part is not valid Unicode' }
  // RFC 5321 §2.4: local parts are case-sensitive, but only the domain's own server interprets
  // them, and relying on case is discouraged; in practice every mail server folds case, and two
  // logins that differ in case only would be a trap. Lower-casing first and NFC after keeps the
  // result in NFC (RFC 6532 §3.1).
  const local = raw.toLowerCase().normalize('NFC')
  if (Buffer.byteLength(local) > MAX_LOCAL_PART_OCTETS) {
    return { problem: `the local part is longer than ${MAX_LOCAL_PART_OCTETS} octets` }
  }
  for (const atom of local.split('.')) {
    if (atom === '') return { problem: 'the local part has a leading, trailing or double dot' }
    if (!ATOM.test(atom)) {
      return { problem: 'the local part has a character not allowed in an unquoted address' }
    }
  }
  const domain = checkDomain(input.slice(at + 1))
  if ('problem' in domain) return { problem: `the domain ${domain.problem}` }
  const address = `${local}@${domain.value}`
  if (Buffer.byteLength(address) > MAX_ADDRESS_OCTETS) {
    return { problem: `it is longer than ${MAX_ADDRESS_OCTETS} octets` }
  }
  return { value: address }
}

/** The input in quotes for an error message: control characters escaped, long input cut short. */
function quote(input: string): string {
  return JSON.stringify(input.length > 100 ? `${input.slice(0, 100)}…` : input)
}

/**
 * The name a login's failures are counted under (src/auth's throttle): the canonical address, so
 * "alice@example.test." or a full-width spelling cannot open a fresh count for the same
 * account, or the name as given when it is no address at all.
 */
export function throttleKey(login: string): string {
  try {
    return canonicalAddress(login).address
  } catch (error) {
    if (error instanceof AddressError) return login
    throw error
  }
}
