// The user's config for `postern sendmail` and `postern fetch`: a TOML file of the user's own
// (--config, else $POSTERN_CLIENT_CONFIG, else $XDG_CONFIG_HOME/postern/client.toml), with
// environment variables over it. A file or password file that holds a password must be the
// user's own and readable by nobody else (mode 600), as ssh insists for its keys: otherwise it
// is refused with a message that says how to fix it.
import { readFileSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parse as parseToml, TomlError } from 'smol-toml'
import { z } from 'zod'

export class ClientConfigError extends Error {}

export type Security = 'tls' | 'starttls' | 'none'

export interface ServerSettings {
  host: string
  port: number
  security: Security
  user: string | null
  password: string | null
  /** PEM CA certificates to trust instead of the system's (a private CA, a test). */
  ca: Buffer | null
  timeoutMs: number
}

export interface SubmissionSettings extends ServerSettings {
  /** The envelope sender when -f is not given. */
  from: string | null
  helo: string
  spoolDir: string
  qualifyDomain: string | null
  /** Longest wait between two attempts of a spooled message. */
  retryMaxMs: number
  /** How long a spooled message is tried before it is set aside as failed. */
  lifetimeMs: number
}

export interface FetchSettings extends ServerSettings {
  protocol: 'imap' | 'pop3'
  mailbox: string
  maildir: string | null
  mbox: string | null
  isKeep: boolean
  stateDir: string
}

const security = z.enum(['tls', 'starttls', 'none'])
const server = {
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  security: security.optional(),
  user: z.string().optional(),
  password: z.string().optional(),
  password_file: z.string().optional(),
  ca_file: z.string().optional(),
  timeout_ms: z.number().int().min(1000).optional(),
}
const fileSchema = z.strictObject({
  submission: z
    .strictObject({
      ...server,
      from: z.string().optional(),
      helo: z.string().min(1).optional(),
      spool: z.string().optional(),
      qualify_domain: z.string().optional(),
      retry_max_ms: z.number().int().min(1000).optional(),
      lifetime_ms: z.number().int().min(60_000).optional(),
    })
    .optional(),
  fetch: z
    .strictObject({
      ...server,
      protocol: z.enum(['imap', 'pop3']).optional(),
      mailbox: z.string().min(1).optional(),
      maildir: z.string().optional(),
      mbox: z.string().optional(),
      keep: z.boolean().optional(),
      state_dir: z.string().optional(),
    })
    .optional(),
})
type ClientFile = z.infer<typeof fileSchema>

const DEFAULT_TIMEOUT_MS = 60_000

/** Where the config file is looked for when --config is not given. */
export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  if (env.POSTERN_CLIENT_CONFIG) return env.POSTERN_CLIENT_CONFIG
  return path.join(configHome(env), 'postern', 'client.toml')
}

interface LoadedFile {
  file: ClientFile
  path: string | null
}

/** Reads the file (a missing default file is an empty config; a missing named one an error). */
export function readClientFile(explicitPath: string | null, env: NodeJS.ProcessEnv): LoadedFile {
  const file = explicitPath ?? defaultConfigPath(env)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && explicitPath === null) {
      return { file: {}, path: null }
    }
    throw new ClientConfigError(`cannot read ${file}: ${(error as Error).message}`)
  }
  let raw: unknown
  try {
    raw = parseToml(text)
  } catch (error) {
    if (error instanceof TomlError) {
      throw new ClientConfigError(`${file} line ${error.line}: ${error.message.split('\n')[0]}`)
    }
    throw error
  }
  const parsed = fileSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ClientConfigError(`${file}: ${issue?.path.join('.') || 'config'}: ${issue?.message}`)
  }
  const hasPassword =
    parsed.data.submission?.password !== undefined || parsed.data.fetch?.password !== undefined
  if (hasPassword) checkPrivate(file, 'it holds a password')
  return { file: parsed.data, path: file }
}

/** The submission server and the spool, from the file with POSTERN_SUBMISSION_* over it. */
export function submissionSettings(loaded: LoadedFile, env: NodeJS.ProcessEnv): SubmissionSettings {
  const section = loaded.file.submission ?? {}
  const base = serverSettings('submission', section, env, loaded.path, {
    tls: 465,
    starttls: 587,
    none: 25,
  })
  return {
    ...base,
    from: env.POSTERN_SUBMISSION_FROM ?? section.from ?? null,
    helo: section.helo ?? os.hostname(),
    spoolDir: expandHome(
      env.POSTERN_SPOOL ?? section.spool ?? path.join(dataHome(env), 'postern', 'spool'),
      env,
    ),
    qualifyDomain: section.qualify_domain ?? null,
    retryMaxMs: section.retry_max_ms ?? 60 * 60_000,
    lifetimeMs: section.lifetime_ms ?? 5 * 24 * 60 * 60_000,
  }
}

