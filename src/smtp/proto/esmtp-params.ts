import { MAX_ENVID_OCTETS, MAX_ORCPT_OCTETS } from './limits.ts'
import { type Reply, reply } from './reply.ts'

/** What MAIL FROM's parameters asked for (the extensions Postern offers). */
export interface MailParams {
  /** RFC 1870 SIZE: the size the client declared, or null. */
  size: number | null
  /** RFC 6152 BODY=8BITMIME, else 7BIT (the default). */
  body: '7bit' | '8bitmime'
  /** RFC 6531 §3.4 SMTPUTF8. */
  smtputf8: boolean
  /** RFC 3461 §4.3 RET. */
  ret: 'full' | 'hdrs' | null
  /** RFC 3461 §4.4 ENVID, xtext decoded. */
  envelopeId: string | null
  /** RFC 4954 §5 AUTH=: the identity a relaying server vouches for ("<>" when none). */
  auth: string | null
}

export type DsnNotify = 'success' | 'failure' | 'delay'

export interface RcptParams {
  /** RFC 3461 §4.1 NOTIFY: null when absent, [] for NEVER. */
  notify: DsnNotify[] | null
  /** RFC 3461 §4.2 ORCPT as "addr-type;address", the address xtext decoded. */
  originalRecipient: string | null
}

type Param = { keyword: string; value: string | null }

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
// esmtp-value = 1*(%d33-60 / %d62-126), and UTF-8 with SMTPUTF8 (RFC 6531 §3.3)
const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/
const VALUE = /^[\x21-\x3c\x3e-\x7e\u0080-\u{10ffff}]+$/u

/** Splits " KEY=VALUE KEY" into parameters; an error reply for anything malformed or repeated. */
export function splitParams(text: string): Param[] | Reply {
  const params: Param[] = []
  const seen = new Set<string>()
  for (const item of text.split(' ')) {
    // Several spaces between parameters are tolerated, as most servers do.
    if (item === '') continue
    const equals = item.indexOf('=')
    const name = equals < 0 ? item : item.slice(0, equals)
    const value = equals < 0 ? null : item.slice(equals + 1)
    // Checked before upper-casing, which would turn "ſIZE" into "SIZE".
    if (!KEYWORD.test(name) || (value !== null && !VALUE.test(value))) {
      return reply(501, '5.5.4', `Malformed parameter "${item.slice(0, 64)}"`)
    }
    const keyword = name.toUpperCase()
    if (seen.has(keyword)) return reply(501, '5.5.4', `Parameter ${keyword} given twice`)
    seen.add(keyword)
    params.push({ keyword, value })
  }
  return params
}

/** MAIL FROM's parameters, or the reply that refuses them. */
export function parseMailParams(text: string): MailParams | Reply {
  const params = splitParams(text)
  if (!Array.isArray(params)) return params
  const result: MailParams = {
    size: null,
    body: '7bit',
    smtputf8: false,
    ret: null,
    envelopeId: null,
    auth: null,
  }
  for (const { keyword, value } of params) {
    switch (keyword) {
      case 'SIZE': {
        // size-value = 1*20DIGIT (RFC 1870 §3)
        if (value === null || !/^\d{1,20}$/.test(value)) {
          return reply(501, '5.5.4', 'SIZE needs a number of octets')
        }
        result.size = Number(value)
        break
      }
      case 'BODY': {
        const body = asciiUpperCase(value)
        if (body === '7BIT') result.body = '7bit'
        else if (body === '8BITMIME') result.body = '8bitmime'
        else
          return reply(555, '5.5.4', `BODY=${value ?? ''} is not supported; use 7BIT or 8BITMIME`)
        break
      }
      case 'SMTPUTF8':
        if (value !== null) return reply(501, '5.5.4', 'SMTPUTF8 takes no value')
        result.smtputf8 = true
        break
      case 'RET': {
        const ret = asciiUpperCase(value)
        if (ret !== 'FULL' && ret !== 'HDRS') return reply(501, '5.5.4', 'RET must be FULL or HDRS')
        result.ret = ret === 'FULL' ? 'full' : 'hdrs'
        break
      }
      case 'ENVID': {
        if (value === null || value.length > MAX_ENVID_OCTETS) {
          return reply(
            501,
            '5.5.4',
            `ENVID needs a value of at most ${MAX_ENVID_OCTETS} characters`,
          )
        }
        const decoded = decodeXtext(value)
        if (decoded === null || hasControl(decoded)) {
          return reply(501, '5.5.4', 'ENVID is not valid xtext')
        }
        result.envelopeId = decoded
        break
      }
      case 'AUTH': {
        // RFC 4954 §5: the server may keep or ignore it; a malformed one is a syntax error.
        const decoded = value === null ? null : value === '<>' ? '<>' : decodeXtext(value)
        if (decoded === null) return reply(501, '5.5.4', 'AUTH= is not valid xtext')
        result.auth = decoded
        break
      }
      default:
        return reply(555, '5.5.4', `MAIL parameter ${keyword} is not supported`)
    }
  }
  return result
}

