// Authentication-Results fields (RFC 8601) on the way in: the ones a sender wrote claiming to be
// us are removed (§5: a receiver removes fields that carry its own authserv-id before adding
// its own, or a forger could vouch for itself), and ours is taken from what mailauth built.
import { splitHeaderFields } from '../mime/index.ts'

const MAX_FIELDS = 10_000
const MAX_HEADER_OCTETS = 4 * 1024 * 1024

/**
 * The message without the Authentication-Results fields whose authserv-id is `authservId`
 * (compared without case, RFC 8601 §2.5); the body and every other octet stay as they were.
 */
export function removeForgedAuthResults(
  message: Buffer,
  authservId: string,
): { message: Buffer; removed: number } {
  const { fields } = splitHeaderFields(message, 0, message.length, MAX_FIELDS, MAX_HEADER_OCTETS)
  const ours = authservId.toLowerCase()
  const forged = fields.filter(
    (field) =>
      field.lowerName === 'authentication-results' &&
      authservIdOf(message.subarray(field.valueStart, field.end)) === ours,
  )
  if (forged.length === 0) return { message, removed: 0 }
  const parts: Buffer[] = []
  let from = 0
  for (const field of forged) {
    parts.push(message.subarray(from, field.start))
    from = field.end
  }
  parts.push(message.subarray(from))
  return { message: Buffer.concat(parts), removed: forged.length }
}

/**
 * The authserv-id of a field value, lower case: the first token before ";" with comments and
 * folding whitespace removed (RFC 8601 §2.2: authserv-id [ CFWS authres-version ] ";").
 */
export function authservIdOf(value: Buffer): string {
  const text = value.toString('latin1')
  const semicolon = text.indexOf(';')
  const head = (semicolon < 0 ? text : text.slice(0, semicolon)).replace(/\([^)]*\)/g, ' ')
  const token = head.trim().split(/[ \t\r\n]+/)[0] ?? ''
  return token.replace(/^"(.*)"$/, '$1').toLowerCase()
}

/** The Authentication-Results field among the ones mailauth returns, CRLF-terminated. */
export function authResultsField(headers: string): string {
  const field = fieldsOf(headers).find((text) => /^Authentication-Results:/i.test(text))
  return field === undefined ? '' : `${field}\r\n`
}

/** The ARC set mailauth made when asked to seal (RFC 8617 §4.1), in its order, or ''. */
export function arcSetFields(headers: string): string {
  return fieldsOf(headers)
    .filter((text) => /^ARC-(Seal|Message-Signature|Authentication-Results):/i.test(text))
    .map((text) => `${text}\r\n`)
    .join('')
}

function fieldsOf(headers: string): string[] {
  return headers.split(/\r\n(?![ \t])/).filter((field) => field !== '')
}
