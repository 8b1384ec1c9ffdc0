import { isValidUtf8 } from '../../mime/index.ts'
import { checkMailboxName, InvalidNameError } from '../../store/index.ts'
import {
  type CommandReader,
  decodeMailboxName,
  encodeMailboxName,
  ParseError,
} from '../proto/index.ts'

/**
 * Mailbox names between the wire and the store. The store keeps Unicode names with "/" as the
 * hierarchy delimiter; on the wire they are modified UTF-7 (RFC 3501 §5.1.3), or UTF-8 once the
 * client has enabled UTF8=ACCEPT (RFC 6855 §3).
 */
export const HIERARCHY_DELIMITER = '/'

/**
 * A mailbox name argument (astring) in the store's form. A name with 8-bit octets is taken as
 * UTF-8 even without UTF8=ACCEPT, as Dovecot does: clients that never enabled it still send them.
 * @throws ParseError when the octets are neither modified UTF-7 nor UTF-8;
 *   InvalidNameError (from the store's rules) for a name no mailbox can have
 */
export function readMailboxName(reader: CommandReader, utf8: boolean): string {
  return checkMailboxName(decodeWireName(reader.astring(), utf8))
}

/**
 * readMailboxName for a command that must still parse to its end before it answers (a syntax
 * error there is BAD, whatever the name): a name no mailbox can have comes back as the
 * InvalidNameError to answer NO with, instead of being thrown.
 * @throws ParseError as readMailboxName does
 */
export function readMailboxNameOrError(
  reader: CommandReader,
  utf8: boolean,
): string | InvalidNameError {
  try {
    return readMailboxName(reader, utf8)
  } catch (error) {
    if (error instanceof InvalidNameError) return error
    throw error
  }
}

/** The name as sent, decoded but not checked against the store's rules (LIST patterns). */
export function decodeWireName(octets: Buffer, utf8: boolean): string {
  const isAscii = octets.every((octet) => octet < 0x80)
  if (utf8 || !isAscii) {
    if (!isValidUtf8(octets)) throw new ParseError('mailbox name is not valid UTF-8')
    return octets.toString('utf8')
  }
  const decoded = decodeMailboxName(octets.toString('latin1'))
  if (decoded === null) throw new ParseError('mailbox name is not valid modified UTF-7')
  return decoded
}

/**
 * A stored name as the client reads it, as a binary string (one char per octet, see
 * proto/string.ts): UTF-8 octets when UTF8=ACCEPT is on, else modified UTF-7.
 */
export function wireName(name: string, utf8: boolean): string {
  return utf8 ? Buffer.from(name, 'utf8').toString('latin1') : encodeMailboxName(name)
}