/** RCPT TO's parameters, or the reply that refuses them. */
export function parseRcptParams(text: string): RcptParams | Reply {
  const params = splitParams(text)
  if (!Array.isArray(params)) return params
  const result: RcptParams = { notify: null, originalRecipient: null }
  for (const { keyword, value } of params) {
    switch (keyword) {
      case 'NOTIFY': {
        // NOTIFY = "NEVER" / 1#notify-list-element (RFC 3461 §4.1)
        const items = (asciiUpperCase(value) ?? '').split(',')
        if (items.length === 1 && items[0] === 'NEVER') {
          result.notify = []
          break
        }
        const notify = new Set<DsnNotify>()
        for (const item of items) {
          if (item === 'SUCCESS') notify.add('success')
          else if (item === 'FAILURE') notify.add('failure')
          else if (item === 'DELAY') notify.add('delay')
          else
            return reply(501, '5.5.4', 'NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY')
        }
        result.notify = [...notify]
        break
      }
      case 'ORCPT': {
        // orcpt-parameter = "ORCPT=" original-recipient-address; addr-type ";" xtext (§4.2)
        const semicolon = value?.indexOf(';') ?? -1
        if (value === null || semicolon <= 0 || value.length > MAX_ORCPT_OCTETS) {
          return reply(501, '5.5.4', 'ORCPT must be addr-type;address, at most 500 characters')
        }
        const address = decodeXtext(value.slice(semicolon + 1))
        if (address === null || address === '' || hasControl(address)) {
          return reply(501, '5.5.4', 'ORCPT address is not valid xtext')
        }
        result.originalRecipient = `${value.slice(0, semicolon)};${address}`
        break
      }
      default:
        return reply(555, '5.5.4', `RCPT parameter ${keyword} is not supported`)
    }
  }
  return result
}

/**
 * Decoded ENVID and ORCPT go back out in DSN fields (RFC 3464), one per line: a control
 * character there (a NUL, a CR or LF) could never be written, or would forge another field.
 */
function hasControl(text: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  return /[\u0000-\u001f\u007f]/.test(text)
}

/**
 * xtext (RFC 3461 §4): "+" and two upper-case hex digits stand for one octet. RFC 6533 §3's
 * "\x{HEX}" form (utf-8-addr-xtext) is decoded too. null for a malformed encoding.
 */
export function decodeXtext(text: string): string | null {
  if (!text.includes('+') && !text.includes('\\')) return text
  const octets: number[] = []
  let out = ''
  const flush = () => {
    if (octets.length > 0) out += Buffer.from(octets).toString('utf8')
    octets.length = 0
  }
  for (let i = 0; i < text.length; ) {
    const char = text[i] as string
    if (char === '+') {
      const hex = text.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null
      octets.push(Number.parseInt(hex, 16))
      i += 3
    } else if (char === '\\' && text[i + 1] === 'x' && text[i + 2] === '{') {
      const end = text.indexOf('}', i)
      const hex = end < 0 ? '' : text.slice(i + 3, end)
      if (!/^[0-9A-Fa-f]{1,6}$/.test(hex)) return null
      const codePoint = Number.parseInt(hex, 16)
      if (codePoint > 0x10ffff) return null
      flush()
      out += String.fromCodePoint(codePoint)
      i = end + 1
    } else {
      flush()
      out += char
      i += 1
    }
  }
  flush()
  return out
}

/**
 * xtext encoding: "+", "=" and anything outside %d33-126 as "+HH" (for relaying ENVID/ORCPT).
 * "\" is encoded too (RFC 3461 lets any octet be "+HH"), since decodeXtext reads "\x{HEX}".
 */
export function encodeXtext(text: string): string {
  let out = ''
  for (const octet of Buffer.from(text, 'utf8')) {
    out +=
      octet < 33 || octet > 126 || octet === 0x2b || octet === 0x3d || octet === 0x5c
        ? `+${octet.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(octet)
  }
  return out
}

/**
 * Upper-cases ASCII letters only. String#toUpperCase also folds "ı" to "I" and "ſ" to "S", so
 * "8BıTMIME" or "ſUCCESS" would pass for the keyword they imitate.
 */
function asciiUpperCase(text: string | null): string | null {
  return text === null ? null : text.replace(/[a-z]+/g, (letters) => letters.toUpperCase())
}
