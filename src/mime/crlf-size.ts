const LF = 0x0a
const CR = 0x0d

/**
 * The octets of a message as line-based protocols send it back (POP3 RETR, RFC 1939 §3): every LF
 * not preceded by CR becomes CRLF, and a CRLF is added at the end unless the message ends with a
 * line end or is empty. A store keeps the bytes exactly as received; this is the size a POP3
 * client counts for them (LIST, STAT), so it is computed once when the bytes are stored.
 */
export function crlfSize(bytes: Uint8Array): number {
  let size = bytes.length
  let index = bytes.indexOf(LF)
  while (index >= 0) {
    if (index === 0 || bytes[index - 1] !== CR) size += 1
    index = bytes.indexOf(LF, index + 1)
  }
  if (bytes.length > 0 && bytes[bytes.length - 1] !== LF) size += 2
  return size
}
