import { type CommandReader, formatString, ParseError } from '../../proto/index.ts'
import { ANY_STATE, type ImapCommandEntry } from '../command.ts'

/** RFC 2971 §3.3: a client sends at most 30 pairs, fields of 30 octets, values of 1024. */
const MAX_ID_PAIRS = 30
const MAX_ID_FIELD_OCTETS = 30
const MAX_ID_VALUE_OCTETS = 1024

/**
 * ID (RFC 2971 §3.1), in any state: the client's identification (NIL or a list of field/value
 * pairs) is logged, and the server answers with its own name. Only the name: RFC 2971 §5 warns
 * that versions help attackers.
 */
export const id: ImapCommandEntry = {
  states: ANY_STATE,
  async handle(session, { tag, reader }) {
    reader.space()
    const fields = readIdParams(reader)
    reader.end()
    if (fields !== null) session.log.info({ clientId: fields }, 'IMAP client identified itself')
    await session.untagged(`ID (${formatString('name')} ${formatString('Postern')})`)
    await session.tagged(tag, 'OK', 'ID completed')
  },
}

/** id-params-list = "(" *(string SP nstring) ")" / nil (RFC 2971 §4), bounded by §3.3. */
function readIdParams(reader: CommandReader): Record<string, string | null> | null {
  if (reader.peek() !== 0x28) {
    if (reader.keyword() !== 'NIL') throw new ParseError('expected "(" or NIL')
    return null
  }
  const fields: Record<string, string | null> = {}
  let count = 0
  reader.openList()
  while (reader.peek() !== 0x29) {
    if (count > 0) reader.space()
    count += 1
    if (count > MAX_ID_PAIRS) throw new ParseError(`more than ${MAX_ID_PAIRS} ID fields`)
    const field = reader.string()
    if (field.length > MAX_ID_FIELD_OCTETS) {
      throw new ParseError(`an ID field name longer than ${MAX_ID_FIELD_OCTETS} octets`)
    }
    reader.space()
    const value = reader.nstring()
    if (value !== null && value.length > MAX_ID_VALUE_OCTETS) {
      throw new ParseError(`an ID value longer than ${MAX_ID_VALUE_OCTETS} octets`)
    }
    // Field names are case-insensitive (§3.3); a repeated one keeps its last value.
    fields[field.toString('utf8').toLowerCase()] = value === null ? null : value.toString('utf8')
  }
  reader.closeList()
  return fields
}
