// The command and response plumbing of ImapClient (imap-client.ts): tags, reading whole
// responses (lines and the literals they announce) within the bounds, sending commands with
// literals, what every untagged response updates whatever command is running (the
// capabilities, the number of messages, the server's last words), and the formatting of
// command arguments (strings, sequence sets).
import { formatSequenceSet } from '../../imap/proto/index.ts'
import {
  announcedLiteral,
  type ImapResponse,
  MAX_RESPONSE_DEPTH,
  MAX_RESPONSE_TEXT_OCTETS,
  parseResponse,
  tokenNumber,
} from './imap-response.ts'
import { MailClientError, type MailSocket } from './mail-socket.ts'

/** Sequence sets per command stay under the 8192 octets RFC 7162 §4 asks servers to accept. */
const MAX_SET_OCTETS = 7000
/** RFC 7888 §4: with LITERAL- only, a non-synchronizing literal may hold at most 4096 octets. */
const MAX_LITERAL_MINUS_OCTETS = 4096

/** Called with each untagged response (after the connection has taken what it tracks). */
export type UntaggedHandler = (response: ImapResponse) => void

/** One part of a command: text as written (ASCII), or octets to send as a literal. */
export type CommandPart = string | Buffer

export class ImapConnection {
  readonly socket: MailSocket
  readonly maxMessageOctets: number
  /** The capabilities last announced, upper case. */
  capabilities = new Set<string>()
  /** The number of messages in the selected mailbox, as EXISTS and EXPUNGE last told it. */
  exists = 0
  /** How many EXISTS responses raised the number of messages: new mail arrived. */
  arrivals = 0
  #nextTag = 1

  constructor(socket: MailSocket, maxMessageOctets: number) {
    this.socket = socket
    this.maxMessageOctets = maxMessageOctets
  }

  /** "A1", "A2", … */
  newTag(): string {
    const tag = `A${this.#nextTag}`
    this.#nextTag += 1
    return tag
  }

  /**
   * The next whole response: a line and, whenever a line ends by announcing a literal, the
   * literal and the line after it (RFC 9051 §4.3). `timeoutMs` applies to the first line; null
   * waits for ever (IDLE).
   */
  async readResponse(
    command: string,
    timeoutMs: number | null = this.socket.timeoutMs,
  ): Promise<ImapResponse> {
    const pieces: Buffer[] = []
    let textOctets = 0
    let literalOctets = 0
    try {
      for (;;) {
        const room = MAX_RESPONSE_TEXT_OCTETS - textOctets
        const line = await this.socket.readLine(
          room + 2,
          command,
          pieces.length === 0 ? timeoutMs : this.socket.timeoutMs,
        )
        textOctets += line.length
        pieces.push(line)
        const size = announcedLiteral(line, pieces.length === 1, this.maxMessageOctets)
        if (size === null) break
        literalOctets += size
        if (literalOctets > this.maxMessageOctets + MAX_RESPONSE_TEXT_OCTETS) {
          throw new MailClientError('protocol', `The server sent too many literals in a response`)
        }
        pieces.push(await this.socket.readExact(size, command))
      }
      return parseResponse(pieces, {
        maxTextOctets: MAX_RESPONSE_TEXT_OCTETS,
        maxLiteralOctets: this.maxMessageOctets,
        maxDepth: MAX_RESPONSE_DEPTH,
      })
    } catch (error) {
      // The stream's framing can no longer be trusted.
      if (error instanceof MailClientError) throw this.socket.fail(error)
      throw error
    }
  }

  /**
   * Sends a tagged command and waits for its tagged response, which it returns whatever its
   * status. `Buffer` parts go as literals: non-synchronizing where the server allows
   * (RFC 7888), else after the server's "+" (RFC 9051 §7.6); a tagged answer instead of the "+"
   * is returned as the command's.
   */
  async run(
    command: string,
    parts: readonly CommandPart[],
    onUntagged?: UntaggedHandler,
  ): Promise<ImapResponse> {
    const tag = this.newTag()
    this.socket.write(`${tag} `, command)
    for (const part of parts) {
      if (typeof part === 'string') {
        this.socket.write(part, command)
        continue
      }
      if (this.#mayWriteNonSync(part.length)) {
        this.socket.write(`{${part.length}+}\r\n`, command)
      } else {
        this.socket.write(`{${part.length}}\r\n`, command)
        const answer = await this.exchange(tag, command, onUntagged)
        if (answer.tag === tag) return answer
      }
      this.socket.write(part, command)
    }
    this.socket.write('\r\n', command)
    return this.waitTagged(tag, command, onUntagged)
  }

  /** Reads up to the response tagged `tag`, handling untagged ones; a "+" is a protocol error. */
  async waitTagged(
    tag: string,
    command: string,
    onUntagged?: UntaggedHandler,
  ): Promise<ImapResponse> {
    const answer = await this.exchange(tag, command, onUntagged)
    if (answer.tag === '+') {
      throw this.socket.fail(
        new MailClientError('protocol', `The server sent an unexpected "+" in reply to ${command}`),
      )
    }
    return answer
  }

