import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Config, loadConfig } from '../../src/config/index.ts'
import { createDirectory, type Directory } from '../../src/directory/index.ts'
import { type RunningServer, startServer } from '../../src/server/index.ts'
import {
  type SendEnvelope,
  type SendRecipient,
  type SendResult,
  SmtpClient,
} from '../../src/smtp/client/index.ts'
import type { Store } from '../../src/store/index.ts'
import { type Logger, silentLogger } from '../../src/util/index.ts'
import { mailboxMessages } from './mailbox.ts'

// A Postern node for relay tests: its own loopback address (127.0.0.2, 127.0.0.3…), so that
// several nodes exchange mail on one port number, each with the domains and users a test names.

export interface PosternNode {
  server: RunningServer
  config: Config
  store: Store
  directory: Directory
  address: string
  port: number
  /** The directory with its config file and data: pass it as `dataDir` to start it again. */
  dir: string
  /** Stops the node (the test's end stops it too). */
  stop(): Promise<void>
}

export interface NodeOptions {
  hostname: string
  /** A loopback address of its own; SMTP and submission listen there. */
  address: string
  /** The SMTP port (submission is port + 1); every node of a test shares the number. */
  port: number
  /** Relay port: where this node delivers (the other nodes' SMTP port). */
  relayPort: number
  dnsPort: number
  users?: Array<{ address: string; password: string }>
  /** A POP3 listener (STLS) on the node's address at this port. */
  pop3Port?: number
  /** Appended to the config (more [queue] or [relay] keys). */
  toml?: string
  /** Reuse a data dir (a restart). */
  dataDir?: string
  /** Where the server logs (default: nowhere), for tests that look at its log lines. */
  log?: Logger
}

/** The stop functions of the nodes started on each node directory this process made. */
const nodesOf = new Map<string, Array<() => Promise<void>>>()

/**
 * A fresh node directory, removed when the test ends, but only after every node started on it
 * has stopped (after hooks run in the order they were added, so the removal would otherwise
 * come before the stop of a node started after it, or of a restarted one).
 */
function makeNodeDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-node-'))
  const stops: Array<() => Promise<void>> = []
  nodesOf.set(dir, stops)
  t.after(async () => {
    await Promise.allSettled(stops.map((stop) => stop()))
    nodesOf.delete(dir)
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

export async function startNode(t: TestContext, options: NodeOptions): Promise<PosternNode> {
  const dir = options.dataDir ?? makeNodeDir(t)
  const file = path.join(dir, 'postern.toml')
  writeFileSync(
    file,
    [
      `hostname = "${options.hostname}"`,
      'data_dir = "data"',
      'shutdown_grace_ms = 200',
      '[listen]',
      `smtp = "${options.address}:${options.port}"`,
      `submission = "${options.address}:${options.port + 1}"`,
      ...(options.pop3Port === undefined
        ? []
        : [`pop3 = "${options.address}:${options.pop3Port}"`]),
      '[dns]',
      `servers = ["127.0.0.1:${options.dnsPort}"]`,
      options.toml ?? '',
    ].join('\n'),
  )
  // Relay keys may come from the test's toml as well; only add the port when it did not.
  if (!/^\[relay\]/m.test(options.toml ?? '')) {
    writeFileSync(
      file,
      `\n[relay]\nport = ${options.relayPort}\nsource_address = "${options.address}"\n`,
      { flag: 'a' },
    )
  }
  const config = loadConfig({ path: file })
  const server = await startServer(config, { log: options.log ?? silentLogger })
  // server.stop() is idempotent: every call gets the same promise.
  const stop = () => server.stop()
  nodesOf.get(dir)?.push(stop)
  t.after(stop)
  const directory = createDirectory(server.store)
  for (const user of options.users ?? []) {
    const domain = user.address.slice(user.address.indexOf('@') + 1)
    if (!(await directory.isLocalDomain(domain))) await directory.addDomain(domain)
    if (!(await directory.getUser(user.address)))
      await directory.addUser(user.address, user.password)
  }
  return {
    server,
    config,
    store: server.store,
    directory,
    address: options.address,
    port: options.port,
    dir,
    stop,
  }
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'the condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

/** The messages in an account's INBOX once there are at least `count`. */
export function mailboxWith(
  store: Store,
  address: string,
  count: number,
  what = `${count} message(s) for ${address}`,
): Promise<Buffer[]> {
  return eventually(
    async () => {
      const messages = await mailboxMessages(store, address)
      return messages.length >= count ? messages : undefined
    },
    20_000,
    what,
  )
}

/** Resolves once the node's outbound queue is empty. */
export function queueDrained(store: Store): Promise<true> {
  return eventually(
    async () => ((await store.listQueue()).length === 0 ? true : undefined),
    10_000,
    'an empty queue',
  )
}

export interface SubmitOptions {
  /** The node's address; its submission port is `port`. */
  host: string
  port: number
  user: { address: string; password: string }
  /** The reverse-path; default the user's address, '' for <>. */
  sender?: string
  /** Addresses, or recipients with DSN parameters (`notify: []` is NOTIFY=NEVER). */
  to: Array<string | SendRecipient>
  message: string | Buffer
  /** BODY=, SMTPUTF8, ENVID and RET of the envelope. */
  envelope?: Pick<SendEnvelope, 'body' | 'smtputf8' | 'envelopeId' | 'ret'>
}

/**
 * Submits a message on a node's submission port (STARTTLS, then AUTH as `user`). Throws unless
 * the node took it with a 250; returns every reply.
 */
export async function submit(options: SubmitOptions): Promise<SendResult> {
  const { host, port, user } = options
  const client = await SmtpClient.connect({ host, port, tls: { rejectUnauthorized: false } })
  try {
    await client.hello('client.test')
    await client.startTls()
    await client.hello('client.test')
    await client.authenticate(user.address, user.password)
    const bytes = Buffer.from(options.message)
    const result = await client.send(
      {
        ...options.envelope,
        sender: options.sender ?? user.address,
        recipients: options.to.map((to) => (typeof to === 'string' ? { address: to } : to)),
      },
      {
        size: bytes.length,
        chunks: async function* () {
          yield bytes
        },
      },
    )
    if (result.data?.code !== 250) {
      throw new Error(`submission refused the message: ${JSON.stringify(result)}`)
    }
    return result
  } finally {
    await client.quit()
  }
}
