import { type AddressListEntry, parseAddressList } from './address.ts'
import { fieldValueBytes, type HeaderField, unfoldedFieldValue } from './header/fields.ts'
import { MAX_ADDRESS_LIST_CHARS } from './limits.ts'
import type { MimePart } from './parse-message.ts'

/**
 * The header fields IMAP's ENVELOPE reports (RFC 9051 §7.5.2), as neutral data. Strings are
 * binary strings (one char per octet) of the raw values, folds included: encoded words are not
 * decoded and 8-bit octets are kept, because ENVELOPE returns the header as written.
 */
export interface Envelope {
  date: string | null
  subject: string | null
  from: AddressListEntry[] | null
  sender: AddressListEntry[] | null
  replyTo: AddressListEntry[] | null
  to: AddressListEntry[] | null
  cc: AddressListEntry[] | null
  bcc: AddressListEntry[] | null
  inReplyTo: string | null
  messageId: string | null
}

/**
 * The envelope of the message whose header is `part`'s (the root, or an encapsulated message).
 * A field that occurs more than once is taken from its last occurrence, as Dovecot does, so
 * that both servers show the same envelope for such (invalid, RFC 5322 §3.6) messages.
 */
export function readEnvelope(bytes: Uint8Array, part: MimePart): Envelope {
  const lastValue = (name: string): string | null => {
    const field = lastField(part.header.fields, name)
    return field ? envelopeValue(bytes, field) : null
  }
  const addresses = (name: string): AddressListEntry[] | null => {
    const field = lastField(part.header.fields, name)
    // Past MAX_ADDRESS_LIST_CHARS an address list is cut: thousands of recipients fit, a
    // megabyte of "<>" does not become half a million objects.
    return field
      ? parseAddressList(unfoldedFieldValue(bytes, field).slice(0, MAX_ADDRESS_LIST_CHARS))
      : null
  }
  return {
    date: lastValue('date'),
    subject: lastValue('subject'),
    from: addresses('from'),
    sender: addresses('sender'),
    replyTo: addresses('reply-to'),
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    inReplyTo: lastValue('in-reply-to'),
    messageId: lastValue('message-id'),
  }
}

/**
 * A field value for ENVELOPE: from the first non-blank octet after the colon to the end of the
 * field, folds (line breaks) still in, trailing blanks kept. The wire form decides what to do
 * with the folds: a subject is cleaned for reading, other fields just lose the line breaks.
 */
function envelopeValue(bytes: Uint8Array, field: HeaderField): string {
  return Buffer.from(fieldValueBytes(bytes, field))
    .toString('latin1')
    .replace(/^[ \t]+/, '')
}

function lastField(fields: readonly HeaderField[], lowerName: string): HeaderField | undefined {
  return fields.findLast((field) => field.lowerName === lowerName)
}
