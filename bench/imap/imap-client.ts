// The imap benchmark's client: raw sockets, one command at a time per connection (no
// pipelining), and as little parsing as the benchmark's checks need. Responses are split as they
// arrive (RFC 9051 §2.2.2, §4.3): a line, and for each line that ends in a literal announcement
// `{n}` the n octets after it and the line that continues the response. A literal's octets are
// never searched for CRLF. Each complete response goes straight to the command waiting for it, so
// a FETCH of 50 messages costs one promise, not fifty.
import { connect, type Socket } from 'node:net'

const RESPONSE_TIMEOUT_MS = 60_000
const CRLF = Buffer.from('\r\n')
const EMPTY = Buffer.alloc(0)

/** One response: its text with the literal announcements in place, and the literals' octets. */
export interface ImapResponse {
  text: string
  literals: Buffer[]
}

export interface CommandResult {
  status: 'OK' | 'NO' | 'BAD'
  /** The tagged line, tag included. */
  tagged: string
  untagged: ImapResponse[]
}

interface Pending {
  tag: string
  untagged: ImapResponse[]
  resolve: (result: CommandResult) => void
  reject: (error: Error) => void
  /** The server's "+" (a literal may follow, or IDLE has begun). */
  onContinue: ((response: ImapResponse) => void) | null
  /** Sees each untagged response as it arrives (IDLE waits for EXISTS this way). */
  onUntagged: ((response: ImapResponse) => void) | null
  timer: NodeJS.Timeout
}

export class ImapClient {
  readonly #socket: Socket
  #buffer: Buffer = EMPTY
  /** The response being put together: its lines so far and its literals. */
  #parts: string[] = []
  #literals: Buffer[] = []
  /** Octets of the literal being read, or -1 between literals. */
  #literalLeft = -1
  #pending: Pending | null = null
  #nextTag = 1
  #closedError: Error | null = null
  /** Untagged responses that came with no command waiting (the greeting, a late BYE). */
  readonly #unsolicited: ImapResponse[] = []
  #onUnsolicited: (() => void) | null = null

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (error) => this.#fail(error))
    socket.on('close', () => this.#fail(new Error('the server closed the connection')))
  }

  /** Connects to 127.0.0.1:port and reads the greeting, which must be "* OK". */
  static async connect(port: number, timeoutMs = RESPONSE_TIMEOUT_MS): Promise<ImapClient> {
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const client = new ImapClient(socket)
    const greeting = await client.#nextUnsolicited(timeoutMs)
    if (!greeting.text.startsWith('* OK')) {
      client.close()
      throw new Error(`unexpected greeting: ${greeting.text.slice(0, 200)}`)
    }
    return client
  }

  /**
   * Sends `tag line` (and `literal` after the server's "+": line must end with its announcement)
   * and resolves with every response up to the tagged one.
   */
  command(line: string, literal: Buffer | null = null): Promise<CommandResult> {
    const tag = `b${this.#nextTag++}`
    return this.#run(tag, `${tag} ${line}\r\n`, literal, null)
  }

  /** As command(), but anything other than a tagged OK throws. */
  async ok(line: string, literal: Buffer | null = null): Promise<CommandResult> {
    const result = await this.command(line, literal)
    if (result.status !== 'OK') {
      throw new Error(`"${line.slice(0, 60)}" answered ${result.tagged.slice(0, 200)}`)
    }
    return result
  }

  /**
   * IDLE (RFC 2177): once the server says "+", calls `meanwhile`; each untagged response goes to
   * `until`, and the first one it accepts (after `meanwhile` has settled) ends the IDLE with DONE.
   * Resolves with the result of the IDLE command; throws unless it is OK.
   */
  async idle(
    meanwhile: () => Promise<void>,
    until: (response: ImapResponse) => boolean,
  ): Promise<CommandResult> {
    let isSeen = false
    let markSeen = () => {}
    const seen = new Promise<void>((resolve) => {
      markSeen = resolve
    })
    const idling = await this.startIdle((response) => {
      if (!isSeen && until(response)) {
        isSeen = true
        markSeen()
      }
    })
    const timer = setTimeout(() => {
      this.#fail(new Error('no update during IDLE in time'))
    }, RESPONSE_TIMEOUT_MS)
    try {
      await meanwhile()
      await Promise.race([seen, idling.ended])
    } finally {
      clearTimeout(timer)
    }
    const answer = await idling.done()
    if (!isSeen) throw new Error(`IDLE ended with ${answer.tagged.slice(0, 200)}`)
    return answer
  }

