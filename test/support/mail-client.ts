import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { loadConfig } from '../../src/config/index.ts'
import { createDirectory } from '../../src/directory/index.ts'
import { type RunningServer, startServer } from '../../src/server/index.ts'
import type { Store } from '../../src/store/index.ts'
import { silentLogger } from '../../src/util/index.ts'
import { getFreePorts } from './free-port.ts'
import { runPostern } from './postern-process.ts'
import { ALICE, BOB } from './smtp.ts'
import { makeTempDir } from './temp-dir.ts'
import { testCertificate } from './tls.ts'

// For the tests of `postern sendmail` and `postern fetch`: a whole Postern (submission,
// submissions, pop3s, imaps, imap) with a certificate for 127.0.0.1 that the client trusts
// through its ca_file, a client config written as a user would (mode 600), and the CLI run as a
// separate process, as programs run sendmail.

export { ALICE, BOB }

export interface MailServer {
  server: RunningServer
  store: Store
  ports: { submission: number; submissions: number; pop3s: number; imaps: number; imap: number }
  /** The PEM file of the server's certificate, for the client's ca_file. */
  caFile: string
  /** Every message in the account's INBOX, in UID order. */
  inbox(address: string): Promise<Buffer[]>
}

export async function startMailServer(t: TestContext): Promise<MailServer> {
  const dir = makeTempDir(t, 'postern-client-server-')
  const [submission = 0, submissions = 0, pop3s = 0, imaps = 0, imap = 0] = await getFreePorts(5)
  const { cert, key } = await testCertificate()
  const caFile = path.join(dir, 'cert.pem')
  writeFileSync(caFile, cert)
  writeFileSync(path.join(dir, 'key.pem'), key, { mode: 0o600 })
  const file = path.join(dir, 'postern.toml')
  writeFileSync(
    file,
    [
      'hostname = "mail.example.test"',
      'data_dir = "data"',
      'shutdown_grace_ms = 200',
      '[listen]',
      `submission = "127.0.0.1:${submission}"`,
      `submissions = "127.0.0.1:${submissions}"`,
      `pop3s = "127.0.0.1:${pop3s}"`,
      `imaps = "127.0.0.1:${imaps}"`,
      `imap = "127.0.0.1:${imap}"`,
      '[tls]',
      `cert = "${caFile}"`,
      `key = "${path.join(dir, 'key.pem')}"`,
      '[dns]',
      'servers = ["127.0.0.1:9"]',
    ].join('\n'),
  )
  const server = await startServer(loadConfig({ path: file }), { log: silentLogger })
  t.after(() => server.stop())
  const directory = createDirectory(server.store)
  await directory.addDomain('example.test')
  await directory.addUser(ALICE.address, ALICE.password)
  await directory.addUser(BOB.address, BOB.password)
  const store = server.store
  return {
    server,
    store,
    ports: { submission, submissions, pop3s, imaps, imap },
    caFile,
    async inbox(address) {
      const account = await store.getAccount(address)
      const inbox = account === null ? null : await store.getMailbox(account.id, 'INBOX')
      if (inbox === null) throw new Error(`no INBOX for ${address}`)
      const messages: Buffer[] = []
      for (const record of await store.getMessages(inbox.id, [[1, 2 ** 32 - 1]])) {
        const chunks: Buffer[] = []
        for await (const chunk of store.readMessage(record.blobId)) chunks.push(chunk)
        messages.push(Buffer.concat(chunks))
      }
      return messages
    },
  }
}

/** A home directory of its own for the client: config, spool and state go under it. */
export interface ClientHome {
  dir: string
  configPath: string
  spoolDir: string
  env: NodeJS.ProcessEnv
  /** Writes the config (mode 600) from TOML sections. */
  writeConfig(toml: string): void
}

export function makeClientHome(t: TestContext): ClientHome {
  const dir = makeTempDir(t, 'postern-client-home-')
  const configPath = path.join(dir, '.config', 'postern', 'client.toml')
  mkdirSync(path.dirname(configPath), { recursive: true })
  const spoolDir = path.join(dir, 'spool')
  return {
    dir,
    configPath,
    spoolDir,
    env: {
      HOME: dir,
      XDG_CONFIG_HOME: path.join(dir, '.config'),
      XDG_DATA_HOME: path.join(dir, '.local', 'share'),
      XDG_STATE_HOME: path.join(dir, '.local', 'state'),
      POSTERN_CLIENT_CONFIG: '',
    },
    writeConfig(toml) {
      writeFileSync(configPath, toml, { mode: 0o600 })
      chmodSync(configPath, 0o600)
    },
  }
}

/** The [submission] section for ALICE on the server's STARTTLS submission port (or another). */
export function submissionToml(
  server: MailServer,
  home: ClientHome,
  overrides: { port?: number; security?: string } = {},
): string {
  return [
    '[submission]',
    'host = "127.0.0.1"',
    `port = ${overrides.port ?? server.ports.submission}`,
    `security = "${overrides.security ?? 'starttls'}"`,
    `user = "${ALICE.address}"`,
    `password = "${ALICE.password}"`,
    `ca_file = "${server.caFile}"`,
    `spool = "${home.spoolDir}"`,
    'helo = "laptop.example.test"',
    '',
  ].join('\n')
}

/** `postern sendmail ARGS` as its own process, the message on standard input. */
export function sendmail(home: ClientHome, args: readonly string[], stdin: string | Buffer = '') {
  return runPostern(['sendmail', ...args], { env: home.env, stdin, timeoutMs: 60_000 })
}
