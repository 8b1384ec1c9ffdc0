// MTA-STS fixtures (RFC 8461): a test CA and the certificates it signs (made with selfsigned),
// an HTTPS policy host on loopback that answers per Host field, the DNS records of a policy
// domain, a logger that keeps what it is told, and a Postern node that logs to one, so tests
// can look for a warning.
import { writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:https'
import type { Socket } from 'node:net'
import path from 'node:path'
import type { TestContext } from 'node:test'
import type { TLSSocket } from 'node:tls'
import { generate } from 'selfsigned'
import type { RunningServer } from '../../src/server/index.ts'
import type { Store } from '../../src/store/index.ts'
import type { Logger } from '../../src/util/index.ts'
import type { DnsZone } from './dns-server.ts'
import { startNode } from './postern-node.ts'
import { makeTempDir } from './temp-dir.ts'

export interface Pem {
  cert: string
  key: string
}

const EC = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as const
let ca: Promise<Pem> | null = null

/** A CA for tests, made once per test process: pass its certificate as `[mta_sts] ca_file`. */
export function testCa(): Promise<Pem> {
  ca ??= generate([{ name: 'commonName', value: 'Postern Test CA' }], {
    ...EC,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true },
    ],
  }).then((pems) => ({ cert: pems.cert, key: pems.private }))
  return ca
}

/**
 * A server certificate signed by the test CA (or self-signed when `selfSigned`) with `names` as
 * its subjectAltName DNS-IDs; `commonName` alone (no names) makes one without any SAN.
 */
export async function issue(
  names: string[],
  options: { commonName?: string; selfSigned?: boolean } = {},
): Promise<Pem> {
  const altNames = names.map((value) => ({ type: 2 as const, value }))
  const pems = await generate([{ name: 'commonName', value: options.commonName ?? names[0] }], {
    ...EC,
    ...(options.selfSigned !== true && { ca: await testCa() }),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      ...(altNames.length > 0 ? [{ name: 'subjectAltName' as const, altNames }] : []),
    ],
  })
  return { cert: pems.cert, key: pems.private }
}

/** The test CA's certificate in a file of its own (removed when the test ends). */
export async function writeCaFile(t: TestContext): Promise<string> {
  const file = path.join(makeTempDir(t, 'postern-ca-'), 'ca.pem')
  writeFileSync(file, (await testCa()).cert)
  return file
}

/** A policy file (RFC 8461 §3.2). */
export function policyText(policy: { mode: string; mx: string[]; maxAge?: number }): string {
  const lines = [
    'version: STSv1',
    `mode: ${policy.mode}`,
    ...policy.mx.map((mx) => `mx: ${mx}`),
    `max_age: ${policy.maxAge ?? 86_400}`,
  ]
  return lines.map((line) => `${line}\r\n`).join('')
}

/** `_mta-sts.<domain>` with `id`, and mta-sts.<domain> at the policy host's address. */
export function stsZone(domain: string, id: string, address = '127.0.0.1'): DnsZone {
  return {
    [`_mta-sts.${domain}`]: { TXT: [[`v=STSv1; id=${id};`]] },
    [`mta-sts.${domain}`]: { A: [address] },
  }
}

export interface PolicyAnswer {
  status?: number
  contentType?: string
  body?: string
  headers?: Record<string, string>
  /** Never answer (a policy host gone silent). */
  hang?: boolean
}

export interface PolicyRequest {
  host: string
  servername: string
  method: string
  path: string
}

export interface PolicyHost {
  port: number
  readonly requests: PolicyRequest[]
  /** What mta-sts.<domain> answers: a policy text (200, text/plain), or an answer. */
  set(domain: string, answer: string | PolicyAnswer): void
  close(): Promise<void>
}

/**
 * An HTTPS server on 127.0.0.1 for the policy hosts mta-sts.<domain> of `domains`, with one
 * certificate for them all (by default from the test CA). A domain not `set` gets a 404.
 */
export async function startPolicyHost(
  t: TestContext,
  options: { domains: string[]; certificate?: Pem },
): Promise<PolicyHost> {
  const certificate =
    options.certificate ?? (await issue(options.domains.map((domain) => `mta-sts.${domain}`)))
  const answers = new Map<string, PolicyAnswer>()
  const requests: PolicyRequest[] = []
  const sockets = new Set<Socket>()
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const host = (request.headers.host ?? '').replace(/:\d+$/, '')
    const socket = request.socket as TLSSocket & { servername?: string | false }
    requests.push({
      host,
      servername: typeof socket.servername === 'string' ? socket.servername : '',
      method: request.method ?? '',
      path: request.url ?? '',
    })
    const domain = host.startsWith('mta-sts.') ? host.slice('mta-sts.'.length) : ''
    const answer = answers.get(domain) ?? { status: 404, body: 'not found\n' }
    if (answer.hang === true) return
    response.writeHead(answer.status ?? 200, {
      'Content-Type': answer.contentType ?? 'text/plain',
      ...answer.headers,
    })
    response.end(answer.body ?? '')
  }
  const server = createServer(certificate, handle)
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (typeof address !== 'object' || address === null) throw new Error('no port')
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
    port: address.port,
    requests,
    set(domain, answer) {
      answers.set(domain, typeof answer === 'string' ? { body: answer } : answer)
    },
    close,
  }
}

export interface LogLine {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'
  message: string
  fields: Record<string, unknown>
}

/** A Logger that keeps every line (children's too, with their bindings) in `lines`. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: LogLine['level']) =>
      (fields: object, message: string): void => {
        lines.push({ level, message, fields: { ...bindings, ...fields } })
      }
    return {
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      fatal: at('fatal'),
      child: (more) => make({ ...bindings, ...more }),
    }
  }
  return Object.assign(make({}), { lines })
}

export interface LoggedNode {
  server: RunningServer
  store: Store
  dataDir: string
  log: ReturnType<typeof recordingLogger>
}

/**
 * A Postern node like postern-node.ts's startNode (SMTP on `port`, submission on port + 1, at
 * `address`, users created), whose log lines are kept for the test to read.
 */
export async function startLoggedNode(
  t: TestContext,
  options: {
    hostname: string
    address: string
    port: number
    dnsPort: number
    users: ReadonlyArray<{ address: string; password: string }>
    /** Appended to the config: [queue], [relay] (with its port), [mta_sts]… */
    toml: string
  },
): Promise<LoggedNode> {
  const log = recordingLogger()
  const node = await startNode(t, {
    ...options,
    users: [...options.users],
    // The toml names [relay] and its port; startNode adds one only when it does not.
    relayPort: options.port,
    log,
  })
  return { server: node.server, store: node.store, dataDir: node.config.dataDir, log }
}
