import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'

/** How long to wait for each reply, in milliseconds. */
export interface SmtpTimeouts {
  /** TCP connect, plus the handshake for implicit TLS. */
  connect: number
  greeting: number
  mail: number
  rcpt: number
  /** The 354 after DATA. */
  dataInit: number
  /** Each write of message data that waits for the peer to read. */
  dataBlock: number
  /** The reply after the end of the message (DATA's final dot, or BDAT). */
  dataEnd: number
  /** EHLO, HELO, STARTTLS (and its handshake), AUTH, RSET, QUIT. */
  command: number
}

// RFC 5321 §4.5.3.2: the minimum a client should wait for each reply; connect is our own.
export const DEFAULT_TIMEOUTS: Readonly<SmtpTimeouts> = {
  connect: 30_000,
  greeting: 5 * 60_000, // §4.5.3.2.1 initial 220 message: 5 minutes
  mail: 5 * 60_000, // §4.5.3.2.2 MAIL command: 5 minutes
  rcpt: 5 * 60_000, // §4.5.3.2.3 RCPT command: 5 minutes
  dataInit: 2 * 60_000, // §4.5.3.2.4 DATA initiation: 2 minutes
  dataBlock: 3 * 60_000, // §4.5.3.2.5 data block: 3 minutes
  dataEnd: 10 * 60_000, // §4.5.3.2.6 DATA termination: 10 minutes
  command: 5 * 60_000, // the other commands, as MAIL
}

export interface ConnectOptions {
  /** An IP address or a host name to connect to. */
  host: string
  port: number
  localAddress?: string
  /** TLS from the first octet (RFC 8314 §3.3, port 465). */
  implicitTls?: boolean
  /** The name for SNI and the certificate check; defaults to host. */
  servername?: string
  /** Passed to tls.connect, e.g. { rejectUnauthorized: false } or { ca }. */
  tls?: TlsConnectionOptions
  timeouts?: Partial<SmtpTimeouts>
}

/** The defaults, with whatever the caller set; a key given as undefined keeps its default. */
export function resolveTimeouts(given: Partial<SmtpTimeouts> = {}): SmtpTimeouts {
  const timeouts = { ...DEFAULT_TIMEOUTS }
  for (const key of Object.keys(timeouts) as Array<keyof SmtpTimeouts>) {
    const value = given[key]
    if (value !== undefined) timeouts[key] = value
  }
  return timeouts
}
