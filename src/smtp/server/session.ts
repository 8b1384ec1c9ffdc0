import type { SecureContext } from 'node:tls'
import type { AuthThrottle } from '../../auth/index.ts'
import type { SmtpConfig } from '../../config/index.ts'
import type { Delivery, EnvelopeRecipient } from '../../delivery/index.ts'
import type { Directory } from '../../directory/index.ts'
import type { DkimSigner, InboundVerifier } from '../../mailauth/index.ts'
import { type Connection, isSocketError, LineTooLongError } from '../../net/index.ts'
import type { Account, Store } from '../../store/index.ts'
import {
  type BodyCheck,
  type ChunkCollector,
  formatReply,
  MAX_AUTH_LINE_OCTETS,
  MAX_COMMAND_LINE_OCTETS,
  type MailParams,
  parseCommand,
  type Reply,
  reply,
  type SmtpCommand,
} from '../proto/index.ts'
import { COMMANDS } from './commands/index.ts'

/** 'mx': port 25, mail for local domains from anyone. 'submission': 587/465, AUTH required. */
export type SmtpMode = 'mx' | 'submission'

/** What every session of one server shares. */
export interface SmtpServerDeps {
  mode: SmtpMode
  hostname: string
  config: SmtpConfig
  store: Store
  directory: Directory
  delivery: Delivery
  throttle: AuthThrottle
  secureContext: SecureContext
  /** SPF, DKIM, DMARC and ARC at the end of DATA on the MX listener; null: not checked. */
  inbound?: InboundVerifier | null
  /** DKIM signing of submitted mail; null: not signed. */
  signer?: DkimSigner | null
}

/** The mail transaction between MAIL and the end of DATA/BDAT (RFC 5321 §3.3). */
export interface Transaction {
  /** The reverse-path as written ('' for <>). */
  sender: string
  params: MailParams
  recipients: EnvelopeRecipient[]
  /** Set by the first BDAT; DATA is then refused (RFC 3030 §3). */
  chunks: ChunkCollector | null
}

/**
 * One SMTP session: reads commands, dispatches each to its file in commands/, and keeps the
 * state they share. Replies are queued and written when the client has no complete command
 * left unread, so a pipelined group (RFC 2920 §3.1) is answered in one write.
 */
export class SmtpSession {
  readonly connection: Connection
  readonly deps: SmtpServerDeps
  /** The EHLO/HELO argument, null before the first one (and after STARTTLS). */
  helo: string | null = null
  isEsmtp = false
  login: Account | null = null
  transaction: Transaction | null = null
  /** Set by QUIT or a fatal error: the loop ends after the pending replies are written. */
  isClosing = false
  /** How many messages this session has delivered; numbers the queue ids. */
  messageCount = 0
  #errors = 0
  #commands = 0
  #pending = ''
  #isWaitingForCommand = false

  constructor(connection: Connection, deps: SmtpServerDeps) {
    this.connection = connection
    this.deps = deps
  }

  get log() {
    return this.connection.log
  }

  get isTls(): boolean {
    return this.connection.isTls
  }

  /** Queues a reply. Error replies count toward the session's error limit. */
  reply(code: number, status: string | null, text: string | readonly string[]): void {
    this.send(reply(code, status, text))
  }

