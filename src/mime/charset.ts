import { isUtf8 } from 'node:buffer'
import { TextDecoder } from 'node:util'
import iconv from 'iconv-lite'

/**
 * Charset labels as mail writes them, turned into text.
 *
 * TextDecoder (the WHATWG Encoding Standard, backed by ICU in Node) handles every label a
 * browser knows. iconv-lite fills the gaps mail still meets: UTF-7, the DOS code pages, UTF-32.
 * Decoding never throws: a message is stored whatever it claims, and a wrong guess shows as
 * odd characters, not as a lost message.
 *
 * @see https://www.rfc-editor.org/rfc/rfc2045#section-5.1 (the charset parameter)
 * @see https://www.rfc-editor.org/rfc/rfc2046#section-4.1.2
 */

type Backend = 'text-decoder' | 'iconv' | 'best-effort'

interface Resolved {
  name: string
  backend: Backend
}

// No charset label comes near this; a longer one is junk, and refusing it early keeps a hostile
// header from costing a TextDecoder construction per kilobyte.
const MAX_LABEL_LENGTH = 64

// RFC 2046 §4.1.2: US-ASCII is the default. WHATWG folds these labels into windows-1252, which
// would hide the one fact decodeText needs: an ASCII claim about 8-bit bytes is a lie.
const US_ASCII_LABELS = new Set([
  'us-ascii',
  'ascii',
  'ansi_x3.4-1968',
  'ansi_x3.4-1986',
  'iso646-us',
  'iso_646.irv:1991',
  'iso-ir-6',
  'us',
  'csascii',
  'cp367',
  'ibm367',
  '646',
])

// Also folded into windows-1252 by WHATWG (and decoded that way here, since 0x80-0x9F are never
// C1 controls in real mail), but the name the message gave is kept for whoever displays it.
const ISO_8859_1_LABELS = new Set([
  'iso-8859-1',
  'iso8859-1',
  'iso88591',
  'iso_8859-1',
  'iso_8859-1:1987',
  'iso-ir-100',
  'latin1',
  'l1',
  'cp819',
  'ibm819',
  'csisolatin1',
])

// Labels the libraries know that do not name a text charset mail could mean:
// iconv-lite's Node-internal pseudo-encodings, and WHATWG's x-user-defined (bytes to the
// private use area), which some mailers write when they have no idea. Best effort does better.
const REFUSED_LABELS = new Set(['base64', 'hex', 'binary', 'x-user-defined', 'utf-7-imap'])

// UTF-16 without an endianness: WHATWG reads it as UTF-16LE only, while mail may send either
// with a BOM. iconv-lite's codec honours the BOM, and guesses from the bytes without one.
const BOM_SNIFFING_LABELS = new Map([
  ['utf-16', 'utf-16'],
  ['utf16', 'utf-16'],
  ['utf-32', 'utf-32'],
  ['utf32', 'utf-32'],
])

// Every distinct label a hostile sender writes would stay in the cache, so it is bounded.
const MAX_CACHED_LABELS = 512
const resolvedLabels = new Map<string, Resolved | null>()
const textDecoders = new Map<string, TextDecoder>()

const utf8Decoder = new TextDecoder('utf-8')
const windows1252Decoder = new TextDecoder('windows-1252')

/**
 * The canonical lower-case name for a charset label, or null when no decoder here knows it.
 * WHATWG labels give the WHATWG name (`latin1` is `iso-8859-1` though, and `ascii` is
 * `us-ascii`); others give iconv-lite's name (`utf-7`, `cp437`).
 */
export function normalizeCharset(label: string): string | null {
  return resolveCharset(label)?.name ?? null
}

/** True when `bytes` are well-formed UTF-8: no overlongs, no surrogates, nothing past U+10FFFF. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes)
}

/**
 * Text from bytes in a declared charset. Never throws.
 *
 * With no charset, or one nobody knows, the bytes are UTF-8 when they are valid UTF-8 and
 * windows-1252 otherwise (the two things unlabelled 8-bit mail almost always is). Malformed
 * sequences in a known charset become U+FFFD. A leading byte order mark is dropped.
 */
export function decodeText(bytes: Uint8Array, charset?: string | null): string {
  const resolved = charset === undefined || charset === null ? null : resolveCharset(charset)
  if (resolved === null || resolved.backend === 'best-effort') return decodeBestEffort(bytes)
  if (resolved.backend === 'text-decoder') return textDecoderFor(resolved.name).decode(bytes)
  try {
    const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return iconv.decode(input, resolved.name, { defaultEncoding: 'utf16be' })
  } catch {
    return decodeBestEffort(bytes)
  }
}

function decodeBestEffort(bytes: Uint8Array): string {
  return isUtf8(bytes) ? utf8Decoder.decode(bytes) : windows1252Decoder.decode(bytes)
}

