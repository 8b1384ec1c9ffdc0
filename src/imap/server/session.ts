import type { SecureContext } from 'node:tls'
import type { AuthThrottle } from '../../auth/index.ts'
import type { Directory } from '../../directory/index.ts'
import {
  type Connection,
  ConnectionClosedError,
  isSocketError,
  mayAuthenticateOn,
  OutputBuffer,
} from '../../net/index.ts'
import type { Account, Store } from '../../store/index.ts'
import { CommandReader, MAX_SMALL_LITERAL_OCTETS, ParseError } from '../proto/index.ts'
import { capabilityText } from './capabilities.ts'
import { type CommandInput, type CommandInputOptions, readCommand } from './command-input.ts'
import { COMMANDS } from './commands/index.ts'
import type { SelectedMailbox, UpdateOptions } from './selected.ts'

/** The settings of one IMAP session (the config file's [imap] section, once it has one). */
export interface ImapSessionConfig {
  /** Idle timeout before login; after login at least 30 minutes (RFC 9051 §5.4). */
  timeoutMs: number
  /** Tagged NO and BAD answers before the session is closed. */
  maxErrors: number
  /** Commands in one session before it is closed. */
  maxCommands: number
  /** Where passwords may cross without TLS (RFC 8314 §3, RFC 9051 §6.2.3). */
  allowPlaintext: 'never' | 'loopback' | 'always'
  /** Octets one APPENDed message may have (RFC 7889 APPENDLIMIT). */
  maxMessageSize: number
}

/** What every session of one server shares. */
export interface ImapServerDeps {
  hostname: string
  config: ImapSessionConfig
  store: Store
  directory: Directory
  throttle: AuthThrottle
  secureContext: SecureContext
}

/** RFC 9051 §3: the four states of a connection. */
export type ImapState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout'

export type ImapStatus = 'OK' | 'NO' | 'BAD'

/** RFC 9051 §5.4: an autologout timer after authentication is at least 30 minutes. */
export const MIN_AUTHENTICATED_TIMEOUT_MS = 30 * 60 * 1000

/** Commands served back to back before the session lets other connections have a turn. */
const COMMANDS_PER_TURN = 32

const SPACE = 0x20

/** The extensions ENABLE can turn on (RFC 5161 §3.2). */
export type Enableable = 'IMAP4rev2' | 'CONDSTORE' | 'QRESYNC' | 'UTF8=ACCEPT'

/**
 * RFC 9051 §7.5.1: no EXPUNGE while answering FETCH, STORE or SEARCH (their UID forms may have
 * one). SORT and THREAD number messages as SEARCH does, so they are held to the same rule.
 */
const HOLDS_EXPUNGES = new Set(['FETCH', 'STORE', 'SEARCH', 'SORT', 'THREAD'])

/** An APPEND (or MULTIAPPEND) command line, whose literals are messages. */
const APPEND_LINE = /^[^ ]+ APPEND /i

/**
 * One IMAP session: reads commands (lines and literals, command-input.ts), dispatches each to its
 * file in commands/, and keeps the state they share. Responses are collected and written when the
 * client has no complete command left unread, or when a lot is waiting.
 */
export class ImapSession {
  readonly connection: Connection
  readonly deps: ImapServerDeps
  state: ImapState = 'not-authenticated'
  /** The logged-in account, from the authenticated state on. */
  account: Account | null = null
  /** Set by LOGOUT or a fatal error: the loop ends after the pending output is written. */
  isClosing = false
  /** The selected mailbox, in the selected state (RFC 9051 §3.3). */
  selected: SelectedMailbox | null = null
  /** RFC 5182 SEARCHRES: the UIDs of the last SEARCH … RETURN (SAVE), "$" in later commands. */
  savedSearch: number[] = []
  /** Extensions turned on by ENABLE (or implicitly, as CONDSTORE is by its first use). */
  readonly enabled = new Set<Enableable>()
  /** The command being answered, upper case, with "UID " for the UID forms. */
  #current = ''
  #errors = 0
  #commands = 0
  #isWaitingForCommand = false
  /** The idle timeout now in force, which also bounds the time one command takes to arrive. */
  #timeoutMs = 0
  readonly #output: OutputBuffer

  constructor(connection: Connection, deps: ImapServerDeps) {
    this.connection = connection
    this.deps = deps
    this.#output = new OutputBuffer(connection)
  }

  get log() {
    return this.connection.log
  }

  get isTls(): boolean {
    return this.connection.isTls
  }

  /**
   * Whether passwords may cross this connection: over TLS, or in plaintext where the operator
   * allows it (RFC 8314 §3; by default from loopback only).
   */
  get mayAuthenticate(): boolean {
    return mayAuthenticateOn(this.connection, this.deps.config.allowPlaintext)
  }

