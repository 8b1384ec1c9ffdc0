import { randomBytes } from 'node:crypto'
import type { SecureContext } from 'node:tls'
import type { AuthThrottle } from '../../auth/index.ts'
import type { Pop3Config } from '../../config/index.ts'
import type { Directory } from '../../directory/index.ts'
import {
  type Connection,
  isSocketError,
  LineTooLongError,
  mayAuthenticateOn,
  OutputBuffer,
} from '../../net/index.ts'
import type { Store } from '../../store/index.ts'
import {
  err,
  MAX_AUTH_LINE_OCTETS,
  MAX_COMMAND_LINE_OCTETS,
  type Pop3Command,
  type Pop3ResponseCode,
  parseCommand,
} from '../proto/index.ts'
import { COMMANDS } from './commands/index.ts'
import type { Maildrop } from './maildrop.ts'

/** What every session of one server shares. */
export interface Pop3ServerDeps {
  hostname: string
  config: Pop3Config
  store: Store
  directory: Directory
  throttle: AuthThrottle
  secureContext: SecureContext
  /** How long a maildrop lock outlives a node that died holding it. Default 60 s. */
  lockLeaseMs?: number
}

/** RFC 1939 §3: AUTHORIZATION until a login succeeds, then TRANSACTION; UPDATE is QUIT's. */
export type Pop3State = 'authorization' | 'transaction'

/**
 * One POP3 session: reads command lines, dispatches each to its file in commands/, and keeps
 * the state they share. Responses are collected and written when the client has no complete
 * command left unread (RFC 2449 §6.6 PIPELINING), or when a lot is waiting.
 */
export class Pop3Session {
  readonly connection: Connection
  readonly deps: Pop3ServerDeps
  state: Pop3State = 'authorization'
  /** The name USER gave, waiting for PASS. */
  userName: string | null = null
  maildrop: Maildrop | null = null
  /** The APOP challenge of the greeting (RFC 1939 §7), null when APOP is off. */
  readonly apopChallenge: string | null
  /** Set by QUIT or a fatal error: the loop ends after the pending output is written. */
  isClosing = false
  #errors = 0
  #commands = 0
  #isWaitingForCommand = false
  readonly #output: OutputBuffer

  constructor(connection: Connection, deps: Pop3ServerDeps) {
    this.connection = connection
    this.deps = deps
    this.#output = new OutputBuffer(connection)
    this.apopChallenge = deps.config.apop
      ? `<${process.pid}.${Date.now()}.${randomBytes(6).toString('hex')}@${deps.hostname}>`
      : null
  }

  get log() {
    return this.connection.log
  }

  get isTls(): boolean {
    return this.connection.isTls
  }

  /**
   * Whether passwords may cross this connection: over TLS, or in plaintext where the operator
   * allows it (RFC 2595 §4, RFC 8314 §3; by default from loopback only).
   */
  get mayAuthenticate(): boolean {
    return mayAuthenticateOn(this.connection, this.deps.config.allowPlaintext)
  }

  /** Queues output; writes it at once when much is waiting. */
  async send(data: string | Buffer): Promise<void> {
    await this.#output.send(data)
  }