/** Only the spool directory: --queue and --flush's listing need no server settings. */
export function spoolDirectory(loaded: LoadedFile, env: NodeJS.ProcessEnv): string {
  const section = loaded.file.submission ?? {}
  return expandHome(
    env.POSTERN_SPOOL ?? section.spool ?? path.join(dataHome(env), 'postern', 'spool'),
    env,
  )
}

/** The fetch account, from the file with POSTERN_FETCH_* over it (the CLI's flags go on top). */
export function fetchSettings(
  loaded: LoadedFile,
  env: NodeJS.ProcessEnv,
  overrides: Partial<Record<string, string | number | boolean>>,
): FetchSettings {
  const section = { ...(loaded.file.fetch ?? {}), ...definedOnly(overrides) }
  const protocol = (section.protocol ?? 'imap') as 'imap' | 'pop3'
  const ports =
    protocol === 'imap'
      ? { tls: 993, starttls: 143, none: 143 }
      : { tls: 995, starttls: 110, none: 110 }
  const base = serverSettings('fetch', section, env, loaded.path, ports)
  const maildir = section.maildir === undefined ? null : expandHome(String(section.maildir), env)
  const mbox = section.mbox === undefined ? null : expandHome(String(section.mbox), env)
  if (maildir !== null && mbox !== null) {
    throw new ClientConfigError('give either a maildir or an mbox, not both')
  }
  return {
    ...base,
    protocol,
    mailbox: String(section.mailbox ?? 'INBOX'),
    maildir: maildir ?? (mbox === null ? expandHome('~/Maildir', env) : null),
    mbox,
    isKeep: section.keep === true,
    stateDir: expandHome(
      String(section.state_dir ?? path.join(stateHome(env), 'postern', 'fetch')),
      env,
    ),
  }
}

type ServerSection = {
  host?: string
  port?: number
  security?: Security
  user?: string
  password?: string
  password_file?: string
  ca_file?: string
  timeout_ms?: number
}

function serverSettings(
  name: 'submission' | 'fetch',
  section: ServerSection,
  env: NodeJS.ProcessEnv,
  configPath: string | null,
  ports: Record<Security, number>,
): ServerSettings {
  const prefix = `POSTERN_${name.toUpperCase()}_`
  const host = env[`${prefix}HOST`] ?? section.host
  if (host === undefined) {
    throw new ClientConfigError(
      `no ${name} server: set host in the [${name}] section of ${configPath ?? defaultConfigPath(env)} or ${prefix}HOST`,
    )
  }
  const securityText = env[`${prefix}SECURITY`] ?? section.security ?? 'tls'
  const parsedSecurity = security.safeParse(securityText)
  if (!parsedSecurity.success) {
    throw new ClientConfigError(`${prefix}SECURITY must be tls, starttls or none`)
  }
  const chosen = parsedSecurity.data
  const portText = env[`${prefix}PORT`]
  const port = portText === undefined ? (section.port ?? ports[chosen]) : Number(portText)
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ClientConfigError(`${prefix}PORT must be a port number`)
  }
  let password = env[`${prefix}PASSWORD`] ?? section.password ?? null
  if (password === null && section.password_file !== undefined) {
    const file = expandHome(section.password_file, env)
    checkPrivate(file, 'it is a password file')
    try {
      password = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
    } catch (error) {
      throw new ClientConfigError(`cannot read ${file}: ${(error as Error).message}`)
    }
  }
  let ca: Buffer | null = null
  if (section.ca_file !== undefined) {
    const file = expandHome(section.ca_file, env)
    try {
      ca = readFileSync(file)
    } catch (error) {
      throw new ClientConfigError(`cannot read ca_file ${file}: ${(error as Error).message}`)
    }
  }
  return {
    host,
    port,
    security: chosen,
    user: env[`${prefix}USER`] ?? section.user ?? null,
    password,
    ca,
    timeoutMs: section.timeout_ms ?? DEFAULT_TIMEOUT_MS,
  }
}

/** Refuses a file that others can read, or that is not the user's own. */
function checkPrivate(file: string, why: string): void {
  const stat = statSync(file)
  const uid = process.getuid?.()
  if (uid !== undefined && stat.uid !== uid) {
    throw new ClientConfigError(`${file} belongs to another user (uid ${stat.uid}); ${why}`)
  }
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8)
    throw new ClientConfigError(
      `${file} can be read by others (mode ${mode}) and ${why}: run chmod 600 ${file}`,
    )
  }
}

function definedOnly<T extends object>(record: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(record).filter(([, value]) => value !== undefined),
  ) as Partial<T>
}

function home(env: NodeJS.ProcessEnv): string {
  return env.HOME ?? os.homedir()
}

function configHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_CONFIG_HOME || path.join(home(env), '.config')
}

function dataHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_DATA_HOME || path.join(home(env), '.local', 'share')
}

function stateHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_STATE_HOME || path.join(home(env), '.local', 'state')
}

/** "~/x" → the home directory's x. */
export function expandHome(file: string, env: NodeJS.ProcessEnv): string {
  if (file === '~') return home(env)
  if (file.startsWith('~/')) return path.join(home(env), file.slice(2))
  return file
}