  /** IMAP4rev2 semantics (RFC 9051) once the client enabled it; IMAP4rev1 (RFC 3501) before. */
  get isRev2(): boolean {
    return this.enabled.has('IMAP4rev2')
  }

  /** RFC 6855: mailbox names and strings are UTF-8 rather than modified UTF-7. */
  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT')
  }

  /** How selected-state changes are reported to this client (see SelectedMailbox). */
  updateOptions(allowExpunge = !HOLDS_EXPUNGES.has(this.#current)): UpdateOptions {
    return {
      allowExpunge,
      qresync: this.enabled.has('QRESYNC'),
      condstore: this.enabled.has('CONDSTORE'),
      isRev1: !this.isRev2,
    }
  }

  /**
   * Queues output; writes it at once when much is waiting. Strings are binary strings (one char
   * per octet, as proto/string.ts makes them), so 8-bit header octets go out unchanged.
   */
  async send(data: string | Buffer): Promise<void> {
    await this.#output.send(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Queues "* text". */
  async untagged(text: string): Promise<void> {
    await this.send(`* ${text}\r\n`)
  }

  /**
   * Queues the tagged completion, preceded by the selected mailbox's changes that may be told
   * now. NO and BAD in a row count toward the session's error limit, and an OK starts the count
   * again: a NO is a fair answer to a good command (a part that is not there, a mailbox that
   * is), and a long session of a working client meets many of them between its OKs.
   */
  async tagged(tag: string, status: ImapStatus, text: string): Promise<void> {
    await this.reportUpdates()
    await this.send(`${tag} ${status} ${text}\r\n`)
    if (status === 'OK') this.#errors = 0
    else await this.#countError()
  }

  /**
   * Sends what changed in the selected mailbox (RFC 9051 §5.5, §7.5.1). A mailbox deleted by
   * another session cannot stay selected: the session ends with BYE, as Dovecot's does.
   */
  async reportUpdates(allowExpunge?: boolean): Promise<void> {
    const selected = this.selected
    if (selected === null || !selected.hasPendingChanges) return
    for (const line of selected.reportUpdates(this.updateOptions(allowExpunge))) {
      await this.untagged(line)
    }
    if (selected.isGone && !this.isClosing) {
      this.log.info({ mailbox: selected.mailbox.name }, 'selected mailbox deleted, closing session')
      await this.untagged('BYE Selected mailbox was deleted')
      this.isClosing = true
    }
  }

  /** Makes `mailbox` the selected one (after any previous one is closed). */
  select(mailbox: SelectedMailbox): void {
    this.deselect()
    this.savedSearch = []
    this.selected = mailbox
    this.state = 'selected'
    mailbox.watch(this.deps.store)
  }

  /** Back to the authenticated state (CLOSE, UNSELECT, a failed SELECT, the end). */
  deselect(): void {
    this.selected?.close()
    this.selected = null
    this.savedSearch = [] // RFC 5182 §2.1: the saved result goes with the mailbox
    if (this.state === 'selected') this.state = 'authenticated'
  }

  async flush(): Promise<void> {
    await this.#output.flush()
  }

  /** LOGIN or AUTHENTICATE succeeded (RFC 9051 §3.2). */
  enterAuthenticated(account: Account): void {
    this.account = account
    this.state = 'authenticated'
    this.#setIdleTimeout(Math.max(this.deps.config.timeoutMs, MIN_AUTHENTICATED_TIMEOUT_MS))
  }

  async run(): Promise<void> {
    const { connection, deps } = this
    this.#setIdleTimeout(deps.config.timeoutMs)
    const onShutdown = () => {
      if (this.#isWaitingForCommand) void connection.end('* BYE Server shutting down\r\n')
    }
    connection.shutdownSignal.addEventListener('abort', onShutdown)
    try {
      await this.untagged(`OK [${capabilityText(this)}] ${deps.hostname} Postern IMAP ready`)
      while (!this.isClosing) {
        if (connection.shutdownSignal.aborted) {
          await this.untagged('BYE Server shutting down')
          break
        }
        if (!connection.reader.hasLine()) await this.flush()
        const input = await this.#readCommand()
        if (input.kind === 'closed') return
        if (input.kind === 'fatal') {
          await this.send(input.response)
          break
        }
        this.#commands += 1
        if (this.#commands > deps.config.maxCommands) {
          this.log.warn({ commands: this.#commands }, 'too many commands, closing the IMAP session')
          await this.untagged('BYE Too many commands, closing connection')
          break
        }
        if (input.kind === 'refused') {
          await this.send(input.response)
          await this.#countError()
          continue
        }
        if (connection.shutdownSignal.aborted) continue
        await this.#dispatch(input.lines, input.literals)
        // A long pipelined burst is served in slices, so one client cannot hold the process.
        if (this.#commands % COMMANDS_PER_TURN === 0) await new Promise(setImmediate)
      }
      await this.flush()
    } catch (error) {
      if (!isSocketError(error) && !(error instanceof ConnectionClosedError)) throw error
      this.log.info({ err: (error as NodeJS.ErrnoException).code }, 'connection lost')
    } finally {
      connection.shutdownSignal.removeEventListener('abort', onShutdown)
      this.deselect()
    }
  }

  /** The goodbye only between commands: inside a response it would corrupt it. */
  #setIdleTimeout(ms: number): void {
    this.#timeoutMs = ms
    this.connection.setIdleTimeout(ms, () =>
      this.#isWaitingForCommand
        ? this.connection.write('* BYE Autologout; idle for too long\r\n')
        : undefined,
    )
  }

  async #readCommand(): Promise<CommandInput> {
    this.#isWaitingForCommand = true
    try {
      let total = 0
      const options: CommandInputOptions = {
        // APPEND's literals are messages, up to APPENDLIMIT each and twice that in all (a
        // MULTIAPPEND is held in memory until it is stored in one go); any other literal is a
        // short string (a password, a name, a search value).
        admit: (announcement, lineSoFar) => {
          const isAppend =
            this.state !== 'not-authenticated' &&
            APPEND_LINE.test(lineSoFar.toString('latin1', 0, 128))
          const limit = isAppend ? this.deps.config.maxMessageSize : MAX_SMALL_LITERAL_OCTETS
          total += announcement.size
          if (announcement.size > limit) return `NO [TOOBIG] Literal larger than ${limit} octets`
          if (isAppend && total > 2 * limit) {
            return `NO [TOOBIG] Messages of one APPEND larger than ${2 * limit} octets in all`
          }
          return null
        },
        continueLiteral: async () => {
          await this.send('+ Ready for literal data\r\n')
          await this.flush()
        },
      }
      // The timeout bounds the whole command, not only the silences in it (slowloris); its
      // literals may be messages, which earn time as their octets arrive.
      const { connection } = this
      return await connection.withinDeadline(
        this.#timeoutMs,
        () => readCommand(connection, options),
        true,
      )
    } finally {
      this.#isWaitingForCommand = false
    }
  }

  async #dispatch(lines: Buffer[], literals: Buffer[]): Promise<void> {
    const reader = new CommandReader(lines, literals)
    let tag: string
    try {
      tag = reader.tag()
      // A tag ends at a space or at the end of the line: in "a+b" or "t\u00fc1" the tag is not
      // "a" or "t", and answering under that prefix could complete another command's tag.
      const next = reader.peek()
      if (next !== SPACE && next !== -1) throw new ParseError('invalid tag')
    } catch (error) {
      if (!(error instanceof ParseError)) throw error
      // RFC 9051 §7.1.5: BAD untagged when the command's tag cannot be told.
      await this.untagged('BAD Missing or invalid tag')
      await this.#countError()
      return
    }
    let name: string
    try {
      reader.space()
      name = reader.keyword()
    } catch (error) {
      if (!(error instanceof ParseError)) throw error
      await this.tagged(tag, 'BAD', error.message)
      return
    }
    const entry = COMMANDS.get(name)
    if (entry === undefined) {
      await this.tagged(tag, 'BAD', 'Unknown command')
      return
    }
    if (!entry.states.includes(this.state)) {
      await this.tagged(tag, 'BAD', `${name} is not valid in this state`)
      return
    }
    this.#current = name
    try {
      await entry.handle(this, { tag, name, reader })
    } catch (error) {
      if (error instanceof ParseError) {
        await this.tagged(tag, 'BAD', error.message)
        return
      }
      if (isSocketError(error) || error instanceof ConnectionClosedError) throw error
      // The store failing (a database away) is the client's temporary problem, not the end of
      // the session; anything else is a bug, logged with the connection id either way.
      this.log.error({ err: error, command: name }, 'IMAP command failed')
      await this.tagged(tag, 'NO', '[UNAVAILABLE] Temporary server error')
    } finally {
      this.#current = ''
    }
  }

  /** Marks the command being answered as its UID form (UID FETCH …), which may see expunges. */
  set currentCommand(name: string) {
    this.#current = name
  }

  async #countError(): Promise<void> {
    this.#errors += 1
    if (this.#errors >= this.deps.config.maxErrors && !this.isClosing) {
      this.log.warn({ errors: this.#errors }, 'too many errors, closing the IMAP session')
      await this.untagged('BYE Too many errors, closing connection')
      this.isClosing = true
    }
  }
}