  /**
   * Sends IDLE and resolves once the server says "+" (rejects if it answers otherwise). Each
   * untagged response meanwhile goes to `onUntagged`; `done()` sends DONE and resolves with the
   * tagged OK (throws otherwise); `ended` settles if the IDLE ends without DONE. With no time
   * limit: an IDLE may last as long as the caller wants.
   */
  async startIdle(onUntagged: (response: ImapResponse) => void): Promise<{
    done(): Promise<CommandResult>
    ended: Promise<unknown>
  }> {
    const tag = `b${this.#nextTag++}`
    let onBegun = () => {}
    let onBeginFailed = (_error: Error) => {}
    const begun = new Promise<void>((resolve, reject) => {
      onBegun = resolve
      onBeginFailed = reject
    })
    const result = this.#run(tag, `${tag} IDLE\r\n`, null, (pending) => {
      clearTimeout(pending.timer)
      pending.onContinue = () => onBegun()
      pending.onUntagged = onUntagged
    })
    // An IDLE refused outright ends without "+".
    const ended = result.then(
      (answer) => onBeginFailed(new Error(`IDLE answered ${answer.tagged.slice(0, 200)}`)),
      onBeginFailed,
    )
    await begun
    return {
      ended,
      done: async () => {
        const timer = setTimeout(() => {
          this.#fail(new Error('no answer to DONE in time'))
        }, RESPONSE_TIMEOUT_MS)
        this.#socket.write('DONE\r\n')
        try {
          const answer = await result
          if (answer.status !== 'OK') throw new Error(`IDLE ended with ${answer.tagged}`)
          return answer
        } finally {
          clearTimeout(timer)
        }
      },
    }
  }

  /** LOGOUT (its tagged OK required), then closes the socket. */
  async logout(): Promise<CommandResult> {
    try {
      return await this.ok('LOGOUT')
    } finally {
      this.close()
    }
  }

  close(): void {
    this.#closedError ??= new Error('closed by the client')
    this.#socket.destroy()
  }

  #run(
    tag: string,
    line: string,
    literal: Buffer | null,
    setUp: ((pending: Pending) => void) | null,
  ): Promise<CommandResult> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError)
    if (this.#pending !== null) return Promise.reject(new Error('a command is still running'))
    return new Promise<CommandResult>((resolve, reject) => {
      const pending: Pending = {
        tag,
        untagged: [],
        resolve,
        reject,
        onContinue: null,
        onUntagged: null,
        timer: setTimeout(() => {
          this.#fail(new Error(`no answer to "${line.slice(0, 60).trim()}" in time`))
        }, RESPONSE_TIMEOUT_MS),
      }
      if (literal !== null) {
        pending.onContinue = () => {
          pending.onContinue = null
          this.#socket.write(literal)
          this.#socket.write(CRLF)
        }
      }
      setUp?.(pending)
      this.#pending = pending
      this.#socket.write(line, 'latin1')
    })
  }

  #nextUnsolicited(timeoutMs: number): Promise<ImapResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#onUnsolicited = null
        this.close()
        reject(new Error('no greeting in time'))
      }, timeoutMs)
      const check = () => {
        const response = this.#unsolicited.shift()
        if (response !== undefined) {
          clearTimeout(timer)
          this.#onUnsolicited = null
          resolve(response)
        } else if (this.#closedError !== null) {
          clearTimeout(timer)
          this.#onUnsolicited = null
          reject(this.#closedError)
        }
      }
      this.#onUnsolicited = check
      check()
    })
  }

  #onData(chunk: Buffer): void {
    const buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    let offset = 0
    for (;;) {
      if (this.#literalLeft >= 0) {
        if (buffer.length - offset < this.#literalLeft) break
        this.#literals.push(buffer.subarray(offset, offset + this.#literalLeft))
        offset += this.#literalLeft
        this.#literalLeft = -1
        continue
      }
      const end = buffer.indexOf(CRLF, offset)
      if (end === -1) break
      const line = buffer.toString('latin1', offset, end)
      offset = end + 2
      this.#parts.push(line)
      if (line.endsWith('}')) {
        const announced = /\{(\d+)\}$/.exec(line)
        if (announced !== null) {
          this.#literalLeft = Number(announced[1])
          continue
        }
      }
      const response: ImapResponse = {
        text: this.#parts.length === 1 ? line : this.#parts.join(''),
        literals: this.#literals,
      }
      this.#parts = []
      this.#literals = []
      this.#deliver(response)
    }
    this.#buffer = offset === buffer.length ? EMPTY : buffer.subarray(offset)
  }

  #deliver(response: ImapResponse): void {
    const pending = this.#pending
    if (pending === null) {
      this.#unsolicited.push(response)
      this.#onUnsolicited?.()
      return
    }
    const { text } = response
    if (text.charCodeAt(0) === 0x2b /* + */) {
      pending.onContinue?.(response)
      return
    }
    if (text.startsWith(pending.tag) && text.charCodeAt(pending.tag.length) === 0x20) {
      const status = text.slice(pending.tag.length + 1, pending.tag.length + 4).trimEnd()
      clearTimeout(pending.timer)
      this.#pending = null
      if (status !== 'OK' && status !== 'NO' && status !== 'BAD') {
        pending.reject(new Error(`unexpected tagged response: ${text.slice(0, 200)}`))
        return
      }
      pending.resolve({ status, tagged: text, untagged: pending.untagged })
      return
    }
    pending.untagged.push(response)
    pending.onUntagged?.(response)
  }

  #fail(error: Error): void {
    this.#closedError ??= error
    const pending = this.#pending
    if (pending !== null) {
      this.#pending = null
      clearTimeout(pending.timer)
      pending.reject(this.#closedError)
    }
    this.#onUnsolicited?.()
    this.#socket.destroy()
  }
}

/** A quoted string (RFC 9051 §4.3) for the benchmark's own ASCII values. */
export function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`
}
