import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram'
import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import {
  type Answer,
  AUTHORITATIVE_ANSWER,
  type DecodedPacket,
  decode,
  encode,
  RECURSION_DESIRED,
} from 'dns-packet'
import type { HostPort } from '../../src/config/index.ts'

/** What one name holds. A name in the zone without the asked type answers NODATA. */
export interface DnsZoneEntry {
  /** `[{ exchange: '', priority: 0 }]` is a null MX (RFC 7505), sent as the root name ".". */
  MX?: Array<{ exchange: string; priority: number }>
  A?: string[]
  AAAA?: string[]
  /** One string array per record, one string per character-string. */
  TXT?: string[][]
  /** Every query for the name gets SERVFAIL. */
  servfail?: boolean
  /** Queries for the name are never answered, so the client times out. */
  hang?: boolean
}

/** Names are case-insensitive, without a trailing dot. A name absent here is NXDOMAIN. */
export type DnsZone = Record<string, DnsZoneEntry>

export interface DnsQuery {
  /** Lower case, without a trailing dot. */
  name: string
  /** "A", "MX", …, or "UNKNOWN_<n>" for a type dns-packet has no name for. */
  type: string
}

export interface TestDnsServer {
  port: number
  host: string
  /** For `createDnsResolver({ servers })`; in a Postern config: `[dns] servers = ["127.0.0.1:PORT"]`. */
  servers: HostPort[]
  set<K extends keyof DnsZoneEntry>(name: string, key: K, value: NonNullable<DnsZoneEntry[K]>): void
  /** Without `key`, the whole name goes (NXDOMAIN from then on). */
  remove(name: string, key?: keyof DnsZoneEntry): void
  /** Every question asked, over UDP and TCP, in arrival order. */
  queries: DnsQuery[]
  close(): Promise<void>
}

const HOST = '127.0.0.1'
const RCODE_SERVFAIL = 2
const RCODE_NXDOMAIN = 3

function zoneKey(name: string): string {
  return name.toLowerCase().replace(/\.$/, '')
}

/**
 * An authoritative DNS server for tests on 127.0.0.1, UDP and TCP on the same port, serving
 * `zone`. Closed when the test ends.
 */
export async function startDnsServer(t: TestContext, zone: DnsZone = {}): Promise<TestDnsServer> {
  const names = new Map<string, DnsZoneEntry>()
  for (const [name, entry] of Object.entries(zone)) names.set(zoneKey(name), { ...entry })
  const queries: DnsQuery[] = []

  /** The reply to one query message, or undefined to stay silent. */
  function answer(message: Buffer): Buffer | undefined {
    let query: DecodedPacket
    try {
      query = decode(message)
    } catch {
      return undefined
    }
    const question = query.questions?.[0]
    if (query.type !== 'query' || question === undefined) return undefined
    const key = zoneKey(question.name)
    queries.push({ name: key, type: question.type })
    const entry = names.get(key)
    if (entry?.hang === true) return undefined
    let rcode = 0
    let answers: Answer[] = []
    if (entry === undefined) rcode = RCODE_NXDOMAIN
    else if (entry.servfail === true) rcode = RCODE_SERVFAIL
    else answers = recordsFor(question.name, question.type, entry)
    return encode({
      type: 'response',
      id: query.id ?? 0,
      // rcode is the low four bits of the flags word (RFC 1035 §4.1.1).
      flags: AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & RECURSION_DESIRED) | rcode,
      // The question as asked, letter case included: a client may check it (DNS 0x20).
      questions: [question],
      answers,
    })
  }

  const onMessage = (udp: UdpSocket) => (message: Buffer, peer: RemoteInfo) => {
    const reply = answer(message)
    if (reply !== undefined) udp.send(reply, peer.port, peer.address)
  }
  const sockets = new Set<Socket>()
  const tcp = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    let pending = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      // Over TCP each message has a two-octet length in front (RFC 1035 §4.2.2).
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0)
        if (pending.length < 2 + length) break
        const reply = answer(pending.subarray(2, 2 + length))
        pending = pending.subarray(2 + length)
        if (reply === undefined) continue
        const prefix = Buffer.alloc(2)
        prefix.writeUInt16BE(reply.length)
        socket.write(Buffer.concat([prefix, reply]))
      }
    })
  })
  const { udp, port } = await bindBoth(tcp, onMessage)

  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= (async () => {
      for (const socket of sockets) socket.destroy()
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ])
    })()
    return closed
  }
  t.after(close)

  return {
    port,
    host: HOST,
    servers: [{ host: HOST, port }],
    set(name, key, value) {
      const entry = names.get(zoneKey(name)) ?? {}
      entry[key] = value
      names.set(zoneKey(name), entry)
    },
    remove(name, key) {
      if (key === undefined) {
        names.delete(zoneKey(name))
        return
      }
      const entry = names.get(zoneKey(name))
      if (entry !== undefined) delete entry[key]
    },
    queries,
    close,
  }
}

function recordsFor(name: string, type: string, entry: DnsZoneEntry): Answer[] {
  // TTL 0, so a resolver with a cache asks again after the test changes the zone.
  const ttl = 0
  switch (type) {
    case 'A':
      return (entry.A ?? []).map((data) => ({ type: 'A', name, ttl, data }))
    case 'AAAA':
      return (entry.AAAA ?? []).map((data) => ({ type: 'AAAA', name, ttl, data }))
    case 'MX':
      return (entry.MX ?? []).map(({ exchange, priority }) => ({
        type: 'MX',
        name,
        ttl,
        // The root name for a null MX's empty exchange (RFC 7505 §3).
        data: { exchange: exchange === '' ? '.' : exchange, preference: priority },
      }))
    case 'TXT':
      return (entry.TXT ?? []).map((data) => ({ type: 'TXT', name, ttl, data }))
    default:
      return []
  }
}

/** Binds UDP to a free port, then TCP to the same one; another free port if TCP's is taken. */
async function bindBoth(
  tcp: Server,
  onMessage: (udp: UdpSocket) => (message: Buffer, peer: RemoteInfo) => void,
): Promise<{ udp: UdpSocket; port: number }> {
  for (let attempt = 0; ; attempt += 1) {
    // A fresh socket each attempt: a closed dgram socket cannot be bound again.
    const udp = createSocket('udp4')
    udp.on('message', onMessage(udp))
    udp.bind(0, HOST)
    await once(udp, 'listening')
    const port = udp.address().port
    try {
      tcp.listen(port, HOST)
      await once(tcp, 'listening')
      return { udp, port }
    } catch (error) {
      await new Promise<void>((resolve) => udp.close(() => resolve()))
      if (attempt >= 10) throw error
    }
  }
}
