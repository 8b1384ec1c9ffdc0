/**
 * Header field values: non-ASCII text (RFC 2047 §2, RFC 6532 §3.2) and parameterized values
 * (RFC 2045 §5.1, RFC 2183 §2, RFC 2231 §3 and §4).
 */
export {
  decodeEncodedWords,
  decodeHeaderBytes,
  encodeHeaderText,
  encodePhrase,
} from './encoded-word.ts'
export {
  formatParameterizedValue,
  type ParameterizedValue,
  parseContentTypeValue,
  parseParameterizedValue,
} from './params.ts'
