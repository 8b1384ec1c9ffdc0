import { createServer, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import { createSecureContext, TLSSocket } from 'node:tls'
import { testSecureContext } from './tls.ts'

// A scriptable SMTP server for relay tests: it listens on a loopback address of its own, answers
// what a test tells it to per MAIL, RCPT and message, and records every transaction, so that a
// test can make a next hop refuse, defer, hang or lack an extension, and check what arrived.

export interface FakeSmtpOptions {
  /** A loopback address (127.0.0.0/8). */
  host: string
  port: number
  /**
   * The greeting line, default "220 <name> ESMTP fake". null: accept connections and never
   * greet (a hanging host). A 421 greeting closes the connection after it; after another non-2xx
   * greeting every command but QUIT gets 503.
   */
  greeting?: string | null
  /** The name in the default greeting and the EHLO reply; default "fake.test". */
  name?: string
  /**
   * The EHLO lines after the first, default PIPELINING, 8BITMIME, SIZE 10485760,
   * ENHANCEDSTATUSCODES. "STARTTLS" among them turns STARTTLS on (a throwaway certificate).
   */
  extensions?: string[]
  /** STARTTLS with this certificate (and chain) instead of the throwaway one for localhost. */
  certificate?: { cert: string; key: string }
  /** The reply to MAIL, given the reverse-path and the whole command line; default 250. */
  onMail?: (from: string, line: string) => string
  /**
   * The reply to RCPT, given the forward-path and how many times this address has been seen
   * in a RCPT (1 the first time, across connections); default "250 2.1.5 Ok".
   */
  onRcpt?: (address: string, attempt: number) => string
  /**
   * The reply after the message, given its octets (dot-unstuffed); default 250. null: the
   * connection drops instead, the message received but never answered.
   */
  onData?: (message: Buffer) => string | null
  /** false: QUIT gets no reply and the connection stays open (a peer gone silent). */
  answersQuit?: boolean
}

export interface FakeTransaction {
  /** The reverse-path, '' for <>. */
  from: string
  /** The MAIL command line as received, parameters included. */
  mailLine: string
  /** The BODY= parameter of MAIL FROM, upper case, if it had one. */
  body8bit?: string
  /** The recipients the server accepted (2xx to RCPT). */
  to: string[]
  /** The message as received, dot-unstuffed, ending with its last CRLF. */
  data: Buffer
  /** The reply the server gave after the message; null when it dropped the connection. */
  reply: string | null
}

export interface FakeSmtp {
  host: string
  port: number
  /** Every transaction that reached the end of its message, in order. */
  readonly transactions: FakeTransaction[]
  /** Every RCPT, with the reply it got, in order. */
  readonly rcpts: Array<{ address: string; reply: string }>
  /** Every command line received (message data excluded), in order, across connections. */
  readonly commands: string[]
  /** Connections accepted so far. */
  readonly connections: number
  /** Closes the listener and every connection (done when the test ends, too). */
  close(): Promise<void>
}

export const DEFAULT_EXTENSIONS = ['PIPELINING', '8BITMIME', 'SIZE 10485760', 'ENHANCEDSTATUSCODES']

const END_OF_DATA = Buffer.from('\r\n.\r\n')
const LONE_DOT = Buffer.from('.\r\n')
/** A line longer than this ends the connection: no test needs one, a runaway client might. */
const MAX_LINE = 64 * 1024

interface Open {
  from: string
  mailLine: string
  body8bit?: string
  to: string[]
}

export async function startFakeSmtp(t: TestContext, options: FakeSmtpOptions): Promise<FakeSmtp> {
  if (!options.host.startsWith('127.')) throw new Error('a fake SMTP server listens on loopback')
  const name = options.name ?? 'fake.test'
  const extensions = options.extensions ?? DEFAULT_EXTENSIONS
  const hasStartTls = extensions.some((line) => line.toUpperCase() === 'STARTTLS')
  const secureContext = !hasStartTls
    ? null
    : options.certificate !== undefined
      ? createSecureContext(options.certificate)
      : await testSecureContext()
  const transactions: FakeTransaction[] = []
  const rcpts: Array<{ address: string; reply: string }> = []
  const commands: string[] = []
  const seen = new Map<string, number>()
  const sockets = new Set<Socket>()
  let connections = 0

  const server = createServer((raw) => {
    connections += 1
    sockets.add(raw)
    raw.on('close', () => sockets.delete(raw))
    raw.on('error', () => raw.destroy())
    if (options.greeting === null) return
    const greeting = options.greeting ?? `220 ${name} ESMTP fake`
    const isGreeted = greeting.startsWith('2')
    let socket: Socket = raw
    let buffer = Buffer.alloc(0)
    let inData = false
    let helo: string | null = null
    let open: Open | null = null
    let isSecure = false

    const reply = (line: string) => {
      if (!socket.destroyed) socket.write(`${line}\r\n`)
    }

    /** One command line; false when the connection is over (or handed to TLS). */
    const command = (line: string): boolean => {
      commands.push(line)
      const verb = (line.split(' ')[0] ?? '').toUpperCase()
      if (!isGreeted && verb !== 'QUIT') {
        reply('503 5.5.1 No service here')
        return true
      }
      switch (verb) {
        case 'EHLO': {
          helo = line.slice(5).trim()
          open = null
          const lines = [`${name} Hello ${helo}`, ...(isSecure ? without(extensions) : extensions)]
          socket.write(
            lines.map((text, i) => `250${i === lines.length - 1 ? ' ' : '-'}${text}\r\n`).join(''),
          )
          return true
        }
        case 'HELO':
          helo = line.slice(5).trim()
          open = null
          reply(`250 ${name}`)
          return true
        case 'STARTTLS':
          if (secureContext === null || isSecure) {
            reply('502 5.5.1 STARTTLS not available')
            return true
          }
          reply('220 2.0.0 Ready to start TLS')
          startTls(secureContext)
          return false
        case 'MAIL': {
          if (helo === null) {
            reply('503 5.5.1 Send EHLO first')
            return true
          }
          if (open !== null) {
            reply('503 5.5.1 Nested MAIL command')
            return true
          }
          const match = /^MAIL FROM:\s*<([^>]*)>(.*)$/i.exec(line)
          if (match === null) {
            reply('501 5.5.4 Syntax: MAIL FROM:<address>')
            return true
          }
          const from = match[1] ?? ''
          const answer = options.onMail?.(from, line) ?? '250 2.1.0 Ok'
          if (answer.startsWith('2')) {
            const body = /\sBODY=(\S+)/i.exec(match[2] ?? '')?.[1]?.toUpperCase()
            open = { from, mailLine: line, to: [], ...(body !== undefined && { body8bit: body }) }
          }
          reply(answer)
          return true
        }
        case 'RCPT': {
          if (open === null) {
            reply('503 5.5.1 Need MAIL first')
            return true
          }
          const match = /^RCPT TO:\s*<([^>]*)>/i.exec(line)
          if (match === null) {
            reply('501 5.5.4 Syntax: RCPT TO:<address>')
            return true
          }
          const address = match[1] ?? ''
          const attempt = (seen.get(address) ?? 0) + 1
          seen.set(address, attempt)
          const answer = options.onRcpt?.(address, attempt) ?? '250 2.1.5 Ok'
          rcpts.push({ address, reply: answer })
          if (answer.startsWith('2')) open.to.push(address)
          reply(answer)
          return true
        }
        case 'DATA':
          if (open === null || open.to.length === 0) {
            // RFC 2920 §3.1: DATA after no accepted recipient fails.
            reply('554 5.5.1 No valid recipients')
            return true
          }
          inData = true
          reply('354 End data with <CR><LF>.<CR><LF>')
          return true
        case 'RSET':
          open = null
          reply('250 2.0.0 Ok')
          return true
        case 'NOOP':
          reply('250 2.0.0 Ok')
          return true
        case 'QUIT':
          if (options.answersQuit === false) return false
          reply('221 2.0.0 Bye')
          socket.end()
          return false
        default:
          reply('500 5.5.2 Command not recognized')
          return true
      }
    }

    /** Works through what has arrived, in order: pipelined commands, then message data. */
    const drain = () => {
      for (;;) {
        if (inData) {
          // The message is empty when the lone dot comes first; else it ends at CRLF.CRLF,
          // whose first CRLF ends its last line.
          let data: Buffer
          if (buffer.subarray(0, 3).equals(LONE_DOT)) {
            data = Buffer.alloc(0)
            buffer = buffer.subarray(LONE_DOT.length)
          } else {
            const end = buffer.indexOf(END_OF_DATA)
            if (end === -1) return
            data = unstuff(buffer.subarray(0, end + 2))
            buffer = buffer.subarray(end + END_OF_DATA.length)
          }
          inData = false
          const transaction = open
          open = null
          if (transaction === null) continue
          const answer =
            options.onData === undefined ? '250 2.0.0 Ok: queued' : options.onData(data)
          transactions.push({ ...transaction, data, reply: answer })
          if (answer === null) {
            raw.destroy()
            return
          }
          reply(answer)
          continue
        }
        const lf = buffer.indexOf(0x0a)
        if (lf === -1) {
          if (buffer.length > MAX_LINE) socket.destroy()
          return
        }
        const line = buffer.subarray(0, lf).toString('utf8').replace(/\r$/, '')
        buffer = buffer.subarray(lf + 1)
        if (!command(line)) return
      }
    }

    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      drain()
    }

    const startTls = (context: NonNullable<typeof secureContext>) => {
      socket.off('data', onData)
      // RFC 3207 §4.2: whatever the client sent before the handshake is discarded, and the
      // session starts over.
      buffer = Buffer.alloc(0)
      helo = null
      open = null
      const secure = new TLSSocket(socket, { isServer: true, secureContext: context })
      secure.on('error', () => raw.destroy())
      secure.once('secure', () => {
        isSecure = true
        socket = secure
      })
      secure.on('data', onData)
    }

    raw.on('data', onData)
    reply(greeting)
    if (greeting.startsWith('421')) raw.end()
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
    return closing
  }
  t.after(close)

  return {
    host: options.host,
    port: options.port,
    transactions,
    rcpts,
    commands,
    get connections() {
      return connections
    },
    close,
  }
}

/** After STARTTLS it is not offered again (RFC 3207 §4.2). */
function without(extensions: string[]): string[] {
  return extensions.filter((line) => line.toUpperCase() !== 'STARTTLS')
}

/** RFC 5321 §4.5.2: a line that starts with a dot had one more added by the client. */
function unstuff(data: Buffer): Buffer {
  const parts: Buffer[] = []
  let start = 0
  while (start < data.length) {
    const lf = data.indexOf(0x0a, start)
    const end = lf === -1 ? data.length : lf + 1
    parts.push(data.subarray(data[start] === 0x2e ? start + 1 : start, end))
    start = end
  }
  return Buffer.concat(parts)
}
