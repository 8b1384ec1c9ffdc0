import { z } from 'zod'
import { type HostPort, parseHostPort } from './address.ts'
import {
  DEFAULT_AUTH,
  DEFAULT_DATA_DIR,
  DEFAULT_HOSTNAME,
  DEFAULT_IMAP,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_IP,
  DEFAULT_POP3,
  DEFAULT_QUEUE,
  DEFAULT_RELAY,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_SMTP,
  type ListenerName,
} from './defaults.ts'

// This file is the one place that maps the TOML keys (snake_case) to the typed Config (camelCase).

function hostPort(defaultPort?: number) {
  return z.string().transform((value, ctx): HostPort => {
    const parsed = parseHostPort(value, defaultPort)
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed })
      return z.NEVER
    }
    return parsed
  })
}

// RFC 1123 §2.1 host names: LDH labels of 1-63 octets, 253 in all. Used in HELO and Received.
const hostname = z
  .string()
  .refine(
    (name) =>
      name.length <= 253 &&
      !/^[\d.]+$/.test(name) &&
      name.split('.').every((label) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(label)),
    { message: 'must be a host name such as "mail.example.com" (letters, digits, hyphens, dots)' },
  )

/** A host name or IP address with an optional port: where a client connects (the smart host). */
function remoteHost(defaultPort: number) {
  return z.string().transform((value, ctx): HostPort => {
    const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value)
    const named = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(value)
    const [, host = '', portText] = bracketed ?? named ?? []
    const port = portText === undefined ? defaultPort : Number(portText)
    const isName = bracketed !== null || hostname.safeParse(host).success || /^[\d.]+$/.test(host)
    if (host === '' || !isName || port < 1 || port > 65_535) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must be a host name or address with an optional port, e.g. "smtp.example.net:587"',
      })
      return z.NEVER
    }
    return { host, port }
  })
}

const listen = z.strictObject({
  smtp: hostPort().optional(),
  submission: hostPort().optional(),
  submissions: hostPort().optional(),
  imap: hostPort().optional(),
  imaps: hostPort().optional(),
  pop3: hostPort().optional(),
  pop3s: hostPort().optional(),
  admin: hostPort().optional(),
})

const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])

/** What inbound authentication results lead to; see MailauthPolicy. */
const mailauthPolicyOverrides = {
  dmarc_reject: z.enum(['reject', 'quarantine', 'none']).optional(),
  dmarc_quarantine: z.enum(['quarantine', 'none']).optional(),
  spf_fail: z.enum(['reject', 'quarantine', 'none']).optional(),
}
const DEFAULT_MAILAUTH_POLICY = {
  dmarc_reject: 'reject' as const,
  dmarc_quarantine: 'quarantine' as const,
  spf_fail: 'none' as const,
}
const mailauthPolicy = {
  dmarc_reject: mailauthPolicyOverrides.dmarc_reject.unwrap().default('reject'),
  dmarc_quarantine: mailauthPolicyOverrides.dmarc_quarantine.unwrap().default('quarantine'),
  spf_fail: mailauthPolicyOverrides.spf_fail.unwrap().default('none'),
}

