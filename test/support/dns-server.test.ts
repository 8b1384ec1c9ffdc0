import assert from 'node:assert/strict'
import { Resolver } from 'node:dns/promises'
import { connect } from 'node:net'
import { type TestContext, test } from 'node:test'
import { decode, encode, RECURSION_DESIRED } from 'dns-packet'
import { type DnsZone, startDnsServer } from './dns-server.ts'

async function serve(t: TestContext, zone: DnsZone) {
  const server = await startDnsServer(t, zone)
  const resolver = new Resolver({ timeout: 100, tries: 1 })
  resolver.setServers([`${server.host}:${server.port}`])
  return { server, resolver }
}

/** The error code a lookup rejects with. */
async function failure(lookup: Promise<unknown>): Promise<string | undefined> {
  try {
    await lookup
  } catch (error) {
    return error instanceof Error && 'code' in error ? String(error.code) : undefined
  }
  assert.fail('the lookup succeeded')
}

test('the DNS server answers A, AAAA, MX and TXT from its zone', async (t) => {
  const { server, resolver } = await serve(t, {
    'mail.example.test': { A: ['192.0.2.1', '192.0.2.2'], AAAA: ['2001:db8::1'] },
    'example.test': {
      MX: [
        { exchange: 'mail.example.test', priority: 10 },
        { exchange: 'backup.example.test', priority: 20 },
      ],
      TXT: [['v=spf1 -all'], ['two ', 'strings']],
    },
  })
  assert.deepEqual(await resolver.resolve4('mail.example.test'), ['192.0.2.1', '192.0.2.2'])
  assert.deepEqual(await resolver.resolve6('mail.example.test'), ['2001:db8::1'])
  assert.deepEqual(
    (await resolver.resolveMx('example.test')).map(({ exchange, priority }) => ({
      exchange,
      priority,
    })),
    [
      { exchange: 'mail.example.test', priority: 10 },
      { exchange: 'backup.example.test', priority: 20 },
    ],
  )
  assert.deepEqual(await resolver.resolveTxt('example.test'), [
    ['v=spf1 -all'],
    ['two ', 'strings'],
  ])
  assert.deepEqual(server.servers, [{ host: '127.0.0.1', port: server.port }])
  assert.deepEqual(server.queries, [
    { name: 'mail.example.test', type: 'A' },
    { name: 'mail.example.test', type: 'AAAA' },
    { name: 'example.test', type: 'MX' },
    { name: 'example.test', type: 'TXT' },
  ])
})

test('names are case-insensitive, with or without a trailing dot', async (t) => {
  const { server, resolver } = await serve(t, { 'Mail.Example.TEST.': { A: ['192.0.2.1'] } })
  assert.deepEqual(await resolver.resolve4('MAIL.example.test'), ['192.0.2.1'])
  assert.deepEqual(server.queries, [{ name: 'mail.example.test', type: 'A' }])
})

test('a null MX goes out as the root name', async (t) => {
  const { resolver } = await serve(t, { 'example.test': { MX: [{ exchange: '', priority: 0 }] } })
  const records = await resolver.resolveMx('example.test')
  assert.deepEqual(
    records.map(({ exchange, priority }) => ({ exchange, priority })),
    [{ exchange: '', priority: 0 }],
  )
})

test('an unknown name is NXDOMAIN, a known one without the type NODATA', async (t) => {
  const { resolver } = await serve(t, { 'example.test': { A: ['192.0.2.1'] } })
  assert.equal(await failure(resolver.resolve4('other.test')), 'ENOTFOUND')
  assert.equal(await failure(resolver.resolveMx('example.test')), 'ENODATA')
  assert.equal(await failure(resolver.resolve6('example.test')), 'ENODATA')
})

test('servfail answers SERVFAIL and hang never answers', async (t) => {
  const { server, resolver } = await serve(t, {
    'broken.test': { servfail: true, A: ['192.0.2.1'] },
    'slow.test': { hang: true, A: ['192.0.2.1'] },
  })
  assert.equal(await failure(resolver.resolve4('broken.test')), 'ESERVFAIL')
  assert.equal(await failure(resolver.resolve4('slow.test')), 'ETIMEOUT')
  assert.deepEqual(server.queries, [
    { name: 'broken.test', type: 'A' },
    { name: 'slow.test', type: 'A' },
  ])
})

test('set and remove change the zone while the server runs', async (t) => {
  const { server, resolver } = await serve(t, {})
  assert.equal(await failure(resolver.resolve4('example.test')), 'ENOTFOUND')
  server.set('example.test', 'A', ['192.0.2.7'])
  server.set('Example.Test', 'AAAA', ['2001:db8::7'])
  assert.deepEqual(await resolver.resolve4('example.test'), ['192.0.2.7'])
  assert.deepEqual(await resolver.resolve6('example.test'), ['2001:db8::7'])
  server.remove('example.test', 'A')
  assert.equal(await failure(resolver.resolve4('example.test')), 'ENODATA')
  server.set('example.test', 'servfail', true)
  assert.equal(await failure(resolver.resolve6('example.test')), 'ESERVFAIL')
  server.remove('example.test')
  assert.equal(await failure(resolver.resolve6('example.test')), 'ENOTFOUND')
})

test('the DNS server answers over TCP on the same port, with the AA flag and the id', async (t) => {
  const { server } = await serve(t, { 'example.test': { A: ['192.0.2.1'] } })
  const query = encode({
    type: 'query',
    id: 4242,
    flags: RECURSION_DESIRED,
    questions: [{ type: 'A', name: 'example.test' }],
  })
  const prefix = Buffer.alloc(2)
  prefix.writeUInt16BE(query.length)
  const socket = connect(server.port, server.host)
  t.after(() => socket.destroy())
  // Split mid-message: the server must reassemble by the length prefix.
  socket.write(prefix)
  socket.write(query.subarray(0, 5))
  socket.write(query.subarray(5))
  const reply = await new Promise<Buffer>((resolve, reject) => {
    let received = Buffer.alloc(0)
    socket.on('error', reject)
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        resolve(received.subarray(2))
      }
    })
  })
  const packet = decode(reply)
  assert.equal(packet.id, 4242)
  assert.equal(packet.flag_qr, true)
  assert.equal(packet.flag_aa, true)
  assert.equal(packet.flag_rd, true)
  assert.deepEqual(packet.questions, [{ name: 'example.test', type: 'A', class: 'IN' }])
  assert.deepEqual(
    packet.answers?.map((answer) => [answer.type, answer.name, 'data' in answer && answer.data]),
    [['A', 'example.test', '192.0.2.1']],
  )
})

test('close is idempotent and frees the port', async (t) => {
  const { server, resolver } = await serve(t, { 'example.test': { A: ['192.0.2.1'] } })
  await server.close()
  await server.close()
  // Nothing answers on the port now: UDP gets ICMP port unreachable.
  assert.equal(await failure(resolver.resolve4('example.test')), 'ECONNREFUSED')
})
