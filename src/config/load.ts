import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { parse as parseToml, TomlError } from 'smol-toml'
import type { z } from 'zod'
import { formatHostPort, type HostPort, isSameBinding, parseHostPort } from './address.ts'
import { ConfigError } from './config-error.ts'
import { DEFAULT_LISTEN, LISTENER_NAMES, type ListenerName } from './defaults.ts'
import { type Config, type ConfigFile, configFileSchema } from './schema.ts'

export interface LoadConfigOptions {
  /** A TOML file; null or undefined means the embedded default. */
  path?: string | null
  /** Where a relative data_dir goes when there is no file. Defaults to process.cwd(). */
  cwd?: string
}

/**
 * Reads, validates and resolves the config. Throws ConfigError naming the first bad key: an
 * unknown key, a value of the wrong type, an address that does not parse, two listeners on one
 * address, or a certificate file that cannot be read.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd()
  if (options.path == null) return resolveConfig(configFileSchema.parse({}), null, cwd)

  const file = path.resolve(cwd, options.path)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigError('config', `cannot read "${file}": ${describeFsError(error)}`)
  }
  let raw: unknown
  try {
    raw = parseToml(text)
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split('\n')[0] ?? 'invalid TOML'
      throw new ConfigError('config', `"${file}" line ${error.line}: ${reason}`)
    }
    throw error
  }
  const parsed = configFileSchema.safeParse(raw, { reportInput: true })
  if (!parsed.success) throw issueToError(parsed.error.issues[0])
  return resolveConfig(parsed.data, file, path.dirname(file))
}

function resolveConfig(file: ConfigFile, configPath: string | null, baseDir: string): Config {
  const listen: Partial<Record<ListenerName, HostPort>> = {}
  if (file.listen === undefined) {
    // No [listen] table at all: the default listeners. A [listen] table names exactly the ones
    // that run, so omitting a key there disables that listener (DESIGN.md).
    for (const name of LISTENER_NAMES) {
      const parsed = parseHostPort(DEFAULT_LISTEN[name])
      if (typeof parsed !== 'string') listen[name] = parsed
    }
  } else {
    for (const name of LISTENER_NAMES) {
      const address = file.listen[name]
      if (address === undefined) continue
      for (const [otherName, other] of Object.entries(listen)) {
        // A wildcard (0.0.0.0, and :: which Linux binds dual-stack) takes the port on every address.
        if (isSameBinding(address, other)) {
          const text = formatHostPort(address)
          const otherText = formatHostPort(other)
          const shown = text === otherText ? '' : ` ("${otherText}")`
          throw new ConfigError(
            `listen.${name}`,
            `"${text}" is already used by listen.${otherName}${shown}`,
          )
        }
      }
      listen[name] = address
    }
  }

  let tls: Config['tls'] = null
  if (file.tls !== undefined) {
    tls = {
      certPath: readablePath('tls.cert', path.resolve(baseDir, file.tls.cert)),
      keyPath: readablePath('tls.key', path.resolve(baseDir, file.tls.key)),
    }
  }

  return {
    path: configPath,
    hostname: file.hostname.toLowerCase(),
    dataDir: path.resolve(baseDir, file.data_dir),
    shutdownGraceMs: file.shutdown_grace_ms,
    listen,
    tls,
    store:
      file.store.backend === 'postgres'
        ? { backend: 'postgres', url: file.store.url ?? '' }
        : { backend: 'sqlite' },
    directory: { subaddressSeparator: file.directory.subaddress_separator || null },
    smtp: {
      maxMessageSize: file.smtp.max_message_size,
      maxRecipients: file.smtp.max_recipients,
      maxErrors: file.smtp.max_errors,
      maxCommands: file.smtp.max_commands,
      timeoutMs: file.smtp.timeout_ms,
      vrfy: file.smtp.vrfy,
    },
    auth: {
      maxAccountFailures: file.auth.max_account_failures,
      maxIpFailures: file.auth.max_ip_failures,
      lockoutMs: file.auth.lockout_ms,
    },
    imap: {
      timeoutMs: file.imap.timeout_ms,
      maxErrors: file.imap.max_errors,
      maxCommands: file.imap.max_commands,
      allowPlaintext: file.imap.allow_plaintext,
    },
    pop3: {
      timeoutMs: file.pop3.timeout_ms,
      maxErrors: file.pop3.max_errors,
      maxCommands: file.pop3.max_commands,
      allowPlaintext: file.pop3.allow_plaintext,
      apop: file.pop3.apop,
      loginDelayMs: file.pop3.login_delay_s === undefined ? null : file.pop3.login_delay_s * 1000,
      expire: file.pop3.expire ?? null,
    },
    queue: {
      retryMinMs: file.queue.retry_min_ms,
      retryMaxMs: file.queue.retry_max_ms,
      lifetimeMs: file.queue.lifetime_ms,
      delayWarningMs: file.queue.delay_warning_ms,
      maxConnections: file.queue.max_connections,
      maxPerDomain: file.queue.max_per_domain,
      leaseMs: file.queue.lease_ms,
      pollMs: file.queue.poll_ms,
    },
    relay: relayConfig(file.relay, baseDir),
    dns: { servers: file.dns.servers, timeoutMs: file.dns.timeout_ms, tries: file.dns.tries },
    mailauth: mailauthConfig(file.mailauth),
    mtaSts: {
      enforceOutbound: file.mta_sts.enforce_outbound,
      httpsPort: file.mta_sts.https_port,
      caFile:
        file.mta_sts.ca_file === undefined
          ? null
          : readablePath('mta_sts.ca_file', path.resolve(baseDir, file.mta_sts.ca_file)),
      fetchTimeoutMs: file.mta_sts.fetch_timeout_ms,
      mode: file.mta_sts.mode,
      mx: file.mta_sts.mx.length > 0 ? file.mta_sts.mx : [file.hostname.toLowerCase()],
      maxAgeS: file.mta_sts.max_age_s,
    },
    log: { level: file.log.level, format: file.log.format },
    limits: {
      maxConnections: file.limits.max_connections,
      maxConnectionsPerIp: file.limits.max_connections_per_ip,
    },
  }
}

function mailauthConfig(section: ConfigFile['mailauth']): Config['mailauth'] {
  const base = {
    dmarcReject: section.dmarc_reject,
    dmarcQuarantine: section.dmarc_quarantine,
    spfFail: section.spf_fail,
  }
  const domains: Config['mailauth']['domains'] = {}
  for (const [name, policy] of Object.entries(section.domains)) {
    domains[name.toLowerCase()] = {
      dmarcReject: policy.dmarc_reject ?? base.dmarcReject,
      dmarcQuarantine: policy.dmarc_quarantine ?? base.dmarcQuarantine,
      spfFail: policy.spf_fail ?? base.spfFail,
    }
  }
  return { verify: section.verify, sign: section.sign, arcSeal: section.arc_seal, ...base, domains }
}

function relayConfig(relay: ConfigFile['relay'], baseDir: string): Config['relay'] {
  const smart = relay.smart_host
  return {
    port: relay.port,
    connectTimeoutMs: relay.connect_timeout_ms,
    sourceAddress: relay.source_address ?? null,
    commandTimeoutMs: relay.command_timeout_ms ?? null,
    smartHost:
      smart === undefined
        ? null
        : {
            address: smart.address,
            tls: smart.tls,
            verifyCertificate: smart.verify_certificate,
            caFile:
              smart.ca_file === undefined
                ? null
                : readablePath('relay.smart_host.ca_file', path.resolve(baseDir, smart.ca_file)),
            credentials:
              smart.username === undefined || smart.password === undefined
                ? null
                : { username: smart.username, password: smart.password },
          },
  }
}

function readablePath(key: string, file: string): string {
  try {
    accessSync(file, constants.R_OK)
  } catch (error) {
    throw new ConfigError(key, `cannot read "${file}": ${describeFsError(error)}`)
  }
  if (!statSync(file).isFile()) throw new ConfigError(key, `"${file}" is not a file`)
  return file
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES') return 'permission denied'
  if (code === 'EISDIR') return 'is a directory'
  return code ?? String(error)
}

function issueToError(issue: z.core.$ZodIssue | undefined): ConfigError {
  if (issue === undefined) return new ConfigError('config', 'invalid')
  const key = issue.path.map(String).join('.')
  if (issue.code === 'unrecognized_keys') {
    const unknown = issue.keys[0] ?? ''
    return new ConfigError(key === '' ? unknown : `${key}.${unknown}`, 'unknown key')
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return new ConfigError(key, 'is required')
  }
  let problem = issue.message
  if (issue.code === 'invalid_type') problem = `must be ${article(issue.expected)}`
  if (issue.code === 'invalid_value') {
    problem = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
  }
  return new ConfigError(key === '' ? 'config' : key, problem)
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer'
  if (expected === 'object') return 'a table'
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`
}
