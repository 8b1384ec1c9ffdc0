// The IMAP side of `postern fetch` (RFC 9051, and RFC 3501 servers): log in, select a mailbox,
// list its messages by UID and size, download them byte for byte, delete them, and wait for new
// ones with IDLE (RFC 2177).
import { encodeMailboxName } from '../../imap/proto/index.ts'
import { astring, ImapConnection, quoted, sequenceSets } from './imap-connection.ts'
import { type ImapResponse, type ImapToken, itemValue, tokenNumber } from './imap-response.ts'
import {
  DEFAULT_MAX_MESSAGE_OCTETS,
  MailClientError,
  type MailConnectOptions,
  MailSocket,
} from './mail-socket.ts'

export type ImapConnectOptions = MailConnectOptions

/** What SELECT reports that a downloader needs (RFC 9051 §6.3.2). */
export interface ImapMailboxInfo {
  uidValidity: number
  uidNext: number | null
  exists: number
}

export interface ImapMessageInfo {
  uid: number
  size: number
}

export type IdleOutcome = 'exists' | 'timeout' | 'aborted'

/** RFC 2177 §3: servers may drop an IDLE after 30 minutes, so it is renewed before 29. */
const MAX_IDLE_MS = 29 * 60 * 1000
/** More messages than any mailbox a downloader empties; a server that lists more is refused. */
const MAX_LISTED_MESSAGES = 1_000_000
const MAX_UID = 2 ** 32 - 1

/**
 * An IMAP client for downloading mail. Untagged responses nobody waits for are tolerated, and
 * EXISTS and EXPUNGE kept count of; a tagged NO or BAD fails with kind 'no' and the server's
 * text. One command at a time.
 */
export class ImapClient {
  readonly #connection: ImapConnection
  readonly #security: ImapConnectOptions['security']
  #isAuthenticated = false

  private constructor(connection: ImapConnection, security: ImapConnectOptions['security']) {
    this.#connection = connection
    this.#security = security
  }

  /**
   * Connects, reads the greeting and learns the capabilities; for 'starttls' upgrades with
   * STARTTLS first, and refuses to go on if the server does not offer it.
   */
  static async connect(options: ImapConnectOptions): Promise<ImapClient> {
    const socket = await MailSocket.connect(options)
    const connection = new ImapConnection(
      socket,
      options.maxMessageOctets ?? DEFAULT_MAX_MESSAGE_OCTETS,
    )
    const client = new ImapClient(connection, options.security)
    try {
      await client.#greeting()
      if (options.security === 'starttls') await client.#startTls()
      else if (connection.capabilities.size === 0) await client.#capability()
    } catch (error) {
      socket.destroy()
      throw error
    }
    return client
  }

  /** The capabilities last announced, upper case. */
  get capabilities(): ReadonlySet<string> {
    return this.#connection.capabilities
  }

  /** Messages in the selected mailbox, as the server last said. */
  get exists(): number {
    return this.#connection.exists
  }

