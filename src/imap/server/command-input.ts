import { type Connection, LineTooLongError } from '../../net/index.ts'
import {
  type LiteralAnnouncement,
  literalAtLineEnd,
  MAX_COMMAND_LINE_OCTETS,
  MAX_LITERAL_MINUS_OCTETS,
  MAX_LITERALS_PER_COMMAND,
} from '../proto/index.ts'

/** One command as read off the wire, or why none could be. */
export type CommandInput =
  | { kind: 'command'; lines: Buffer[]; literals: Buffer[] }
  /** Refused before the whole command was read; the connection goes on (send `response`). */
  | { kind: 'refused'; response: string }
  /** Refused in a way that leaves the stream unusable (a non-synchronizing literal too large). */
  | { kind: 'fatal'; response: string }
  | { kind: 'closed' }

export interface CommandInputOptions {
  /**
   * Decides on a literal before any of it is read (RFC 9051 §7.5: a server may refuse with a
   * tagged NO or BAD instead of "+"). `lineSoFar` is the command up to here, for the command to
   * tell an APPEND's message (up to the message size limit) from a short string. Returns null
   * to accept, or the text of the refusal ("NO [TOOBIG] …").
   */
  admit(announcement: LiteralAnnouncement, lineSoFar: Buffer, index: number): string | null
  /** Sends "+ …" before a synchronizing literal is read. */
  continueLiteral(): Promise<void>
}

/**
 * Reads one command: a line, and while it ends with a literal's announcement, the literal's
 * octets and the line after them (RFC 9051 §4.3). Nothing is buffered that a limit has not
 * admitted first: lines are bounded, a literal is admitted before it is read (and, when it is
 * synchronizing, before the client is told to send it), the count of literals is bounded.
 *
 * A refused synchronizing literal was never sent, so the command simply ends there. A refused
 * non-synchronizing one (RFC 7888 LITERAL+) is already on its way: up to the LITERAL- bound it
 * is read and dropped; past it the connection is beyond saving and must close (§4 allows it).
 */
export async function readCommand(
  connection: Connection,
  options: CommandInputOptions,
): Promise<CommandInput> {
  const lines: Buffer[] = []
  const literals: Buffer[] = []
  for (;;) {
    let line: Awaited<ReturnType<Connection['reader']['readLine']>>
    try {
      line = await connection.reader.readLine(MAX_COMMAND_LINE_OCTETS)
    } catch (error) {
      if (!(error instanceof LineTooLongError)) throw error
      // The rest of the line is skipped; anything it announced was never admitted, so a
      // synchronizing literal will not come. (A non-synchronizing one would be read as lines.)
      return refused(lines, `BAD Command line longer than ${MAX_COMMAND_LINE_OCTETS} octets`)
    }
    if (line === null) return { kind: 'closed' }
    lines.push(line.bytes)
    const announced = literalAtLineEnd(line.bytes)
    if (announced === null) return { kind: 'command', lines, literals }
    if (announced === 'malformed') return refused(lines, 'BAD Literal size out of range')
    const refusal =
      literals.length >= MAX_LITERALS_PER_COMMAND
        ? `BAD More than ${MAX_LITERALS_PER_COMMAND} literals in one command`
        : options.admit(announced, Buffer.concat(lines), literals.length)
    if (refusal !== null) {
      if (!announced.isNonSync) return refused(lines, refusal)
      if (announced.size > MAX_LITERAL_MINUS_OCTETS) {
        return { kind: 'fatal', response: `* BYE ${refusal.replace(/^(NO|BAD) /, '')}\r\n` }
      }
      for await (const _ of connection.reader.readStream(announced.size)) {
        // Dropped as it arrives.
      }
      await skipRestOfCommand(connection)
      return refused(lines, refusal)
    }
    if (!announced.isNonSync) await options.continueLiteral()
    literals.push(await connection.reader.readExact(announced.size))
  }
}

/** The tagged refusal of a command whose first line is `lines[0]`. */
function refused(lines: readonly Buffer[], text: string): CommandInput {
  return { kind: 'refused', response: `${tagOf(lines[0])} ${text}\r\n` }
}

/**
 * The tag a refusal answers: the first word when it is a valid tag, else "*" (RFC 9051 §7.1.5:
 * BAD untagged when the tag cannot be told).
 */
function tagOf(line: Buffer | undefined): string {
  const text = line?.toString('latin1') ?? ''
  const tag = text.slice(0, Math.max(0, text.indexOf(' ')))
  return /^[\x21-\x7e]{1,64}$/.test(tag) && !/[(){%*"\\+]/.test(tag) ? tag : '*'
}

/** After a dropped literal, the rest of its command (more text, more literals) is dropped too. */
async function skipRestOfCommand(connection: Connection): Promise<void> {
  for (;;) {
    let line: Awaited<ReturnType<Connection['reader']['readLine']>>
    try {
      line = await connection.reader.readLine(MAX_COMMAND_LINE_OCTETS)
    } catch (error) {
      if (error instanceof LineTooLongError) continue
      throw error
    }
    if (line === null) return
    const announced = literalAtLineEnd(line.bytes)
    if (announced === null || announced === 'malformed' || !announced.isNonSync) return
    if (announced.size > MAX_LITERAL_MINUS_OCTETS) return
    for await (const _ of connection.reader.readStream(announced.size)) {
      // Dropped.
    }
  }
}