  /**
   * Queues "-ERR". Error responses in a row count toward the session's error limit; a command
   * answered +OK starts the count again, so a working client's occasional -ERR never adds up.
   */
  async fail(text: string, code: Pop3ResponseCode | null = null): Promise<void> {
    await this.send(err(text, code))
    this.#errors += 1
    if (this.#errors >= this.deps.config.maxErrors && !this.isClosing) {
      this.log.warn({ errors: this.#errors }, 'too many errors, closing the POP3 session')
      await this.send(err('Too many errors, closing connection'))
      this.isClosing = true
    }
  }

  async flush(): Promise<void> {
    await this.#output.flush()
  }

  /** Drops what STLS resets (RFC 2595 §4: the client must forget what it learned before). */
  resetForTls(): void {
    this.userName = null
  }

  async run(): Promise<void> {
    const { connection, deps } = this
    // The goodbye only between commands: in the middle of a RETR to a client that stopped
    // reading it would land inside the message; the connection is just closed then.
    connection.setIdleTimeout(deps.config.timeoutMs, () =>
      this.#isWaitingForCommand
        ? connection.write(err('Timeout waiting for a command, closing connection'))
        : undefined,
    )
    const onShutdown = () => {
      if (this.#isWaitingForCommand) {
        void connection.end(err('Server shutting down', 'SYS/TEMP'))
      }
    }
    connection.shutdownSignal.addEventListener('abort', onShutdown)
    try {
      const challenge = this.apopChallenge === null ? '' : ` ${this.apopChallenge}`
      await this.send(`+OK ${deps.hostname} POP3 Postern ready${challenge}\r\n`)
      while (!this.isClosing) {
        if (connection.shutdownSignal.aborted) {
          await this.send(err('Server shutting down', 'SYS/TEMP'))
          break
        }
        if (!connection.reader.hasLine()) await this.flush()
        const command = await this.#readCommand()
        if (command === 'closed') return
        if (command === 'skip') continue
        this.#commands += 1
        if (this.#commands > deps.config.maxCommands) {
          this.log.warn({ commands: this.#commands }, 'too many commands, closing the POP3 session')
          await this.send(err('Too many commands, closing connection'))
          break
        }
        if (connection.shutdownSignal.aborted) break
        await this.#dispatch(command)
        // A long pipelined burst is served in slices, so one client cannot hold the process.
        if (this.#commands % COMMANDS_PER_TURN === 0) await new Promise(setImmediate)
      }
      await this.flush()
    } catch (error) {
      if (!isSocketError(error)) throw error
      this.log.info({ err: (error as NodeJS.ErrnoException).code }, 'connection lost')
    } finally {
      connection.shutdownSignal.removeEventListener('abort', onShutdown)
      // However the session ended, short of QUIT nothing is deleted; the next one may start.
      await this.releaseMaildrop()
    }
  }

  /** Lets go of the maildrop's lock (a store failure here only delays the next session). */
  async releaseMaildrop(): Promise<void> {
    const maildrop = this.maildrop
    if (maildrop === null) return
    this.maildrop = null
    try {
      await maildrop.close()
    } catch (error) {
      this.log.warn({ err: error }, 'could not release the POP3 maildrop lock; it will lapse')
    }
  }

  /** The next command, 'skip' when a bad line was answered, 'closed' at the end of input. */
  async #readCommand(): Promise<Pop3Command | 'skip' | 'closed'> {
    let line: Awaited<ReturnType<Connection['reader']['readLine']>>
    this.#isWaitingForCommand = true
    try {
      // The timeout bounds the whole line, not only the silences in it (slowloris).
      const { connection } = this
      line = await connection.withinDeadline(this.deps.config.timeoutMs, () =>
        connection.reader.readLine(MAX_AUTH_LINE_OCTETS),
      )
    } catch (error) {
      if (!(error instanceof LineTooLongError)) throw error
      await this.fail(`Line too long, the limit is ${MAX_COMMAND_LINE_OCTETS} octets`)
      return 'skip'
    } finally {
      this.#isWaitingForCommand = false
    }
    if (line === null) return 'closed'
    // RFC 5034 §4 lets AUTH lines run longer; every other command keeps RFC 2449's 255 octets.
    if (line.bytes.length > MAX_COMMAND_LINE_OCTETS - 2 && !isAuthLine(line.bytes)) {
      await this.fail(`Line too long, the limit is ${MAX_COMMAND_LINE_OCTETS} octets`)
      return 'skip'
    }
    const parsed = parseCommand(line.bytes)
    if (parsed.kind === 'error') {
      await this.fail(parsed.message)
      return 'skip'
    }
    return parsed.command
  }

  async #dispatch(command: Pop3Command): Promise<void> {
    const entry = COMMANDS[command.verb]
    if (!entry.states.includes(this.state)) {
      await this.fail(
        this.state === 'authorization'
          ? `${command.verb} is only valid after logging in`
          : `${command.verb} is only valid before logging in`,
      )
      return
    }
    const errorsBefore = this.#errors
    try {
      await entry.handle(this, command)
    } catch (error) {
      if (isSocketError(error)) throw error
      // The store failing (a database away) is the client's temporary problem, not the end of
      // the session; anything else is a bug, logged with the connection id either way.
      this.log.error({ err: error, verb: command.verb }, 'POP3 command failed')
      await this.fail('Temporary server error, try again', 'SYS/TEMP')
    }
    // Answered +OK: the errors in a row start again (see fail()).
    if (this.#errors === errorsBefore) this.#errors = 0
  }
}

/** Commands served back to back before the session lets other connections have a turn. */
const COMMANDS_PER_TURN = 32

function isAuthLine(bytes: Buffer): boolean {
  return bytes.length >= 5 && bytes.subarray(0, 5).toString('latin1').toUpperCase() === 'AUTH '
}
