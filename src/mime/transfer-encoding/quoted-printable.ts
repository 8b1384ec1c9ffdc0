import { hexValue } from '../hex-escapes.ts'

/**
 * The quoted-printable Content-Transfer-Encoding.
 *
 * @see https://www.rfc-editor.org/rfc/rfc2045#section-6.7
 */

const TAB = 0x09
const LF = 0x0a
const CR = 0x0d
const SPACE = 0x20
const DOT = 0x2e
const EQUALS = 0x3d

const HEX_DIGITS = '0123456789ABCDEF'

function isWhitespace(octet: number | undefined): boolean {
  return octet === SPACE || octet === TAB
}

/**
 * Decodes a quoted-printable body. Never throws.
 *
 * quoted-printable := qp-line *(CRLF qp-line)
 * qp-line := *(qp-segment transport-padding CRLF) qp-part transport-padding
 * qp-part := qp-section                       ; Maximum length of 76 characters
 * qp-segment := qp-section *(SPACE / TAB) "="   ; Maximum length of 76 characters
 * qp-section := [*(ptext / SPACE / TAB) ptext]
 * ptext := hex-octet / safe-char
 * safe-char := <any octet with decimal value of 33 through 60 inclusive, and 62 through 126>
 * hex-octet := "=" 2(DIGIT / "A" / "B" / "C" / "D" / "E" / "F")
 * transport-padding := *LWSP-char            (RFC 2045 §6.7)
 *
 * Tolerated beyond the grammar, as the notes closing RFC 2045 §6.7 advise a robust decoder
 * to: lower-case hex digits, and an "=" that starts no valid sequence kept as it is. Also
 * soft line breaks ended by a bare LF, and "=" at the very end of the data. Line ends are kept as they
 * are written, bare LF included, so a body that never was CRLF stays as it came.
 */
export function decodeQuotedPrintable(input: Uint8Array): Buffer {
  const output = Buffer.alloc(input.length)
  let length = 0
  // Where in the output the current run of spaces and tabs began, or -1 outside one.
  // RFC 2045 §6.7 rule 3: trailing whitespace on a line was added in transport; delete it.
  let whitespaceStart = -1
  let i = 0
  while (i < input.length) {
    const octet = input[i] ?? 0
    if (octet === EQUALS) {
      const high = hexValue(input[i + 1])
      const low = high >= 0 ? hexValue(input[i + 2]) : -1
      if (low >= 0) {
        output[length] = (high << 4) | low
        length += 1
        whitespaceStart = -1
        i += 3
        continue
      }
      // RFC 2045 §6.7 rule 5: "=" at a line end is a soft line break, and transport-padding
      // may sit between them.
      let end = i + 1
      while (isWhitespace(input[end])) end += 1
      if (end === input.length || input[end] === LF) {
        i = end + 1
        whitespaceStart = -1
        continue
      }
      if (input[end] === CR && input[end + 1] === LF) {
        i = end + 2
        whitespaceStart = -1
        continue
      }
      output[length] = EQUALS
      length += 1
      whitespaceStart = -1
      i += 1
      continue
    }
    if (isWhitespace(octet)) {
      if (whitespaceStart < 0) whitespaceStart = length
    } else if (octet === LF || (octet === CR && input[i + 1] === LF)) {
      if (whitespaceStart >= 0) length = whitespaceStart
      whitespaceStart = -1
      if (octet === CR) {
        output[length] = CR
        length += 1
        i += 1
      }
    } else {
      whitespaceStart = -1
    }
    output[length] = input[i] ?? 0
    length += 1
    i += 1
  }
  if (whitespaceStart >= 0) length = whitespaceStart
  return output.subarray(0, length)
}

/**
 * Encodes data as quoted-printable in lines of at most `lineLength` characters (RFC 2045 §6.7
 * rule 5: 76), never splitting an "=XX". CRLF in the data is a hard line break (RFC 2045
 * §6.7 rule 4); a bare CR or LF is encoded, so the result has no bare line ends and decodes
 * back to the same octets. Callers encoding text convert its line ends to CRLF first.
 *
 * Also encoded, though RFC 2045 §6.7 allows them literally: a "." at the start of a line, which
 * an SMTP relay that forgets dot-stuffing would eat, and "From " at the start of a line, which
 * mbox writers mangle into ">From ".
 */
export function encodeQuotedPrintable(data: Uint8Array, lineLength = 76): string {
  const width = Number.isFinite(lineLength) ? Math.max(4, Math.floor(lineLength)) : Infinity
  const output = new OctetWriter(data.length + (data.length >> 3) + 16)
  let column = 0
  for (let i = 0; i < data.length; i += 1) {
    const octet = data[i] ?? 0
    if (octet === CR && data[i + 1] === LF) {
      output.push2(CR, LF)
      column = 0
      i += 1
      continue
    }
    const isLastOnLine = i + 1 === data.length || (data[i + 1] === CR && data[i + 2] === LF)
    // RFC 2045 §6.7 rules 2 and 3: printable ASCII but "=" stands for itself, and so do space
    // and tab unless they would end a line.
    let isEncoded = isWhitespace(octet) ? isLastOnLine : octet < 33 || octet > 126 || octet === 61
    if (column === 0) isEncoded ||= isUnsafeAtLineStart(data, i)
    // The last character of a line may use the column a soft break's "=" would otherwise need.
    const room = isLastOnLine ? width : width - 1
    if (column + (isEncoded ? 3 : 1) > room) {
      output.push3(EQUALS, CR, LF)
      column = 0
      isEncoded ||= isUnsafeAtLineStart(data, i)
    }
    if (isEncoded) {
      output.push3(EQUALS, HEX_DIGITS.charCodeAt(octet >> 4), HEX_DIGITS.charCodeAt(octet & 0xf))
      column += 3
    } else {
      output.push1(octet)
      column += 1
    }
  }
  return output.toString()
}

function isUnsafeAtLineStart(data: Uint8Array, i: number): boolean {
  const octet = data[i]
  if (octet === DOT) return true
  // "From " spelled out as octets, since the data need not be text.
  return (
    octet === 0x46 &&
    data[i + 1] === 0x72 &&
    data[i + 2] === 0x6f &&
    data[i + 3] === 0x6d &&
    data[i + 4] === SPACE
  )
}

/** An append-only octet buffer that grows by doubling; the output of the encoder is ASCII. */
class OctetWriter {
  #buffer: Buffer
  #length = 0

  constructor(initialCapacity: number) {
    this.#buffer = Buffer.allocUnsafe(initialCapacity)
  }

  push1(octet: number): void {
    this.#reserve(1)
    this.#buffer[this.#length] = octet
    this.#length += 1
  }

  push2(first: number, second: number): void {
    this.#reserve(2)
    this.#buffer[this.#length] = first
    this.#buffer[this.#length + 1] = second
    this.#length += 2
  }

  push3(first: number, second: number, third: number): void {
    this.#reserve(3)
    this.#buffer[this.#length] = first
    this.#buffer[this.#length + 1] = second
    this.#buffer[this.#length + 2] = third
    this.#length += 3
  }

  #reserve(count: number): void {
    if (this.#length + count <= this.#buffer.length) return
    const grown = Buffer.allocUnsafe(this.#buffer.length * 2 + count)
    this.#buffer.copy(grown, 0, 0, this.#length)
    this.#buffer = grown
  }

  toString(): string {
    return this.#buffer.toString('latin1', 0, this.#length)
  }
}
