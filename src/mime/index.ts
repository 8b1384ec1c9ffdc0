// src/mime: RFC 5322 and MIME. A library on its own: it imports nothing else of Postern.
export {
  type AddressInput,
  type AddressListEntry,
  addressOf,
  formatAddress,
  formatAddressList,
  type Group,
  type GroupInput,
  type Mailbox,
  type PhraseEncoder,
  parseAddressList,
  toAsciiDomain,
} from './address.ts'
export {
  buildMessage,
  type LeafPartInput,
  type MessageInput,
  type MultipartInput,
} from './build-message.ts'
export { decodeText, isValidUtf8, normalizeCharset } from './charset.ts'
export { crlfSize } from './crlf-size.ts'
export { formatDate, parseDate } from './date.ts'
export { downgrade8bit } from './downgrade-8bit.ts'
export { type Envelope, readEnvelope } from './envelope.ts'
export {
  fieldValueBytes,
  firstField,
  type HeaderBlock,
  type HeaderField,
  splitHeaderFields,
  transferEncodingValue,
  unfoldedFieldValue,
} from './header/fields.ts'
export {
  decodeEncodedWords,
  decodeHeaderBytes,
  encodeHeaderText,
  encodePhrase,
  formatParameterizedValue,
  type ParameterizedValue,
  parseContentTypeValue,
  parseParameterizedValue,
} from './header/index.ts'
export { DEFAULT_MIME_LIMITS, type MimeLimits } from './limits.ts'
export { generateMessageId, parseMessageIds } from './message-id.ts'
export {
  type ContentType,
  isEncapsulatedMessage,
  type MimePart,
  type ParsedMessage,
  parseMessage,
} from './parse-message.ts'
export { decodeHeaderValue, htmlToText, type SearchText, searchText } from './search-text.ts'
export {
  type BinaryResult,
  binarySection,
  findPart,
  type SectionText,
  sectionBytes,
} from './sections.ts'
export {
  bodyStructure,
  countLines,
  EMPTY_TEXT_PART,
  type PartStructure,
  partStructure,
} from './structure.ts'
export {
  decodeBase64,
  decodeQuotedPrintable,
  decodeTransferEncoding,
  encodeBase64,
  encodeQuotedPrintable,
  transferEncodingToken,
} from './transfer-encoding/index.ts'
