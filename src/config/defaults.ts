/** The listeners Postern knows, in the order they are reported. DESIGN.md §Operator interface. */
export const LISTENER_NAMES = [
  'smtp',
  'submission',
  'submissions',
  'imap',
  'imaps',
  'pop3',
  'pop3s',
  'admin',
] as const

export type ListenerName = (typeof LISTENER_NAMES)[number]

/**
 * The embedded default: loopback only, high ports, so it runs unprivileged and never exposes
 * anything by accident. Production configs name 25/587/465/143/993/110/995 on public addresses.
 */
export const DEFAULT_LISTEN: Record<ListenerName, string> = {
  smtp: '127.0.0.1:2525',
  submission: '127.0.0.1:2587',
  submissions: '127.0.0.1:2465',
  imap: '127.0.0.1:2143',
  imaps: '127.0.0.1:2993',
  pop3: '127.0.0.1:2110',
  pop3s: '127.0.0.1:2995',
  admin: '127.0.0.1:2080',
}

export const DEFAULT_HOSTNAME = 'localhost'
export const DEFAULT_DATA_DIR = './data'

/** Connections from one IP across all listeners; enough for a busy NAT, small enough to stop a flood. */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 50
/** All connections; past it new ones are refused with the protocol's "try later". */
export const DEFAULT_MAX_CONNECTIONS = 4000
/** How long a shutdown waits for sessions to finish before it cuts them. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 3000

/**
 * SMTP policy defaults. 25 MiB messages (what the large providers accept); 100 recipients, the
 * minimum RFC 5321 §4.5.3.1.8 asks a server to take; 20 error replies before a session is cut
 * (Postfix's smtpd_hard_error_limit); 10,000 commands per session, far above a busy relay's
 * reuse of one connection but finite; and the five minutes RFC 5321 §4.5.3.2.7 gives a client
 * between commands.
 */
export const DEFAULT_SMTP = {
  maxMessageSize: 25 * 1024 * 1024,
  maxRecipients: 100,
  maxErrors: 20,
  maxCommands: 10_000,
  timeoutMs: 300_000,
  vrfy: false,
} as const

/**
 * Login failures within 15 minutes before a lock of `lockoutMs`: 10 for an account (from
 * anywhere), 30 from one IP (for any accounts). src/auth's DEFAULT_THROTTLE has the same values.
 */
export const DEFAULT_AUTH = {
  maxAccountFailures: 10,
  maxIpFailures: 30,
  lockoutMs: 15 * 60_000,
} as const

/**
 * Outbound queue defaults, in the spirit of Postfix: the first retry after 5 minutes
 * (minimal_backoff_time 300s), the wait doubling up to 4 hours, give up after 5 days
 * (maximal_queue_lifetime), a delay notice after 4 hours; 100 outbound connections in all and
 * 20 per destination (default_destination_concurrency_limit). A claim's lease is renewed while
 * the runner lives; 10 minutes is how long a crashed node's recipients wait for another node.
 */
export const DEFAULT_QUEUE = {
  retryMinMs: 5 * 60_000,
  retryMaxMs: 4 * 3_600_000,
  lifetimeMs: 5 * 86_400_000,
  delayWarningMs: 4 * 3_600_000,
  maxConnections: 100,
  maxPerDomain: 20,
  leaseMs: 10 * 60_000,
  pollMs: 1000,
} as const

/** Where and how relayed mail leaves: port 25 of each MX host, RFC 5321's timeouts. */
export const DEFAULT_RELAY = {
  port: 25,
  connectTimeoutMs: 30_000,
} as const

/**
 * POP3 defaults: RFC 1939 §3's 10 minutes of idleness before a session may be closed; the error
 * bound of SMTP; commands enough for a session that fetches and deletes a very large maildrop;
 * passwords only over TLS or from loopback; no APOP, which would need readable passwords.
 */
/**
 * IMAP: 30 minutes is RFC 9051 §5.4's least autologout timer once logged in (the session never
 * uses less after login, whatever is set); before login the same value is used.
 */
export const DEFAULT_IMAP = {
  timeoutMs: 1_800_000,
  maxErrors: 20,
  maxCommands: 10_000_000,
  allowPlaintext: 'loopback',
} as const

export const DEFAULT_POP3 = {
  timeoutMs: 600_000,
  maxErrors: 20,
  maxCommands: 1_000_000,
  allowPlaintext: 'loopback',
  apop: false,
} as const