export const configFileSchema = z.strictObject({
  hostname: hostname.default(DEFAULT_HOSTNAME),
  data_dir: z.string().min(1, 'must not be empty').default(DEFAULT_DATA_DIR),
  shutdown_grace_ms: z.int().min(0).max(600_000).default(DEFAULT_SHUTDOWN_GRACE_MS),
  listen: listen.optional(),
  tls: z
    .strictObject({
      cert: z.string().min(1, 'must name a PEM file'),
      key: z.string().min(1, 'must name a PEM file'),
    })
    .optional(),
  // Defaults are functions so that each loaded config gets its own objects and arrays.
  store: z
    .strictObject({
      backend: z.enum(['sqlite', 'postgres']).default('sqlite'),
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// URL')
        .optional(),
    })
    .superRefine((store, context) => {
      if (store.backend === 'postgres' && store.url === undefined) {
        context.addIssue({
          code: 'custom',
          path: ['url'],
          message: 'is required with backend = "postgres"',
        })
      }
      if (store.backend === 'sqlite' && store.url !== undefined) {
        context.addIssue({
          code: 'custom',
          path: ['url'],
          message: 'is only for backend = "postgres"',
        })
      }
    })
    .default(() => ({ backend: 'sqlite' as const })),
  directory: z
    .strictObject({
      // user+tag@domain is delivered to user@domain; "" turns subaddressing off.
      subaddress_separator: z
        .string()
        .regex(/^[-+=_~.#]?$/, 'must be one of "+", "-", "=", "_", "~", ".", "#", or ""')
        .default('+'),
    })
    .default(() => ({ subaddress_separator: '+' })),
  smtp: z
    .strictObject({
      // RFC 1870 SIZE; also bounds BDAT. At least 64 KiB, which RFC 5321 §4.5.3.1.7 requires.
      max_message_size: z
        .int()
        .min(65_536)
        .max(1024 * 1024 * 1024)
        .default(DEFAULT_SMTP.maxMessageSize),
      max_recipients: z.int().min(1).max(1000).default(DEFAULT_SMTP.maxRecipients),
      max_errors: z.int().min(1).max(1000).default(DEFAULT_SMTP.maxErrors),
      max_commands: z.int().min(10).max(10_000_000).default(DEFAULT_SMTP.maxCommands),
      timeout_ms: z.int().min(1000).max(3_600_000).default(DEFAULT_SMTP.timeoutMs),
      vrfy: z.boolean().default(DEFAULT_SMTP.vrfy),
    })
    .default(() => ({
      max_message_size: DEFAULT_SMTP.maxMessageSize,
      max_recipients: DEFAULT_SMTP.maxRecipients,
      max_errors: DEFAULT_SMTP.maxErrors,
      max_commands: DEFAULT_SMTP.maxCommands,
      timeout_ms: DEFAULT_SMTP.timeoutMs,
      vrfy: DEFAULT_SMTP.vrfy,
    })),
  imap: z
    .strictObject({
      // Before login; after it the session waits at least RFC 9051 §5.4's 30 minutes.
      timeout_ms: z
        .int()
        .min(60_000)
        .max(24 * 3_600_000)
        .default(DEFAULT_IMAP.timeoutMs),
      max_errors: z.int().min(1).max(1000).default(DEFAULT_IMAP.maxErrors),
      max_commands: z.int().min(10).max(1_000_000_000).default(DEFAULT_IMAP.maxCommands),
      // LOGIN and AUTHENTICATE before STARTTLS (RFC 9051 §6.2.3 LOGINDISABLED otherwise): from
      // loopback clients only, never, or from anyone.
      allow_plaintext: z.enum(['never', 'loopback', 'always']).default(DEFAULT_IMAP.allowPlaintext),
    })
    .default(() => ({
      timeout_ms: DEFAULT_IMAP.timeoutMs,
      max_errors: DEFAULT_IMAP.maxErrors,
      max_commands: DEFAULT_IMAP.maxCommands,
      allow_plaintext: DEFAULT_IMAP.allowPlaintext,
    })),
  pop3: z
    .strictObject({
      // RFC 1939 §3: an idle session may be closed after at least 10 minutes, not sooner.
      timeout_ms: z.int().min(600_000).max(3_600_000).default(DEFAULT_POP3.timeoutMs),
      max_errors: z.int().min(1).max(1000).default(DEFAULT_POP3.maxErrors),
      max_commands: z.int().min(10).max(100_000_000).default(DEFAULT_POP3.maxCommands),
      // Passwords before STLS (RFC 2595 §4 says don't): from loopback clients only, never, or
      // from anyone.
      allow_plaintext: z.enum(['never', 'loopback', 'always']).default(DEFAULT_POP3.allowPlaintext),
      // RFC 1939 §7 APOP: needs each password kept readable, so only set with this on.
      apop: z.boolean().default(DEFAULT_POP3.apop),
      // RFC 2449 §6.5 LOGIN-DELAY: seconds a user must wait between two POP3 logins.
      login_delay_s: z.int().min(1).max(86_400).optional(),
      // RFC 2449 §6.7 EXPIRE: 0 deletes what a session retrieved when it ends; "never" promises
      // that the server never deletes mail on its own.
      expire: z.union([z.literal(0), z.literal('never')]).optional(),
    })
    .default(() => ({
      timeout_ms: DEFAULT_POP3.timeoutMs,
      max_errors: DEFAULT_POP3.maxErrors,
      max_commands: DEFAULT_POP3.maxCommands,
      allow_plaintext: DEFAULT_POP3.allowPlaintext,
      apop: DEFAULT_POP3.apop,
    })),
  queue: z
    .strictObject({
      retry_min_ms: z.int().min(1000).max(86_400_000).default(DEFAULT_QUEUE.retryMinMs),
      retry_max_ms: z
        .int()
        .min(1000)
        .max(7 * 86_400_000)
        .default(DEFAULT_QUEUE.retryMaxMs),
      lifetime_ms: z
        .int()
        .min(1000)
        .max(60 * 86_400_000)
        .default(DEFAULT_QUEUE.lifetimeMs),
      // 0: no delay notices.
      delay_warning_ms: z
        .int()
        .min(0)
        .max(60 * 86_400_000)
        .default(DEFAULT_QUEUE.delayWarningMs),
      max_connections: z.int().min(1).max(10_000).default(DEFAULT_QUEUE.maxConnections),
      max_per_domain: z.int().min(1).max(1000).default(DEFAULT_QUEUE.maxPerDomain),
      lease_ms: z.int().min(1000).max(86_400_000).default(DEFAULT_QUEUE.leaseMs),
      poll_ms: z.int().min(10).max(600_000).default(DEFAULT_QUEUE.pollMs),
    })
    .refine((queue) => queue.retry_max_ms >= queue.retry_min_ms, {
      path: ['retry_max_ms'],
      message: 'must not be below retry_min_ms',
    })
    .default(() => ({
      retry_min_ms: DEFAULT_QUEUE.retryMinMs,
      retry_max_ms: DEFAULT_QUEUE.retryMaxMs,
      lifetime_ms: DEFAULT_QUEUE.lifetimeMs,
      delay_warning_ms: DEFAULT_QUEUE.delayWarningMs,
      max_connections: DEFAULT_QUEUE.maxConnections,
      max_per_domain: DEFAULT_QUEUE.maxPerDomain,
      lease_ms: DEFAULT_QUEUE.leaseMs,
      poll_ms: DEFAULT_QUEUE.pollMs,
    })),
  relay: z
    .strictObject({
      // The port of every MX host; only tests and unusual networks change it.
      port: z.int().min(1).max(65_535).default(DEFAULT_RELAY.port),
      connect_timeout_ms: z.int().min(100).max(600_000).default(DEFAULT_RELAY.connectTimeoutMs),
      // The local address outbound connections come from (Postfix's smtp_bind_address).
      source_address: z.union([z.ipv4(), z.ipv6()]).optional(),
      // Replaces every per-command timeout of RFC 5321 §4.5.3.2 (tests use a short one).
      command_timeout_ms: z.int().min(100).max(3_600_000).optional(),
      // Everything goes to this host instead of each domain's MX.
      smart_host: z
        .strictObject({
          address: remoteHost(587),
          // "starttls" (587) and "implicit" (465) insist on TLS; "opportunistic" takes it if offered.
          tls: z.enum(['starttls', 'implicit', 'opportunistic']).default('starttls'),
          verify_certificate: z.boolean().default(true),
          ca_file: z.string().min(1, 'must name a PEM file').optional(),
          username: z.string().min(1).optional(),
          password: z.string().min(1).optional(),
        })
        .refine((host) => (host.username === undefined) === (host.password === undefined), {
          message: 'username and password go together',
        })
        .optional(),
    })
    .default(() => ({
      port: DEFAULT_RELAY.port,
      connect_timeout_ms: DEFAULT_RELAY.connectTimeoutMs,
    })),
  dns: z
    .strictObject({
      servers: z.array(hostPort(53)).default(() => []),
      // The first try's wait; c-ares doubles it on each retry. Tests of timeouts shorten it.
      timeout_ms: z.int().min(50).max(60_000).default(5000),
      tries: z.int().min(1).max(10).default(2),
    })
    .default(() => ({ servers: [], timeout_ms: 5000, tries: 2 })),
  // Inbound SPF/DKIM/DMARC/ARC on the MX listener, DKIM signing of submissions, ARC sealing of
  // forwarded mail. The policy keys may be overridden per local domain under [mailauth.domains].
  mailauth: z
    .strictObject({
      verify: z.boolean().default(true),
      sign: z.boolean().default(true),
      arc_seal: z.boolean().default(true),
      ...mailauthPolicy,
      domains: z
        .record(z.string().min(1), z.strictObject(mailauthPolicyOverrides))
        .default(() => ({})),
    })
    .default(() => ({
      verify: true,
      sign: true,
      arc_seal: true,
      ...DEFAULT_MAILAUTH_POLICY,
      domains: {},
    })),
  // MTA-STS (RFC 8461): remote domains' policies honoured when relaying, and the policy Postern
  // serves for its own domains on the admin listener.
  mta_sts: z
    .strictObject({
      enforce_outbound: z.boolean().default(true),
      // Where policies are fetched: 443 in production; tests serve them on a loopback port.
      https_port: z.int().min(1).max(65_535).default(443),
      ca_file: z.string().min(1, 'must name a PEM file').optional(),
      fetch_timeout_ms: z.int().min(100).max(600_000).default(10_000),
      mode: z.enum(['none', 'testing', 'enforce']).default('none'),
      mx: z.array(z.string().min(1)).default(() => []),
      max_age_s: z.int().min(86_400).max(31_557_600).default(604_800),
    })
    .default(() => ({
      enforce_outbound: true,
      https_port: 443,
      fetch_timeout_ms: 10_000,
      mode: 'none' as const,
      mx: [],
      max_age_s: 604_800,
    })),
  log: z
    .strictObject({
      level: logLevel.default('info'),
      // "auto": human-readable when standard output is a terminal, JSON lines otherwise.
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    })
    .default(() => ({ level: 'info' as const, format: 'auto' as const })),
  auth: z
    .strictObject({
      // Failed logins before an account (from anywhere) or an IP (for any account) is locked.
      max_account_failures: z.int().min(1).max(1000).default(DEFAULT_AUTH.maxAccountFailures),
      max_ip_failures: z.int().min(1).max(100_000).default(DEFAULT_AUTH.maxIpFailures),
      lockout_ms: z.int().min(1000).max(86_400_000).default(DEFAULT_AUTH.lockoutMs),
    })
    .default(() => ({
      max_account_failures: DEFAULT_AUTH.maxAccountFailures,
      max_ip_failures: DEFAULT_AUTH.maxIpFailures,
      lockout_ms: DEFAULT_AUTH.lockoutMs,
    })),
  limits: z
    .strictObject({
      max_connections: z.int().min(1).max(1_000_000).default(DEFAULT_MAX_CONNECTIONS),
      max_connections_per_ip: z.int().min(1).max(100_000).default(DEFAULT_MAX_CONNECTIONS_PER_IP),
    })
    .default(() => ({
      max_connections: DEFAULT_MAX_CONNECTIONS,
      max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
    })),
})

export type ConfigFile = z.output<typeof configFileSchema>
export type LogLevel = z.output<typeof logLevel>

export interface Config {
  /** The file the config came from, or null for the embedded default. */
  path: string | null
  hostname: string
  /** Absolute. */
  dataDir: string
  shutdownGraceMs: number
  listen: Partial<Record<ListenerName, HostPort>>
  /** Absolute paths of the PEM files, or null to use the self-signed pair in the data dir. */
  tls: { certPath: string; keyPath: string } | null
  /** The embedded store in data_dir, or PostgreSQL at `url` for several nodes. */
  store: { backend: 'sqlite' } | { backend: 'postgres'; url: string }
  /** The subaddress separator, or null when subaddressing is off. */
  directory: { subaddressSeparator: string | null }
  smtp: SmtpConfig
  /** Login failure bounds (src/auth's AuthThrottle), shared by every protocol. */
  auth: { maxAccountFailures: number; maxIpFailures: number; lockoutMs: number }
  imap: ImapConfig
  pop3: Pop3Config
  queue: QueueConfig
  relay: RelayConfig
  dns: { servers: HostPort[]; timeoutMs: number; tries: number }
  mailauth: MailauthConfig
  mtaSts: MtaStsConfig
  log: { level: LogLevel; format: 'auto' | 'json' | 'pretty' }
  limits: { maxConnections: number; maxConnectionsPerIp: number }
}

export interface SmtpConfig {
  /** Octets a message may have (SIZE, DATA and BDAT). */
  maxMessageSize: number
  /** Recipients one message may have; past it RCPT gets 452 4.5.3 (RFC 5321 §4.5.3.1.10). */
  maxRecipients: number
  /** Error replies a session may earn before it is closed with 421. */
  maxErrors: number
  /** Commands one session may send before it is closed with 421. */
  maxCommands: number
  /** How long the server waits for a command or for more message data. */
  timeoutMs: number
  /** Whether VRFY says if an address exists; off, it answers 252 (RFC 5321 §3.5.3). */
  vrfy: boolean
}

export interface ImapConfig {
  /** How long the server waits for a command before login; at least 30 minutes after it. */
  timeoutMs: number
  /** Tagged NO and BAD answers a session may earn before it is closed. */
  maxErrors: number
  /** Commands one session may send before it is closed. */
  maxCommands: number
  /** Who may log in before STARTTLS: nobody, loopback clients, or anyone. */
  allowPlaintext: 'never' | 'loopback' | 'always'
}

export interface Pop3Config {
  /** How long the server waits for a command; at least RFC 1939's 10 minutes. */
  timeoutMs: number
  /** Error responses a session may earn before it is closed. */
  maxErrors: number
  /** Commands one session may send before it is closed. */
  maxCommands: number
  /** Who may send passwords before STLS: nobody, loopback clients, or anyone. */
  allowPlaintext: 'never' | 'loopback' | 'always'
  /** Whether APOP is offered (and passwords set from now on are kept readable for it). */
  apop: boolean
  /** RFC 2449 LOGIN-DELAY, or null for none. */
  loginDelayMs: number | null
  /** RFC 2449 EXPIRE as advertised and applied, or null to advertise nothing. */
  expire: 0 | 'never' | null
}

export interface QueueConfig {
  /** The first retry's wait; each later one doubles, up to retryMaxMs. */
  retryMinMs: number
  retryMaxMs: number
  /** How long a message is retried before it bounces (RFC 5321 §4.5.4.1: at least 4-5 days). */
  lifetimeMs: number
  /** A delay notice after this long (RFC 3464 Action: delayed); 0 for none. */
  delayWarningMs: number
  maxConnections: number
  maxPerDomain: number
  leaseMs: number
  /** How often the queue looks for work that another process (or node) made due. */
  pollMs: number
}

export interface RelayConfig {
  port: number
  connectTimeoutMs: number
  /** The local address outbound connections use; null: the system picks. */
  sourceAddress: string | null
  /** Set: every command's timeout; null: RFC 5321 §4.5.3.2's own per command. */
  commandTimeoutMs: number | null
  smartHost: {
    address: HostPort
    tls: 'starttls' | 'implicit' | 'opportunistic'
    verifyCertificate: boolean
    /** Absolute. */
    caFile: string | null
    credentials: { username: string; password: string } | null
  } | null
}

/**
 * What an inbound authentication result does: "reject" answers 550 5.7.1 at the end of DATA,
 * "quarantine" delivers to the recipient's Junk mailbox, "none" only records the result in
 * Authentication-Results.
 */
export interface MailauthPolicy {
  /** A DMARC fail where the domain publishes p=reject. */
  dmarcReject: 'reject' | 'quarantine' | 'none'
  /** A DMARC fail where the domain publishes p=quarantine. */
  dmarcQuarantine: 'quarantine' | 'none'
  /** An SPF fail (the domain's -all) whatever DMARC says. */
  spfFail: 'reject' | 'quarantine' | 'none'
}

export interface MailauthConfig extends MailauthPolicy {
  /** SPF, DKIM, DMARC and ARC checked on the MX listener, with Authentication-Results added. */
  verify: boolean
  /** Submissions signed with DKIM for local domains that have an active key. */
  sign: boolean
  /** Mail forwarded through an alias to a remote address is ARC-sealed. */
  arcSeal: boolean
  /** Per local domain (A-labels, lower case): the policy for its recipients. */
  domains: Record<string, MailauthPolicy>
}

export interface MtaStsConfig {
  /** Remote domains' policies are fetched and honoured when relaying (RFC 8461 §5). */
  enforceOutbound: boolean
  /** The port policies are fetched from (443; tests use another). */
  httpsPort: number
  /**
   * Absolute; trusted instead of the system's CAs for policy fetches and for the certificates
   * of MX hosts under an enforced policy (tests, private CAs).
   */
  caFile: string | null
  fetchTimeoutMs: number
  /** The policy served for Postern's own domains; "none" serves nothing. */
  mode: 'none' | 'testing' | 'enforce'
  /** The MX patterns the served policy lists (default: the hostname). */
  mx: string[]
  maxAgeS: number
}