  /**
   * Logs in: AUTHENTICATE PLAIN (RFC 4616) when AUTH=PLAIN is announced, with SASL-IR
   * (RFC 4959) if the server takes it; else LOGIN, unless LOGINDISABLED. Fails with kind 'auth'.
   */
  async login(user: string, password: string): Promise<void> {
    if (this.#isAuthenticated) return // PREAUTH greeting
    const connection = this.#connection
    // RFC 8314 §5: credentials go over plain text only where the caller chose no security.
    if (!connection.socket.isTls && this.#security !== 'none') {
      throw new MailClientError('auth', 'Refusing to send the password over a plain connection')
    }
    if (user.includes('\0') || password.includes('\0')) {
      throw new MailClientError('auth', 'A user name or password cannot contain NUL')
    }
    const caps = connection.capabilities
    let answer: ImapResponse
    if (caps.has('AUTH=PLAIN')) {
      answer = await this.#authenticatePlain(user, password)
    } else if (caps.has('LOGINDISABLED')) {
      // RFC 9051 §6.2.3: LOGIN must not be used where LOGINDISABLED is announced.
      throw new MailClientError('auth', 'The server allows neither LOGIN (LOGINDISABLED) nor PLAIN')
    } else {
      answer = await connection.run('LOGIN', [
        'LOGIN ',
        ...astring(user),
        ' ',
        ...astring(password),
      ])
    }
    if (answer.status !== 'OK') throw connection.refused(answer, 'Login', 'auth')
    this.#isAuthenticated = true
    // RFC 9051 §6.2.2: capabilities change at login; ask unless the OK listed them.
    if (!/^CAPABILITY /i.test(answer.code ?? '')) await this.#capability()
  }

  /** SELECT (RFC 9051 §6.3.2). The name is sent in modified UTF-7 (RFC 3501 §5.1.3). */
  async select(mailbox: string): Promise<ImapMailboxInfo> {
    const connection = this.#connection
    let uidValidity: number | null = null
    let uidNext: number | null = null
    connection.exists = 0
    const answer = await connection.run(
      'SELECT',
      [`SELECT ${quoted(encodeMailboxName(mailbox))}`],
      (response) => {
        const [name = '', value] = (response.code ?? '').split(' ')
        // RFC 9051 §7.1: UIDVALIDITY and UIDNEXT come as codes of untagged OK responses.
        if (name.toUpperCase() === 'UIDVALIDITY') uidValidity = tokenNumber(value)
        if (name.toUpperCase() === 'UIDNEXT') uidNext = tokenNumber(value)
      },
    )
    if (answer.status !== 'OK') throw connection.refused(answer, 'SELECT')
    if (uidValidity === null) {
      throw new MailClientError('protocol', `SELECT ${mailbox} returned no UIDVALIDITY`)
    }
    return { uidValidity, uidNext, exists: connection.exists }
  }

  /** Every message's UID and size, by UID: UID FETCH 1:* (UID RFC822.SIZE). */
  async listMessages(): Promise<ImapMessageInfo[]> {
    const sizes = new Map<number, number>()
    const answer = await this.#connection.run(
      'UID FETCH',
      ['UID FETCH 1:* (UID RFC822.SIZE)'],
      (response) => {
        const items = fetchItems(response)
        const uid = tokenNumber(itemValue(items, 'UID'))
        const size = tokenNumber(itemValue(items, 'RFC822.SIZE'))
        // Unsolicited FETCH responses (flag changes) carry neither; they are not listed.
        if (uid === null || size === null) return
        sizes.set(uid, size)
        if (sizes.size > MAX_LISTED_MESSAGES) {
          throw this.#connection.socket.fail(
            new MailClientError(
              'protocol',
              `The server listed over ${MAX_LISTED_MESSAGES} messages`,
            ),
          )
        }
      },
    )
    // An empty mailbox answers OK and nothing else.
    if (answer.status !== 'OK') throw this.#connection.refused(answer, 'UID FETCH')
    return [...sizes].map(([uid, size]) => ({ uid, size })).sort((a, b) => a.uid - b.uid)
  }

  /** The message's octets exactly as stored: UID FETCH uid (BODY.PEEK[]), which sets no \Seen. */
  async fetchMessage(uid: number): Promise<Buffer> {
    checkUid(uid)
    let body: Buffer | null = null
    const answer = await this.#connection.run(
      'UID FETCH',
      [`UID FETCH ${uid} (BODY.PEEK[])`],
      (response) => {
        const items = fetchItems(response)
        const fetchedUid = tokenNumber(itemValue(items, 'UID'))
        const value = itemValue(items, 'BODY[]')
        if (fetchedUid !== null && fetchedUid !== uid) return
        if (Buffer.isBuffer(value)) body = value
        else if (typeof value === 'string') body = Buffer.from(value, 'utf8')
      },
    )
    if (answer.status !== 'OK') throw this.#connection.refused(answer, 'UID FETCH')
    if (body === null) throw new MailClientError('no', `The server sent no message with UID ${uid}`)
    return body
  }

  /**
   * Flags the messages \Deleted and expunges them: only them with UID EXPUNGE where UIDPLUS is
   * announced (RFC 4315 §2.1), else with EXPUNGE, which also removes any other message flagged
   * \Deleted (RFC 9051 §6.4.3).
   */
  async deleteMessages(uids: readonly number[]): Promise<void> {
    for (const uid of uids) checkUid(uid)
    const connection = this.#connection
    for (const set of sequenceSets(uids)) {
      const stored = await connection.run('UID STORE', [
        `UID STORE ${set} +FLAGS.SILENT (\\Deleted)`,
      ])
      if (stored.status !== 'OK') throw connection.refused(stored, 'UID STORE')
      if (!connection.capabilities.has('UIDPLUS')) continue
      const expunged = await connection.run('UID EXPUNGE', [`UID EXPUNGE ${set}`])
      if (expunged.status !== 'OK') throw connection.refused(expunged, 'UID EXPUNGE')
    }
    if (uids.length === 0 || connection.capabilities.has('UIDPLUS')) return
    const expunged = await connection.run('EXPUNGE', ['EXPUNGE'])
    if (expunged.status !== 'OK') throw connection.refused(expunged, 'EXPUNGE')
  }

  /**
   * IDLE (RFC 2177) until an EXISTS raises the number of messages (new mail, even where an
   * EXPUNGE came first), `timeoutMs` passes (at most 29 minutes) or `signal` aborts; then DONE,
   * and the IDLE's tagged OK. Fails with kind 'protocol' where IDLE is not announced.
   */
  async idle(timeoutMs: number, signal?: AbortSignal): Promise<IdleOutcome> {
    const connection = this.#connection
    if (!connection.capabilities.has('IDLE')) {
      throw new MailClientError('protocol', 'The server does not support IDLE')
    }
    if (signal?.aborted) return 'aborted'
    const baseline = connection.arrivals
    const tag = connection.newTag()
    connection.socket.write(`${tag} IDLE\r\n`, 'IDLE')
    // RFC 2177 §3: the server answers with a continuation request and then sends updates.
    const started = await connection.exchange(tag, 'IDLE')
    if (started.tag === tag) {
      throw started.status === 'OK'
        ? new MailClientError('protocol', 'The server ended IDLE before it began')
        : connection.refused(started, 'IDLE')
    }
    let outcome: IdleOutcome | null = connection.arrivals > baseline ? 'exists' : null
    let pending: Promise<ImapResponse> | null = null
    let timer: NodeJS.Timeout | undefined
    let onAbort = () => {}
    const stop = new Promise<IdleOutcome>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.min(timeoutMs, MAX_IDLE_MS))
      onAbort = () => resolve('aborted')
      signal?.addEventListener('abort', onAbort, { once: true })
      if (signal?.aborted) resolve('aborted') // while the IDLE was starting
    })
    try {
      while (outcome === null) {
        pending ??= connection.readResponse('IDLE', null)
        const next = await Promise.race([pending, stop])
        if (typeof next === 'string') {
          outcome = next
          break
        }
        pending = null
        if (next.tag === tag) return this.#endedIdle(next, baseline)
        // Keepalives ("+ still here", "* OK Still here") are tolerated.
        if (next.tag !== '+') connection.untagged(next)
        if (connection.arrivals > baseline) outcome = 'exists'
      }
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    // RFC 2177 §3: DONE ends the IDLE, and the server then answers the IDLE command.
    connection.socket.write('DONE\r\n', 'IDLE')
    let answer = pending === null ? null : await connection.socket.within(pending, 'IDLE')
    while (answer?.tag !== tag) {
      if (answer !== null && answer.tag !== '+') connection.untagged(answer)
      answer = await connection.readResponse('IDLE')
    }
    if (answer.status !== 'OK') throw connection.refused(answer, 'IDLE')
    // New mail that came as the timer fired still counts.
    return outcome === 'timeout' && connection.arrivals > baseline ? 'exists' : outcome
  }

  /** LOGOUT (RFC 9051 §6.1.3), then the connection is closed. */
  async logout(): Promise<void> {
    const connection = this.#connection
    try {
      const answer = await connection.run('LOGOUT', ['LOGOUT'])
      if (answer.status !== 'OK') throw connection.refused(answer, 'LOGOUT')
    } catch (error) {
      // After its BYE the server may close before the tagged OK; that is a logout too.
      if (!(error instanceof MailClientError && error.kind === 'closed')) throw error
      if (!connection.socket.farewell.startsWith('BYE')) throw error
    } finally {
      await connection.socket.close()
    }
  }

  /** Drops the connection without a word (LOGOUT is the polite way). */
  close(): void {
    this.#connection.socket.destroy()
  }

  async #greeting(): Promise<void> {
    const greeting = await this.#connection.readResponse('the greeting')
    this.#connection.untagged(greeting)
    // RFC 9051 §7.1.5: BYE here means the server will not talk to us.
    if (greeting.tag === '*' && greeting.status === 'BYE') {
      throw new MailClientError('connect', `The server refused the connection: ${greeting.text}`)
    }
    if (greeting.tag !== '*' || (greeting.status !== 'OK' && greeting.status !== 'PREAUTH')) {
      throw new MailClientError('protocol', 'The server did not greet with "* OK"')
    }
    this.#isAuthenticated = greeting.status === 'PREAUTH'
  }

  /** RFC 9051 §6.2.1: STARTTLS, the handshake, and the capabilities asked again. */
  async #startTls(): Promise<void> {
    const connection = this.#connection
    if (connection.capabilities.size === 0) await this.#capability()
    if (this.#isAuthenticated || !connection.capabilities.has('STARTTLS')) {
      throw new MailClientError('tls', 'The server does not offer STARTTLS')
    }
    const answer = await connection.run('STARTTLS', ['STARTTLS'])
    if (answer.status !== 'OK') throw connection.refused(answer, 'STARTTLS', 'tls')
    await connection.socket.startTls('STARTTLS')
    // RFC 9051 §6.2.1: what the server announced before TLS must be forgotten.
    connection.capabilities = new Set()
    await this.#capability()
  }

  async #capability(): Promise<void> {
    const answer = await this.#connection.run('CAPABILITY', ['CAPABILITY'])
    if (answer.status !== 'OK') throw this.#connection.refused(answer, 'CAPABILITY')
  }

  /** The server answered the IDLE before DONE (ending it on its own): no DONE is needed. */
  #endedIdle(answer: ImapResponse, baseline: number): IdleOutcome {
    if (answer.status !== 'OK') throw this.#connection.refused(answer, 'IDLE')
    return this.#connection.arrivals > baseline ? 'exists' : 'timeout'
  }

  async #authenticatePlain(user: string, password: string): Promise<ImapResponse> {
    const connection = this.#connection
    // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd, UTF-8.
    const initial = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64')
    const tag = connection.newTag()
    const isInitial = connection.capabilities.has('SASL-IR')
    // RFC 4959 §3: with SASL-IR the initial response follows the mechanism name.
    connection.socket.write(
      `${tag} AUTHENTICATE PLAIN${isInitial ? ` ${initial}` : ''}\r\n`,
      'AUTHENTICATE',
    )
    let answer = await connection.exchange(tag, 'AUTHENTICATE')
    if (answer.tag === '+' && !isInitial) {
      connection.socket.write(`${initial}\r\n`, 'AUTHENTICATE')
      answer = await connection.exchange(tag, 'AUTHENTICATE')
    }
    if (answer.tag === '+') {
      // RFC 9051 §6.2.2: PLAIN has no second challenge; "*" cancels the exchange.
      connection.socket.write('*\r\n', 'AUTHENTICATE')
      answer = await connection.waitTagged(tag, 'AUTHENTICATE')
    }
    return answer
  }
}

/** The items list of "* n FETCH (…)", or an empty list for any other response. */
function fetchItems(response: ImapResponse): readonly ImapToken[] {
  const [, name, items] = response.tokens
  if (response.tag !== '*' || typeof name !== 'string' || name.toUpperCase() !== 'FETCH') return []
  return Array.isArray(items) ? items : []
}

function checkUid(uid: number): void {
  if (!Number.isInteger(uid) || uid < 1 || uid > MAX_UID) throw new RangeError(`Bad UID ${uid}`)
}