function textDecoderFor(name: string): TextDecoder {
  let decoder = textDecoders.get(name)
  if (decoder === undefined) {
    decoder = new TextDecoder(name)
    textDecoders.set(name, decoder)
  }
  return decoder
}

function resolveCharset(label: string): Resolved | null {
  // A label that no charset has (too long, or with characters no label uses) is refused before
  // any lookup: lookups of unknown labels throw inside TextDecoder and iconv-lite, which is slow,
  // and a flood of distinct ones would churn the cache.
  if (label.length > MAX_LABEL_LENGTH + 4 || !PLAUSIBLE_LABEL.test(label)) return null
  const cached = resolvedLabels.get(label)
  if (cached !== undefined) return cached
  const resolved = resolveUncached(label)
  // Evict the oldest entry, not everything. The key is a fresh copy: a label sliced out of a
  // header would otherwise keep the whole header alive in the cache.
  if (resolvedLabels.size >= MAX_CACHED_LABELS) {
    const oldest = resolvedLabels.keys().next().value
    if (oldest !== undefined) resolvedLabels.delete(oldest)
  }
  resolvedLabels.set(Buffer.from(label, 'latin1').toString('latin1'), resolved)
  return resolved
}

// Charset labels are letters, digits and a little punctuation, sometimes quoted by careless
// senders; anything else cannot name a charset.
const PLAUSIBLE_LABEL = /^[\s"']*[A-Za-z0-9][A-Za-z0-9._:+()-]*[\s"']*$/

function resolveUncached(label: string): Resolved | null {
  const cleaned = cleanLabel(label)
  if (cleaned === '' || cleaned.length > MAX_LABEL_LENGTH || REFUSED_LABELS.has(cleaned)) {
    return null
  }
  // RFC 2046 §4.1.2: US-ASCII declared over 8-bit bytes is common; decodeText looks at the bytes.
  if (US_ASCII_LABELS.has(cleaned)) return { name: 'us-ascii', backend: 'best-effort' }
  if (ISO_8859_1_LABELS.has(cleaned)) return { name: 'iso-8859-1', backend: 'text-decoder' }
  // iconv-lite names these "ucs2"; one name per charset lets adjacent encoded words join.
  if (cleaned === 'ucs2' || cleaned === 'utf16le')
    return { name: 'utf-16le', backend: 'text-decoder' }
  const sniffing = BOM_SNIFFING_LABELS.get(cleaned)
  if (sniffing !== undefined) return { name: sniffing, backend: 'iconv' }
  const whatwg = whatwgName(cleaned)
  if (whatwg !== null) return { name: whatwg, backend: 'text-decoder' }
  const iconvName = iconvCanonicalName(cleaned)
  if (iconvName === null) return null
  // iconv-lite ignores punctuation in labels, so its name may be one that the steps above
  // know better (`l1(` is iconv-lite's `iso88591`); going round once more keeps one name each.
  if (iconvName !== cleaned) return resolveUncached(iconvName)
  return { name: iconvName, backend: 'iconv' }
}

function cleanLabel(label: string): string {
  let cleaned = label.trim()
  // Quotes survive into labels when a parser upstream took `charset="utf-8"` too literally.
  while (cleaned.length > 0 && (cleaned.startsWith('"') || cleaned.startsWith("'"))) {
    cleaned = cleaned.slice(1)
  }
  while (cleaned.length > 0 && (cleaned.endsWith('"') || cleaned.endsWith("'"))) {
    cleaned = cleaned.slice(0, -1)
  }
  return cleaned.trim().toLowerCase()
}

function whatwgName(label: string): string | null {
  try {
    return new TextDecoder(label).encoding
  } catch {
    return null
  }
}

// iconv-lite keeps its aliases in `iconv.encodings`, a table from a squashed label to either
// another label (an alias) or a codec definition. Following the aliases gives one name per
// codec, so `unicode-1-1-utf-7` and `UTF7` both come out as `utf-7`.
interface IconvTables {
  encodings?: Record<string, unknown> | null
}

function iconvCanonicalName(label: string): string | null {
  if (!iconv.encodingExists(label)) return null
  let key = label.replace(/:\d{4}$|[^0-9a-z]/g, '')
  const table = (iconv as unknown as IconvTables).encodings
  if (table !== null && table !== undefined) {
    // A cycle would be a bug in iconv-lite; the bound keeps it from becoming a hang here.
    for (let hops = 0; hops < 16; hops += 1) {
      const entry = table[key]
      if (typeof entry !== 'string') break
      key = entry.replace(/:\d{4}$|[^0-9a-z]/g, '')
    }
  }
  const name = key.replace(/^utf(\d+)/, 'utf-$1')
  return iconv.encodingExists(name) ? name : label
}
