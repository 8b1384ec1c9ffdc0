import { SYSTEM_FLAGS } from '../../store/index.ts'
import { type CommandReader, ParseError } from '../proto/index.ts'

const SYSTEM_BY_LOWER = new Map<string, string>(
  SYSTEM_FLAGS.map((flag) => [flag.toLowerCase(), flag]),
)

/** A flag list as FETCH and FLAGS show it: "(\Seen $Forwarded)", with \Recent in IMAP4rev1. */
export function formatFlags(flags: readonly string[], isRecent = false): string {
  if (!isRecent) return `(${flags.join(' ')})`
  return flags.length === 0 ? '(\\Recent)' : `(${flags.join(' ')} \\Recent)`
}

/**
 * One flag of a STORE or APPEND flag list (RFC 9051 §9: flag = "\Answered" / "\Flagged" /
 * "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension). System flags come back in
 * their canonical case. \Recent and other flag-extensions cannot be set by a client (RFC 3501
 * §2.3.2), so they are a syntax error here; keywords are checked by the store.
 */
export function readFlag(reader: CommandReader): string {
  if (reader.take('\\')) {
    const name = `\\${reader.atom()}`
    const system = SYSTEM_BY_LOWER.get(name.toLowerCase())
    if (system === undefined) throw new ParseError(`${name} is not a flag a client can set`)
    return system
  }
  return reader.atom()
}

/** "(" [flag *(SP flag)] ")" */
export function readFlagList(reader: CommandReader): string[] {
  return reader.list(readFlag)
}
