import {
  bodyStructure,
  crlfSize,
  parseDate,
  parseMessage,
  readEnvelope,
  searchText,
} from '../mime/index.ts'
import type { MessageMetadata } from './types.ts'

/** What a backend stores about new bytes, besides the bytes: computed once, at delivery. */
export interface MessageDescription {
  metadata: MessageMetadata
  /** Top-level header fields for SEARCH HEADER/FROM/SUBJECT…, decoded: "name: value" lines. */
  headerText: string
  /** Decoded text of the text parts, for SEARCH BODY/TEXT. */
  bodyText: string
  /** Octets as POP3 sends the message (LIST, STAT), which counts every line end as CRLF. */
  crlfSize: number
}

/** Parses the message once (src/mime never throws on any input) and keeps what IMAP asks. */
export function describeMessage(bytes: Buffer): MessageDescription {
  const parsed = parseMessage(bytes)
  const text = searchText(parsed)
  const envelope = readEnvelope(bytes, parsed.root)
  const sentDate = envelope.date === null ? null : parseDate(envelope.date)
  return {
    metadata: { envelope, structure: bodyStructure(parsed), sentDate },
    // One line per field: a line break that decoding produced (an encoded "=0A") must not make
    // text look like the start of another field.
    headerText: text.headers
      .map(({ name, value }) => `${name}: ${value.replace(/[\r\n]+/g, ' ')}`)
      .join('\n'),
    bodyText: text.body,
    crlfSize: crlfSize(bytes),
  }
}