  /**
   * Reads up to the next continuation request or response tagged `tag` (which must be OK, NO or
   * BAD, and whose [CAPABILITY …] code is taken), and returns it.
   */
  async exchange(
    tag: string,
    command: string,
    onUntagged?: UntaggedHandler,
  ): Promise<ImapResponse> {
    for (;;) {
      const response = await this.readResponse(command)
      if (response.tag === tag) return this.#tagged(response, command)
      if (response.tag === '+') return response
      if (response.tag !== '*') {
        throw this.socket.fail(
          new MailClientError(
            'protocol',
            `The server answered tag ${response.tag} while ${command} (${tag}) was running`,
          ),
        )
      }
      this.untagged(response, onUntagged)
    }
  }

  /** Takes what every command tracks from an untagged response, then passes it on. */
  untagged(response: ImapResponse, onUntagged?: UntaggedHandler): void {
    if (response.status === 'BYE') this.socket.farewell = `BYE ${response.text}`
    if (response.code !== null) this.#responseCode(response.code)
    const [first, second] = response.tokens
    const name = typeof second === 'string' ? second.toUpperCase() : ''
    const count = tokenNumber(first)
    // RFC 9051 §7.4.1: "* n EXISTS" is the new number of messages; §7.5.1: each EXPUNGE
    // removes one.
    if (count !== null && name === 'EXISTS') {
      if (count > this.exists) this.arrivals += 1
      this.exists = count
    }
    if (count !== null && name === 'EXPUNGE') this.exists = Math.max(0, this.exists - 1)
    // RFC 9051 §7.2.2: the list replaces whatever was announced before.
    if (typeof first === 'string' && first.toUpperCase() === 'CAPABILITY') {
      this.#setCapabilities(
        response.tokens.slice(1).filter((t): t is string => typeof t === 'string'),
      )
    }
    onUntagged?.(response)
  }

  /** The failure for a tagged NO or BAD: kind 'no' (or `kind`), with the server's text. */
  refused(response: ImapResponse, command: string, kind: 'no' | 'auth' | 'tls' = 'no') {
    const code = response.code === null ? '' : `[${response.code}] `
    return new MailClientError(
      kind,
      `${command} failed: ${response.status} ${code}${response.text}`,
    )
  }

  #tagged(response: ImapResponse, command: string): ImapResponse {
    // RFC 9051 §7.1: a tagged response is OK, NO or BAD.
    if (response.status !== 'OK' && response.status !== 'NO' && response.status !== 'BAD') {
      throw this.socket.fail(
        new MailClientError('protocol', `The server ended ${command} without OK, NO or BAD`),
      )
    }
    if (response.code !== null) this.#responseCode(response.code)
    return response
  }

  #responseCode(code: string): void {
    const words = code.split(' ').filter((word) => word !== '')
    // RFC 9051 §7.1: [CAPABILITY …] in a status response spares the client a CAPABILITY command.
    if (words[0]?.toUpperCase() === 'CAPABILITY') this.#setCapabilities(words.slice(1))
  }

  #setCapabilities(names: readonly string[]): void {
    this.capabilities = new Set(names.map((name) => name.toUpperCase()))
  }

  #mayWriteNonSync(size: number): boolean {
    // RFC 7888 §3 LITERAL+: any size; §4 LITERAL-: up to 4096 octets.
    if (this.capabilities.has('LITERAL+')) return true
    return this.capabilities.has('LITERAL-') && size <= MAX_LITERAL_MINUS_OCTETS
  }
}

/** RFC 9051 §9: astring as a quoted string where one can carry it, else a literal. */
export function astring(value: string): CommandPart[] {
  if (/^[\x20-\x7e]*$/.test(value)) return [quoted(value)]
  return [Buffer.from(value, 'utf8')]
}

/** RFC 9051 §9: quoted = DQUOTE *QUOTED-CHAR DQUOTE, "\" before DQUOTE and "\". */
export function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

/** The UIDs as compact sequence sets ("1:3,7"), each short enough for one command line. */
export function sequenceSets(uids: readonly number[]): string[] {
  const sorted = [...new Set(uids)].sort((a, b) => a - b)
  const ranges: Array<[number, number]> = []
  for (const uid of sorted) {
    const last = ranges.at(-1)
    if (last !== undefined && uid === last[1] + 1) last[1] = uid
    else ranges.push([uid, uid])
  }
  const sets: string[] = []
  let batch: Array<[number, number]> = []
  let octets = 0
  for (const range of ranges) {
    const size = `${range[0]}:${range[1]},`.length
    if (batch.length > 0 && octets + size > MAX_SET_OCTETS) {
      sets.push(formatSequenceSet(batch))
      batch = []
      octets = 0
    }
    batch.push(range)
    octets += size
  }
  if (batch.length > 0) sets.push(formatSequenceSet(batch))
  return sets
}
