import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { ConfigError } from './config-error.ts'
import { loadConfig } from './load.ts'
import type { Config } from './schema.ts'

/** DESIGN.md "Operator interface": loopback only, high ports. */
const DEFAULT_LISTEN: Config['listen'] = {
  smtp: { host: '127.0.0.1', port: 2525 },
  submission: { host: '127.0.0.1', port: 2587 },
  submissions: { host: '127.0.0.1', port: 2465 },
  imap: { host: '127.0.0.1', port: 2143 },
  imaps: { host: '127.0.0.1', port: 2993 },
  pop3: { host: '127.0.0.1', port: 2110 },
  pop3s: { host: '127.0.0.1', port: 2995 },
  admin: { host: '127.0.0.1', port: 2080 },
}

/** Writes `postern.toml` (or `name`) with `toml` in a fresh temp dir and returns its absolute path. */
function writeConfig(t: TestContext, toml: string, name = 'postern.toml'): string {
  const file = path.join(makeTempDir(t), name)
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(file, toml)
  return file
}

/** The ConfigError that `load` throws; fails the test when it throws something else or nothing. */
function configError(load: () => unknown): ConfigError {
  try {
    load()
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`)
    assert.equal(error.name, 'ConfigError')
    assert.doesNotMatch(error.message, /[\r\n]/, 'the message must be one line')
    assert.equal(error.message, `${error.key}: ${error.problem}`)
    return error
  }
  assert.fail('expected a ConfigError, but the config loaded')
}

/** Loads `toml` from a file and returns the ConfigError it must raise. */
function fileError(t: TestContext, toml: string): ConfigError {
  const file = writeConfig(t, toml)
  return configError(() => loadConfig({ path: file }))
}

test('loadConfig without a path returns the embedded default', (t) => {
  const cwd = makeTempDir(t)
  const config = loadConfig({ cwd })
  assert.deepEqual(config, {
    path: null,
    hostname: 'localhost',
    dataDir: path.join(cwd, 'data'),
    shutdownGraceMs: 3000,
    listen: DEFAULT_LISTEN,
    tls: null,
    store: { backend: 'sqlite' },
    directory: { subaddressSeparator: '+' },
    smtp: {
      maxMessageSize: 26_214_400,
      maxRecipients: 100,
      maxErrors: 20,
      maxCommands: 10_000,
      timeoutMs: 300_000,
      vrfy: false,
    },
    auth: { maxAccountFailures: 10, maxIpFailures: 30, lockoutMs: 900_000 },
    imap: {
      timeoutMs: 1_800_000,
      maxErrors: 20,
      maxCommands: 10_000_000,
      allowPlaintext: 'loopback',
    },
    pop3: {
      timeoutMs: 600_000,
      maxErrors: 20,
      maxCommands: 1_000_000,
      allowPlaintext: 'loopback',
      apop: false,
      loginDelayMs: null,
      expire: null,
    },
    queue: {
      retryMinMs: 300_000,
      retryMaxMs: 14_400_000,
      lifetimeMs: 432_000_000,
      delayWarningMs: 14_400_000,
      maxConnections: 100,
      maxPerDomain: 20,
      leaseMs: 600_000,
      pollMs: 1000,
    },
    relay: {
      port: 25,
      connectTimeoutMs: 30_000,
      sourceAddress: null,
      commandTimeoutMs: null,
      smartHost: null,
    },
    dns: { servers: [], timeoutMs: 5000, tries: 2 },
    mailauth: {
      verify: true,
      sign: true,
      arcSeal: true,
      dmarcReject: 'reject',
      dmarcQuarantine: 'quarantine',
      spfFail: 'none',
      domains: {},
    },
    mtaSts: {
      enforceOutbound: true,
      httpsPort: 443,
      caFile: null,
      fetchTimeoutMs: 10_000,
      mode: 'none',
      mx: ['localhost'],
      maxAgeS: 604_800,
    },
    log: { level: 'info', format: 'auto' },
    limits: { maxConnections: 4000, maxConnectionsPerIp: 50 },
  } satisfies Config)
})

test('[imap] keys set the IMAP policy, and bad values name their key', (t) => {
  const file = writeConfig(
    t,
    '[imap]\ntimeout_ms = 120000\nmax_errors = 5\nmax_commands = 100\nallow_plaintext = "never"\n',
  )
  assert.deepEqual(loadConfig({ path: file }).imap, {
    timeoutMs: 120_000,
    maxErrors: 5,
    maxCommands: 100,
    allowPlaintext: 'never',
  })
  assert.throws(
    () => loadConfig({ path: writeConfig(t, '[imap]\ntimeout_ms = 1000\n') }),
    /imap\.timeout_ms/,
  )
  assert.throws(
    () => loadConfig({ path: writeConfig(t, '[imap]\nallow_plaintext = "sometimes"\n') }),
    /imap\.allow_plaintext/,
  )
})

test('[pop3] keys set the POP3 policy, and bad values name their key', (t) => {
  const file = writeConfig(
    t,
    '[pop3]\ntimeout_ms = 900000\nmax_errors = 5\nmax_commands = 100\nallow_plaintext = "always"\napop = true\nlogin_delay_s = 300\nexpire = 0\n',
  )
  assert.deepEqual(loadConfig({ path: file }).pop3, {
    timeoutMs: 900_000,
    maxErrors: 5,
    maxCommands: 100,
    allowPlaintext: 'always',
    apop: true,
    loginDelayMs: 300_000,
    expire: 0,
  })
  assert.equal(
    loadConfig({ path: writeConfig(t, '[pop3]\nexpire = "never"\n') }).pop3.expire,
    'never',
  )
  // RFC 1939 §3: the idle timer may not be shorter than ten minutes.
  assert.throws(
    () => loadConfig({ path: writeConfig(t, '[pop3]\ntimeout_ms = 60000\n') }),
    /pop3\.timeout_ms/,
  )
  assert.throws(() => loadConfig({ path: writeConfig(t, '[pop3]\nexpire = 7\n') }), /pop3\.expire/)
})

test('[smtp] keys set the SMTP policy, and bad values name their key', (t) => {
  const file = writeConfig(
    t,
    '[smtp]\nmax_message_size = 1048576\nmax_recipients = 5\nmax_errors = 3\nmax_commands = 50\ntimeout_ms = 2000\nvrfy = true\n',
  )
  assert.deepEqual(loadConfig({ path: file }).smtp, {
    maxMessageSize: 1_048_576,
    maxRecipients: 5,
    maxErrors: 3,
    maxCommands: 50,
    timeoutMs: 2000,
    vrfy: true,
  })
  assert.equal(fileError(t, '[smtp]\nmax_message_size = 100\n').key, 'smtp.max_message_size')
  assert.equal(fileError(t, '[smtp]\nmax_recipients = 0\n').key, 'smtp.max_recipients')
  assert.equal(fileError(t, '[smtp]\nvrfy = "yes"\n').key, 'smtp.vrfy')
  assert.equal(fileError(t, '[smtp]\nrelay = true\n').key, 'smtp.relay')
})

test('[queue] and [relay] keys are checked and name their key', (t) => {
  assert.equal(fileError(t, '[queue]\nretry_min_ms = 10\n').key, 'queue.retry_min_ms')
  assert.equal(
    fileError(t, '[queue]\nretry_min_ms = 600000\nretry_max_ms = 60000\n').key,
    'queue.retry_max_ms',
  )
  assert.equal(fileError(t, '[queue]\nmax_per_domain = 0\n').key, 'queue.max_per_domain')
  assert.equal(fileError(t, '[relay]\nport = 0\n').key, 'relay.port')
  assert.equal(
    fileError(t, '[relay.smart_host]\naddress = "a.example:99999"\n').key,
    'relay.smart_host.address',
  )
  assert.equal(
    fileError(t, '[relay.smart_host]\naddress = "a.example"\ntls = "none"\n').key,
    'relay.smart_host.tls',
  )
  assert.equal(
    fileError(t, '[relay.smart_host]\naddress = "a.example"\nusername = "u"\n').key,
    'relay.smart_host',
  )
  assert.equal(
    fileError(t, '[relay.smart_host]\naddress = "a.example"\nca_file = "missing.pem"\n').key,
    'relay.smart_host.ca_file',
  )
  const file = writeConfig(t, '[relay.smart_host]\naddress = "[192.0.2.25]:465"\n')
  assert.deepEqual(loadConfig({ path: file }).relay.smartHost, {
    address: { host: '192.0.2.25', port: 465 },
    tls: 'starttls',
    verifyCertificate: true,
    caFile: null,
    credentials: null,
  })
})

test('loadConfig without options puts the data dir in the process working directory', () => {
  const config = loadConfig()
  assert.equal(config.path, null)
  assert.ok(path.isAbsolute(config.dataDir), config.dataDir)
  assert.equal(config.dataDir, path.resolve(process.cwd(), 'data'))
  assert.deepEqual(config.listen, DEFAULT_LISTEN)
  assert.deepEqual(loadConfig({ path: null }), config)
})

test('loadConfig resolves a relative cwd to an absolute data dir', () => {
  const config = loadConfig({ cwd: 'some/where' })
  assert.equal(config.dataDir, path.resolve(process.cwd(), 'some/where/data'))
})

test('loadConfig reads every documented key from a file', (t) => {
  const file = writeConfig(
    t,
    `
hostname = "mail.example.test"
data_dir = "/var/lib/postern"
shutdown_grace_ms = 12000

[listen]
smtp        = "0.0.0.0:25"
submission  = "0.0.0.0:587"
submissions = "0.0.0.0:465"
imap        = "[::]:143"
imaps       = "[::]:993"
pop3        = "192.0.2.1:110"
pop3s       = "[2001:db8::1]:995"
admin       = "127.0.0.1:8080"

[tls]
cert = "cert.pem"
key  = "key.pem"

[store]
backend = "sqlite"

[directory]
subaddress_separator = "-"

[queue]
retry_min_ms = 60000
retry_max_ms = 3600000
lifetime_ms = 86400000
delay_warning_ms = 0
max_connections = 10
max_per_domain = 2
lease_ms = 120000
poll_ms = 500

[relay]
port = 2525
connect_timeout_ms = 5000
source_address = "127.0.0.9"
command_timeout_ms = 10000

[relay.smart_host]
address = "smtp.example.net"
tls = "implicit"
verify_certificate = false
ca_file = "cert.pem"
username = "relay-user"
password = "relay-secret"

[dns]
servers = ["127.0.0.1:10053", "192.0.2.53", "[::1]", "[2001:db8::53]:5353"]

[log]
level  = "debug"
format = "json"

[limits]
max_connections        = 100
max_connections_per_ip = 7
`,
  )
  const dir = path.dirname(file)
  writeFileSync(path.join(dir, 'cert.pem'), 'cert')
  writeFileSync(path.join(dir, 'key.pem'), 'key')

  assert.deepEqual(loadConfig({ path: file }), {
    path: file,
    hostname: 'mail.example.test',
    dataDir: '/var/lib/postern',
    shutdownGraceMs: 12000,
    listen: {
      smtp: { host: '0.0.0.0', port: 25 },
      submission: { host: '0.0.0.0', port: 587 },
      submissions: { host: '0.0.0.0', port: 465 },
      imap: { host: '::', port: 143 },
      imaps: { host: '::', port: 993 },
      pop3: { host: '192.0.2.1', port: 110 },
      pop3s: { host: '2001:db8::1', port: 995 },
      admin: { host: '127.0.0.1', port: 8080 },
    },
    tls: { certPath: path.join(dir, 'cert.pem'), keyPath: path.join(dir, 'key.pem') },
    store: { backend: 'sqlite' },
    directory: { subaddressSeparator: '-' },
    smtp: {
      maxMessageSize: 26_214_400,
      maxRecipients: 100,
      maxErrors: 20,
      maxCommands: 10_000,
      timeoutMs: 300_000,
      vrfy: false,
    },
    auth: { maxAccountFailures: 10, maxIpFailures: 30, lockoutMs: 900_000 },
    imap: {
      timeoutMs: 1_800_000,
      maxErrors: 20,
      maxCommands: 10_000_000,
      allowPlaintext: 'loopback',
    },
    pop3: {
      timeoutMs: 600_000,
      maxErrors: 20,
      maxCommands: 1_000_000,
      allowPlaintext: 'loopback',
      apop: false,
      loginDelayMs: null,
      expire: null,
    },
    queue: {
      retryMinMs: 60_000,
      retryMaxMs: 3_600_000,
      lifetimeMs: 86_400_000,
      delayWarningMs: 0,
      maxConnections: 10,
      maxPerDomain: 2,
      leaseMs: 120_000,
      pollMs: 500,
    },
    relay: {
      port: 2525,
      connectTimeoutMs: 5000,
      sourceAddress: '127.0.0.9',
      commandTimeoutMs: 10_000,
      smartHost: {
        address: { host: 'smtp.example.net', port: 587 },
        tls: 'implicit',
        verifyCertificate: false,
        caFile: path.join(dir, 'cert.pem'),
        credentials: { username: 'relay-user', password: 'relay-secret' },
      },
    },
    dns: {
      servers: [
        { host: '127.0.0.1', port: 10053 },
        { host: '192.0.2.53', port: 53 },
        { host: '::1', port: 53 },
        { host: '2001:db8::53', port: 5353 },
      ],
      timeoutMs: 5000,
      tries: 2,
    },
    mailauth: {
      verify: true,
      sign: true,
      arcSeal: true,
      dmarcReject: 'reject',
      dmarcQuarantine: 'quarantine',
      spfFail: 'none',
      domains: {},
    },
    mtaSts: {
      enforceOutbound: true,
      httpsPort: 443,
      caFile: null,
      fetchTimeoutMs: 10_000,
      mode: 'none',
      mx: ['mail.example.test'],
      maxAgeS: 604_800,
    },
    log: { level: 'debug', format: 'json' },
    limits: { maxConnections: 100, maxConnectionsPerIp: 7 },
  } satisfies Config)
})

test('loadConfig fills the keys a file leaves out with the defaults', (t) => {
  const file = writeConfig(t, 'hostname = "mx.example.test"\n')
  const config = loadConfig({ path: file })
  assert.equal(config.hostname, 'mx.example.test')
  assert.equal(config.dataDir, path.join(path.dirname(file), 'data'))
  assert.equal(config.shutdownGraceMs, 3000)
  assert.equal(config.tls, null)
  assert.deepEqual(config.store, { backend: 'sqlite' })
  assert.deepEqual(config.dns, { servers: [], timeoutMs: 5000, tries: 2 })
  assert.deepEqual(config.log, { level: 'info', format: 'auto' })
  assert.deepEqual(config.limits, { maxConnections: 4000, maxConnectionsPerIp: 50 })
})

test('loadConfig reads an empty file as the default, data dir beside the file', (t) => {
  const file = writeConfig(t, '')
  const config = loadConfig({ path: file })
  assert.equal(config.path, file)
  assert.equal(config.hostname, 'localhost')
  assert.equal(config.dataDir, path.join(path.dirname(file), 'data'))
  assert.deepEqual(config.listen, DEFAULT_LISTEN)
})

test('loadConfig accepts each log level and format', (t) => {
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) {
    for (const format of ['auto', 'json', 'pretty'] as const) {
      const file = writeConfig(t, `[log]\nlevel = "${level}"\nformat = "${format}"\n`)
      assert.deepEqual(loadConfig({ path: file }).log, { level, format })
    }
  }
})

test('loadConfig resolves relative data_dir and tls paths against the config file, not the cwd', (t) => {
  const root = makeTempDir(t)
  const etc = path.join(root, 'etc')
  mkdirSync(path.join(etc, 'tls'), { recursive: true })
  writeFileSync(path.join(etc, 'tls', 'cert.pem'), 'cert')
  writeFileSync(path.join(etc, 'tls', 'key.pem'), 'key')
  writeFileSync(
    path.join(etc, 'postern.toml'),
    'data_dir = "../var/mail"\n[tls]\ncert = "tls/cert.pem"\nkey = "./tls/key.pem"\n',
  )
  // cwd is `root`, the file is in `root/etc`: relative paths in the file follow the file.
  const config = loadConfig({ path: 'etc/postern.toml', cwd: root })
  assert.equal(config.path, path.join(etc, 'postern.toml'))
  assert.equal(config.dataDir, path.join(root, 'var', 'mail'))
  assert.deepEqual(config.tls, {
    certPath: path.join(etc, 'tls', 'cert.pem'),
    keyPath: path.join(etc, 'tls', 'key.pem'),
  })
})

test('loadConfig keeps absolute tls paths as they are', (t) => {
  const pemDir = makeTempDir(t)
  const certPath = path.join(pemDir, 'fullchain.pem')
  const keyPath = path.join(pemDir, 'privkey.pem')
  writeFileSync(certPath, 'cert')
  writeFileSync(keyPath, 'key')
  const file = writeConfig(t, `[tls]\ncert = "${certPath}"\nkey = "${keyPath}"\n`)
  assert.deepEqual(loadConfig({ path: file }).tls, { certPath, keyPath })
})

test('loadConfig runs only the listeners a [listen] table names', (t) => {
  const file = writeConfig(t, '[listen]\nsmtp = "127.0.0.1:2525"\nimap = "[::1]:2143"\n')
  const config = loadConfig({ path: file })
  assert.deepEqual(config.listen, {
    smtp: { host: '127.0.0.1', port: 2525 },
    imap: { host: '::1', port: 2143 },
  })
  assert.deepEqual(Object.keys(config.listen).sort(), ['imap', 'smtp'])
})

test('loadConfig runs no listener for an empty [listen] table', (t) => {
  const file = writeConfig(t, '[listen]\n')
  assert.deepEqual(loadConfig({ path: file }).listen, {})
})

test('loadConfig runs the default listeners when the file has no [listen] table', (t) => {
  const file = writeConfig(t, 'hostname = "mail.example.test"\n[log]\nlevel = "warn"\n')
  assert.deepEqual(loadConfig({ path: file }).listen, DEFAULT_LISTEN)
})

test('loadConfig lower-cases the hostname', (t) => {
  const file = writeConfig(t, 'hostname = "Mail.Example.TEST"\n')
  assert.equal(loadConfig({ path: file }).hostname, 'mail.example.test')
})

test('loadConfig accepts host names at the RFC 1123 limits', (t) => {
  const label63 = 'a'.repeat(63)
  // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 octets.
  const longest = `${label63}.${label63}.${label63}.${'b'.repeat(61)}`
  for (const hostname of ['localhost', 'mx1', '1mail.example', 'a-b.example', label63, longest]) {
    const file = writeConfig(t, `hostname = "${hostname}"\n`)
    assert.equal(loadConfig({ path: file }).hostname, hostname)
  }
})

test('loadConfig refuses an unknown top-level key', (t) => {
  const error = fileError(t, 'hostname = "mail.example.test"\nbogus = 1\n')
  assert.equal(error.key, 'bogus')
  assert.equal(error.message, 'bogus: unknown key')
})

test('loadConfig refuses an unknown key in a table with its dotted name', (t) => {
  const listen = fileError(t, '[listen]\nsmpt = "127.0.0.1:2525"\n')
  assert.equal(listen.key, 'listen.smpt')
  assert.equal(listen.message, 'listen.smpt: unknown key')

  assert.equal(fileError(t, '[store]\nuri = "postgres://x"\n').key, 'store.uri')
  assert.equal(fileError(t, '[limits]\nmax_conn = 1\n').key, 'limits.max_conn')
  assert.equal(fileError(t, '[unknown_table]\nx = 1\n').key, 'unknown_table')
})

test('loadConfig refuses a listener address that is a host name', (t) => {
  const error = fileError(t, '[listen]\nsmtp = "localhost"\n')
  assert.equal(error.key, 'listen.smtp')
  assert.equal(
    error.message,
    'listen.smtp: "localhost" is not an address (expected IP:PORT such as 127.0.0.1:2525)',
  )
})

test('loadConfig refuses a listener address without a port or with a bad port', (t) => {
  const noPort = fileError(t, '[listen]\nimaps = "127.0.0.1"\n')
  assert.equal(noPort.key, 'listen.imaps')
  assert.match(noPort.problem, /has no port/)

  const zero = fileError(t, '[listen]\nadmin = "127.0.0.1:0"\n')
  assert.equal(zero.key, 'listen.admin')
  assert.match(zero.problem, /outside 1-65535/)
})

test('loadConfig refuses a value of the wrong type', (t) => {
  const quoted = fileError(t, '[limits]\nmax_connections = "10"\n')
  assert.equal(quoted.key, 'limits.max_connections')
  assert.match(quoted.problem, /^must be (a number|an integer)$/)

  const fraction = fileError(t, '[limits]\nmax_connections = 1.5\n')
  assert.equal(fraction.key, 'limits.max_connections')
  assert.equal(fraction.problem, 'must be an integer')

  const hostname = fileError(t, 'hostname = 3\n')
  assert.equal(hostname.key, 'hostname')
  assert.equal(hostname.message, 'hostname: must be a string')

  const listen = fileError(t, 'listen = "127.0.0.1:25"\n')
  assert.equal(listen.key, 'listen')
  assert.equal(listen.problem, 'must be a table')

  const servers = fileError(t, '[dns]\nservers = "127.0.0.1"\n')
  assert.equal(servers.key, 'dns.servers')
  assert.equal(servers.problem, 'must be an array')

  const address = fileError(t, '[listen]\nsmtp = 2525\n')
  assert.equal(address.key, 'listen.smtp')
  assert.equal(address.problem, 'must be a string')
})

test('loadConfig refuses numbers outside their range', (t) => {
  for (const [toml, key] of [
    ['shutdown_grace_ms = -1', 'shutdown_grace_ms'],
    ['shutdown_grace_ms = 600001', 'shutdown_grace_ms'],
    ['[limits]\nmax_connections = 0', 'limits.max_connections'],
    ['[limits]\nmax_connections_per_ip = 0', 'limits.max_connections_per_ip'],
    ['[limits]\nmax_connections_per_ip = 100001', 'limits.max_connections_per_ip'],
  ] as const) {
    assert.equal(fileError(t, `${toml}\n`).key, key, toml)
  }
})

test('loadConfig refuses a value outside an enum and lists the allowed ones', (t) => {
  const level = fileError(t, '[log]\nlevel = "loud"\n')
  assert.equal(level.key, 'log.level')
  assert.equal(level.problem, 'must be one of "trace", "debug", "info", "warn", "error", "fatal"')

  const backend = fileError(t, '[store]\nbackend = "mysql"\n')
  assert.equal(backend.key, 'store.backend')
  assert.equal(backend.problem, 'must be one of "sqlite", "postgres"')

  const format = fileError(t, '[log]\nformat = "xml"\n')
  assert.equal(format.key, 'log.format')
  assert.equal(format.problem, 'must be one of "auto", "json", "pretty"')
})

test('loadConfig refuses a bad DNS server with its index in the key', (t) => {
  const error = fileError(t, '[dns]\nservers = ["127.0.0.1", "resolver.example"]\n')
  assert.equal(error.key, 'dns.servers.1')
  assert.match(error.problem, /"resolver\.example" is not an address/)
})

test('loadConfig refuses a tls.cert file that does not exist, naming the path', (t) => {
  const file = writeConfig(t, '[tls]\ncert = "missing-cert.pem"\nkey = "key.pem"\n')
  writeFileSync(path.join(path.dirname(file), 'key.pem'), 'key')
  const error = configError(() => loadConfig({ path: file }))
  assert.equal(error.key, 'tls.cert')
  assert.ok(
    error.message.includes(path.join(path.dirname(file), 'missing-cert.pem')),
    error.message,
  )
  assert.match(error.message, /no such file/)
})

test('loadConfig refuses a tls.key file that does not exist', (t) => {
  const file = writeConfig(t, '[tls]\ncert = "cert.pem"\nkey = "missing-key.pem"\n')
  writeFileSync(path.join(path.dirname(file), 'cert.pem'), 'cert')
  const error = configError(() => loadConfig({ path: file }))
  assert.equal(error.key, 'tls.key')
  assert.ok(error.message.includes(path.join(path.dirname(file), 'missing-key.pem')), error.message)
  assert.match(error.message, /no such file/)
})

test('loadConfig requires tls.key when [tls] names only a cert', (t) => {
  const file = writeConfig(t, '[tls]\ncert = "cert.pem"\n')
  writeFileSync(path.join(path.dirname(file), 'cert.pem'), 'cert')
  const error = configError(() => loadConfig({ path: file }))
  assert.equal(error.key, 'tls.key')
  assert.equal(error.message, 'tls.key: is required')
})

test('loadConfig refuses an empty tls path', (t) => {
  const error = fileError(t, '[tls]\ncert = ""\nkey = "key.pem"\n')
  assert.equal(error.key, 'tls.cert')
  assert.equal(error.problem, 'must name a PEM file')
})

test('loadConfig refuses two listeners on one address and names both keys', (t) => {
  const error = fileError(
    t,
    '[listen]\nsmtp = "127.0.0.1:2525"\nimap = "127.0.0.1:2143"\nsubmission = "127.0.0.1:2525"\n',
  )
  assert.equal(error.key, 'listen.submission')
  assert.equal(error.message, 'listen.submission: "127.0.0.1:2525" is already used by listen.smtp')

  const ipv6 = fileError(t, '[listen]\nimaps = "[::1]:993"\npop3s = "[::1]:993"\n')
  assert.equal(ipv6.key, 'listen.pop3s')
  assert.equal(ipv6.problem, '"[::1]:993" is already used by listen.imaps')
})

test('loadConfig refuses a listener whose port a wildcard listener already takes', (t) => {
  const error = fileError(t, '[listen]\nsmtp = "0.0.0.0:25"\nsubmission = "127.0.0.1:25"\n')
  assert.equal(error.key, 'listen.submission')
  assert.equal(
    error.message,
    'listen.submission: "127.0.0.1:25" is already used by listen.smtp ("0.0.0.0:25")',
  )
  const dualStack = fileError(t, '[listen]\nimap = "0.0.0.0:143"\nimaps = "[::]:143"\n')
  assert.equal(dualStack.key, 'listen.imaps')
})

test('loadConfig lets two listeners share a host on different ports', (t) => {
  const file = writeConfig(t, '[listen]\nsmtp = "127.0.0.1:25"\nsubmission = "127.0.0.1:587"\n')
  assert.deepEqual(Object.keys(loadConfig({ path: file }).listen).sort(), ['smtp', 'submission'])
})

test('loadConfig refuses two listeners on one IPv6 address spelled two ways', (t) => {
  const error = fileError(t, '[listen]\nsmtp = "[::1]:2525"\nimap = "[0:0::1]:2525"\n')
  assert.equal(error.key, 'listen.imap')
  assert.match(error.problem, /already used by listen\.smtp/)
})

test('loadConfig reports a TOML syntax error under "config" with the line number', (t) => {
  const file = writeConfig(t, 'hostname = "mail.example.test"\n\nsmtp = = "127.0.0.1:25"\n')
  const error = configError(() => loadConfig({ path: file }))
  assert.equal(error.key, 'config')
  assert.ok(error.message.startsWith(`config: "${file}" line 3: `), error.message)
})

test('loadConfig keeps a multi-line TOML parser message to its first line', (t) => {
  const file = writeConfig(t, '[listen\nsmtp = "127.0.0.1:25"\n')
  const error = configError(() => loadConfig({ path: file }))
  assert.equal(error.key, 'config')
  assert.match(error.message, / line 1: \S/)
})

test('loadConfig reports a missing config file under "config"', (t) => {
  const missing = path.join(makeTempDir(t), 'nope.toml')
  const error = configError(() => loadConfig({ path: missing }))
  assert.equal(error.key, 'config')
  assert.equal(error.message, `config: cannot read "${missing}": no such file`)
})

test('loadConfig resolves a relative config path against cwd before reading it', (t) => {
  const cwd = makeTempDir(t)
  const error = configError(() => loadConfig({ path: 'conf/postern.toml', cwd }))
  assert.equal(error.key, 'config')
  assert.ok(error.message.includes(`"${path.join(cwd, 'conf', 'postern.toml')}"`), error.message)
})

test('loadConfig reports a config path that is a directory under "config"', (t) => {
  const dir = makeTempDir(t)
  const error = configError(() => loadConfig({ path: dir }))
  assert.equal(error.key, 'config')
  assert.equal(error.message, `config: cannot read "${dir}": is a directory`)
})

test('loadConfig refuses a hostname that is not an RFC 1123 host name', (t) => {
  for (const hostname of [
    '-bad-',
    'bad-.example',
    '-bad.example',
    '1.2.3.4',
    '127.0.0.1',
    `${'a'.repeat(64)}.example`,
    'a'.repeat(64),
    `${'a'.repeat(63)}.${'a'.repeat(63)}.${'a'.repeat(63)}.${'b'.repeat(62)}`,
    'mail..example',
    'mail.example.',
    'mail_1.example',
    'mail example',
    '',
  ]) {
    const error = fileError(t, `hostname = "${hostname}"\n`)
    assert.equal(error.key, 'hostname', hostname)
    assert.equal(
      error.problem,
      'must be a host name such as "mail.example.com" (letters, digits, hyphens, dots)',
      hostname,
    )
  }
})

test('loadConfig refuses an empty data_dir', (t) => {
  const error = fileError(t, 'data_dir = ""\n')
  assert.equal(error.key, 'data_dir')
  assert.equal(error.message, 'data_dir: must not be empty')
})

test('loadConfig returns a fresh dns.servers list each time', (t) => {
  const first = loadConfig()
  const servers = first.dns.servers
  servers.push({ host: '192.0.2.53', port: 53 })
  try {
    assert.deepEqual(loadConfig().dns.servers, [])
    assert.deepEqual(loadConfig({ path: writeConfig(t, '') }).dns.servers, [])
  } finally {
    // Undo the change in case the array is the shared default, so later tests see [].
    servers.length = 0
  }
})

test('loadConfig refuses a tls.cert that is a directory, naming the key', (t) => {
  const dir = makeTempDir(t)
  const error = fileError(t, `[tls]\ncert = "${dir}"\nkey = "${dir}"\n`)
  assert.equal(error.key, 'tls.cert')
  assert.equal(error.message, `tls.cert: "${dir}" is not a file`)
})

test('loadConfig turns subaddressing off with an empty separator and refuses odd ones', (t) => {
  const dir = makeTempDir(t)
  const off = path.join(dir, 'off.toml')
  writeFileSync(off, '[directory]\nsubaddress_separator = ""\n')
  assert.equal(loadConfig({ path: off }).directory.subaddressSeparator, null)
  assert.equal(
    fileError(t, '[directory]\nsubaddress_separator = "@"\n').key,
    'directory.subaddress_separator',
  )
  assert.equal(
    fileError(t, '[directory]\nsubaddress_separator = "++"\n').key,
    'directory.subaddress_separator',
  )
})

test('loadConfig takes the PostgreSQL backend with its URL, and refuses a URL that does not fit', (t) => {
  const dir = makeTempDir(t)
  const file = path.join(dir, 'pg.toml')
  writeFileSync(
    file,
    '[store]\nbackend = "postgres"\nurl = "postgres://postern@127.0.0.1:5432/postern"\n',
  )
  assert.deepEqual(loadConfig({ path: file }).store, {
    backend: 'postgres',
    url: 'postgres://postern@127.0.0.1:5432/postern',
  })
  const missing = fileError(t, '[store]\nbackend = "postgres"\n')
  assert.equal(missing.message, 'store.url: is required with backend = "postgres"')
  const stray = fileError(t, '[store]\nurl = "postgres://x/y"\n')
  assert.equal(stray.message, 'store.url: is only for backend = "postgres"')
  const bad = fileError(t, '[store]\nbackend = "postgres"\nurl = "mysql://x"\n')
  assert.equal(bad.message, 'store.url: must be a postgres:// URL')
})

test("[auth] sets the login failure bounds; the defaults are src/auth's own", async (t) => {
  const { DEFAULT_THROTTLE } = await import('../auth/index.ts')
  const defaults = loadConfig({ path: writeConfig(t, '') }).auth
  assert.deepEqual(defaults, {
    maxAccountFailures: DEFAULT_THROTTLE.maxAccountFailures,
    maxIpFailures: DEFAULT_THROTTLE.maxIpFailures,
    lockoutMs: DEFAULT_THROTTLE.lockoutMs,
  })
  const file = writeConfig(
    t,
    '[auth]\nmax_account_failures = 3\nmax_ip_failures = 50\nlockout_ms = 60000\n',
  )
  assert.deepEqual(loadConfig({ path: file }).auth, {
    maxAccountFailures: 3,
    maxIpFailures: 50,
    lockoutMs: 60_000,
  })
  assert.equal(fileError(t, '[auth]\nmax_account_failures = 0\n').key, 'auth.max_account_failures')
})

test('[mailauth] policy with per-domain overrides, and [mta_sts]', (t) => {
  const file = writeConfig(
    t,
    [
      'hostname = "MX.Example.test"',
      '[mailauth]',
      'spf_fail = "quarantine"',
      '[mailauth.domains."Example.TEST"]',
      'dmarc_reject = "quarantine"',
      '[mta_sts]',
      'mode = "enforce"',
      'https_port = 8443',
      '',
    ].join('\n'),
  )
  const config = loadConfig({ path: file })
  assert.equal(config.mailauth.spfFail, 'quarantine')
  assert.equal(config.mailauth.dmarcReject, 'reject')
  assert.deepEqual(config.mailauth.domains['example.test'], {
    dmarcReject: 'quarantine',
    dmarcQuarantine: 'quarantine',
    spfFail: 'quarantine',
  })
  assert.equal(config.mtaSts.mode, 'enforce')
  assert.equal(config.mtaSts.httpsPort, 8443)
  assert.deepEqual(config.mtaSts.mx, ['mx.example.test'])
  assert.throws(
    () => loadConfig({ path: writeConfig(t, '[mailauth]\ndmarc_reject = "bounce"\n') }),
    /mailauth\.dmarc_reject/,
  )
  assert.throws(
    () => loadConfig({ path: writeConfig(t, '[mta_sts]\nmax_age_s = 5\n') }),
    /mta_sts\.max_age_s/,
  )
})
