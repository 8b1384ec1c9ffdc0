import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { type Config, loadConfig } from '../../src/config/index.ts'
import { createDirectory, type Directory } from '../../src/directory/index.ts'
import { type RunningServer, startServer } from '../../src/server/index.ts'
import type { MailboxId, Store } from '../../src/store/index.ts'
import { silentLogger } from '../../src/util/index.ts'
import { getFreePorts } from './free-port.ts'
import { ALICE, BOB } from './pop3.ts'
import { makeTempDir } from './temp-dir.ts'

export { ALICE, BOB } from './pop3.ts'

// The server `postern serve` runs, with its imap (STARTTLS) and imaps listeners on free loopback
// ports, for the IMAP interop tests: clients nobody on the team wrote talk to it, and the tests
// look at the store to see what they did.

export interface ImapServe {
  server: RunningServer
  config: Config
  store: Store
  directory: Directory
  ports: { imap: number; imaps: number }
  /** The self-signed certificate the server made for its hostname, localhost and 127.0.0.1. */
  certPath: string
  hostname: string
  /** Delivers each message into a mailbox of an account (ALICE's INBOX by default); the UIDs. */
  deliver(
    messages: ReadonlyArray<string | Buffer>,
    options?: { address?: string; mailbox?: string; flags?: string[] },
  ): Promise<number[]>
  mailboxId(address: string, name: string): Promise<MailboxId>
  /** Every message of a mailbox as stored, in UID order: UID, flags and octets (latin1). */
  contents(mailbox?: string, address?: string): Promise<StoredMessage[]>
}

export interface StoredMessage {
  uid: number
  flags: string[]
  internalDate: Date
  /** The octets, one character each. */
  text: string
}

/**
 * A real Postern (SQLite store in a temp dir, the config loaded from a file as `postern serve`
 * does) with the imap and imaps listeners, the domain example.test and the accounts alice and
 * bob. `toml` is appended to the config.
 */
export async function startImapServe(t: TestContext, toml = ''): Promise<ImapServe> {
  const dir = makeTempDir(t, 'postern-imap-')
  const [imap = 0, imaps = 0] = await getFreePorts(2)
  const file = path.join(dir, 'postern.toml')
  const hostname = 'imap.example.test'
  writeFileSync(
    file,
    [
      `hostname = "${hostname}"`,
      'data_dir = "data"',
      'shutdown_grace_ms = 200',
      '[listen]',
      `imap = "127.0.0.1:${imap}"`,
      `imaps = "127.0.0.1:${imaps}"`,
      '[dns]',
      'servers = ["127.0.0.1:9"]',
      toml,
    ].join('\n'),
  )
  const config = loadConfig({ path: file })
  const server = await startServer(config, { log: silentLogger })
  t.after(() => server.stop())
  const directory = createDirectory(server.store)
  await directory.addDomain('example.test')
  await directory.addUser(ALICE.address, ALICE.password)
  await directory.addUser(BOB.address, BOB.password)
  const store = server.store
  const mailboxId = async (address: string, name: string) => {
    const account = await store.getAccount(address)
    const mailbox = account === null ? null : await store.getMailbox(account.id, name)
    if (mailbox === null) throw new Error(`no mailbox ${name} for ${address}`)
    return mailbox.id
  }
  return {
    server,
    config,
    store,
    directory,
    ports: { imap, imaps },
    certPath: path.join(config.dataDir, 'tls', 'self-signed.crt'),
    hostname,
    mailboxId,
    async deliver(messages, options = {}) {
      const id = await mailboxId(options.address ?? ALICE.address, options.mailbox ?? 'INBOX')
      const uids: number[] = []
      for (const message of messages) {
        const bytes = typeof message === 'string' ? Buffer.from(message, 'latin1') : message
        const [result] = await store.deliver({ bytes }, [
          { mailboxId: id, flags: options.flags ?? [] },
        ])
        if (result?.status !== 'stored') throw new Error('delivery failed')
        uids.push(result.uid)
      }
      return uids
    },
    async contents(mailbox = 'INBOX', address = ALICE.address) {
      const id = await mailboxId(address, mailbox)
      const records = await store.getMessages(id, [[1, 2 ** 32 - 1]])
      const messages: StoredMessage[] = []
      for (const record of records) {
        const chunks: Buffer[] = []
        for await (const chunk of store.readMessage(record.blobId)) chunks.push(chunk)
        messages.push({
          uid: record.uid,
          flags: [...record.flags],
          internalDate: record.internalDate,
          text: Buffer.concat(chunks).toString('latin1'),
        })
      }
      return messages
    },
  }
}