  send(value: Reply): void {
    this.#pending += formatReply(value)
    // 421 closes anyway; 452 4.5.3 (too many recipients) is the normal way to pace a sender.
    if (value.code >= 400 && value.code !== 421 && value.status !== '4.5.3') {
      this.#errors += 1
      if (this.#errors >= this.deps.config.maxErrors && !this.isClosing) {
        this.log.warn({ errors: this.#errors }, 'too many errors, closing the session')
        this.#pending += formatReply(
          reply(421, '4.7.0', `${this.deps.hostname} Too many errors, closing connection`),
        )
        this.isClosing = true
      }
    }
  }

  async flush(): Promise<void> {
    if (this.#pending === '') return
    const out = this.#pending
    this.#pending = ''
    await this.connection.write(out)
  }

  /**
   * Writes pending replies when the client has no complete line waiting (RFC 2920 §3.1: one
   * write per pipelined group), and once 64 KiB are pending whatever it sent: a client that
   * keeps the pipe full would otherwise have every reply of its burst held here until it pauses.
   */
  async flushUnlessPipelined(): Promise<void> {
    if (!this.connection.reader.hasLine() || this.#pending.length >= MAX_PENDING_REPLY_OCTETS) {
      await this.flush()
    }
  }

  /** Drops the state STARTTLS resets (RFC 3207 §4.2: as if the session had just begun). */
  resetForTls(): void {
    this.helo = null
    this.isEsmtp = false
    this.login = null
    this.transaction = null
  }

  /** A body arrived whole; returns the reply that refuses it, or null when it may be delivered. */
  checkBody(body: BodyCheck): Reply | null {
    if (body.isTooBig) {
      return reply(
        552,
        '5.3.4',
        `Message is larger than the ${this.deps.config.maxMessageSize} octets this server accepts`,
      )
    }
    if (body.hasLongLine) {
      return reply(
        554,
        '5.6.0',
        'Message has a line longer than 1000 octets (RFC 5321 section 4.5.3.1.6); fold or encode it',
      )
    }
    return null
  }

  async run(): Promise<void> {
    const { connection, deps } = this
    connection.setIdleTimeout(deps.config.timeoutMs, () =>
      connection.write(
        formatReply(reply(421, '4.4.2', `${deps.hostname} Timeout waiting for input, closing`)),
      ),
    )
    const onShutdown = () => {
      // A session waiting for a command is told at once; one in the middle of a message finishes
      // it (within the listener's grace) and is told before its next command.
      if (this.#isWaitingForCommand) {
        void connection.end(
          formatReply(reply(421, '4.3.2', `${deps.hostname} Service shutting down`)),
        )
      }
    }
    connection.shutdownSignal.addEventListener('abort', onShutdown)
    try {
      this.reply(220, null, `${deps.hostname} ESMTP Postern`)
      while (!this.isClosing) {
        if (connection.shutdownSignal.aborted) {
          this.reply(421, '4.3.2', `${deps.hostname} Service shutting down`)
          break
        }
        await this.flushUnlessPipelined()
        let line: Awaited<ReturnType<typeof connection.reader.readLine>>
        this.#isWaitingForCommand = true
        try {
          // The timeout bounds the whole line, not only the silences in it (slowloris).
          line = await connection.withinDeadline(deps.config.timeoutMs, () =>
            connection.reader.readLine(MAX_AUTH_LINE_OCTETS),
          )
        } catch (error) {
          if (!(error instanceof LineTooLongError)) throw error
          this.reply(500, '5.5.2', `Line too long, the limit is ${MAX_AUTH_LINE_OCTETS} octets`)
          continue
        } finally {
          this.#isWaitingForCommand = false
        }
        if (line === null) return
        this.#commands += 1
        if (this.#commands > deps.config.maxCommands) {
          this.log.warn({ commands: this.#commands }, 'too many commands, closing the session')
          this.reply(421, '4.7.0', `${deps.hostname} Too many commands, closing connection`)
          break
        }
        // A command already buffered when the shutdown's 421 went out is not run: the client
        // was told the session is over and will retry whatever it sent.
        if (connection.shutdownSignal.aborted) break
        // RFC 4954 §4 allows AUTH lines up to 12,288 octets, other commands far less.
        if (line.bytes.length > MAX_COMMAND_LINE_OCTETS - 2 && !isAuthLine(line.bytes)) {
          this.reply(500, '5.5.2', `Line too long, the limit is ${MAX_COMMAND_LINE_OCTETS} octets`)
          continue
        }
        const parsed = parseCommand(line.bytes)
        if (parsed.kind === 'error') {
          this.send(parsed.reply)
          continue
        }
        await this.#dispatch(parsed.command)
        // A long pipelined burst is served in slices, so one client cannot hold the process.
        if (this.#commands % COMMANDS_PER_TURN === 0) await new Promise(setImmediate)
      }
      await this.flush()
    } catch (error) {
      // A peer that resets the connection ends its session like one that closes it; anything
      // else is a bug, which the listener logs with the connection id.
      if (!isSocketError(error)) throw error
      this.log.info({ err: (error as NodeJS.ErrnoException).code }, 'connection lost')
    } finally {
      connection.shutdownSignal.removeEventListener('abort', onShutdown)
    }
  }

  async #dispatch(command: SmtpCommand): Promise<void> {
    const handler = COMMANDS[command.verb] as (
      session: SmtpSession,
      command: SmtpCommand,
    ) => Promise<void>
    await handler(this, command)
  }
}

/** Commands served back to back before the session lets other connections have a turn. */
const COMMANDS_PER_TURN = 32

/** Replies held for one write in a pipelined burst, at most (as src/net's OutputBuffer). */
const MAX_PENDING_REPLY_OCTETS = 64 * 1024

function isAuthLine(bytes: Buffer): boolean {
  return bytes.length >= 5 && bytes.subarray(0, 5).toString('latin1').toUpperCase() === 'AUTH '
}
