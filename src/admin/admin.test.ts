// The admin listener over real sockets: Postern's own MTA-STS policy (RFC 8461 §3.3) for
// mta-sts.<local domain>, 404 for anything else, 405 for other methods, /healthz, bounded
// headers, and keep-alive connections that end with the listener.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { type TestContext, test } from 'node:test'
import { testSecureContext } from '../../test/support/tls.ts'
import type { MtaStsConfig } from '../config/index.ts'
import { ownPolicyId, parseStsPolicy } from '../mailauth/index.ts'
import { ConnectionLimiter, type Listener, startListener } from '../net/index.ts'
import { silentLogger } from '../util/index.ts'
import { createAdminServer, MAX_HEADER_OCTETS } from './index.ts'

function mtaSts(mode: MtaStsConfig['mode']): MtaStsConfig {
  return {
    enforceOutbound: true,
    httpsPort: 443,
    caFile: null,
    fetchTimeoutMs: 10_000,
    mode,
    mx: ['mail.example.test', '*.mx.example.test'],
    maxAgeS: 604_800,
  }
}

async function startAdmin(t: TestContext, mode: MtaStsConfig['mode'] = 'enforce') {
  const config = { mtaSts: mtaSts(mode) }
  const listener = await startListener({
    name: 'admin',
    host: '127.0.0.1',
    port: 0,
    tls: 'none',
    secureContext: await testSecureContext(),
    handler: createAdminServer({
      config,
      directory: { isLocalDomain: async (domain) => domain === 'example.test' },
      log: silentLogger,
    }),
    limiter: new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIp: 10 }),
    log: silentLogger,
  })
  t.after(() => listener.close(0))
  return { listener, config }
}

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function get(
  listener: Listener,
  path: string,
  options: { host?: string; method?: string; agent?: Agent } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: listener.port,
        path,
        method: options.method ?? 'GET',
        headers: { host: options.host ?? 'mta-sts.example.test' },
        agent: options.agent ?? false,
      },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        )
      },
    )
    req.on('error', reject)
    req.end()
  })
}

test('the policy is served for mta-sts.<local domain> as text/plain', async (t) => {
  const { listener, config } = await startAdmin(t)
  const answer = await get(listener, '/.well-known/mta-sts.txt')
  assert.equal(answer.status, 200)
  assert.equal(answer.headers['content-type'], 'text/plain')
  assert.equal(
    answer.body,
    'version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmx: *.mx.example.test\r\n' +
      'max_age: 604800\r\n',
  )
  assert.deepEqual(parseStsPolicy(answer.body), {
    mode: 'enforce',
    mx: ['mail.example.test', '*.mx.example.test'],
    maxAgeS: 604800,
  })
  // The Host field's case, port and final dot do not matter.
  for (const host of [
    'MTA-STS.Example.Test',
    'mta-sts.example.test:443',
    'mta-sts.example.test.',
  ]) {
    assert.equal((await get(listener, '/.well-known/mta-sts.txt', { host })).body, answer.body)
  }
  // HEAD gives the same header without the body.
  const head = await get(listener, '/.well-known/mta-sts.txt', { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal(head.headers['content-length'], String(answer.body.length))
  assert.equal(head.body, '')
  // The id for the TXT record is the same on every call, and follows the policy.
  assert.equal(ownPolicyId(config), ownPolicyId({ mtaSts: mtaSts('enforce') }))
  assert.notEqual(ownPolicyId(config), ownPolicyId({ mtaSts: mtaSts('testing') }))
})

test('other hosts and paths get 404, other methods 405', async (t) => {
  const { listener } = await startAdmin(t)
  const path = '/.well-known/mta-sts.txt'
  for (const host of ['mta-sts.other.test', 'example.test', 'www.example.test', '127.0.0.1']) {
    assert.equal((await get(listener, path, { host })).status, 404, host)
  }
  for (const other of ['/', '/.well-known/mta-sts.txt/x', '/well-known/mta-sts.txt', '/admin']) {
    assert.equal((await get(listener, other)).status, 404, other)
  }
  const post = await get(listener, path, { method: 'POST' })
  assert.equal(post.status, 405)
  assert.equal(post.headers.allow, 'GET, HEAD')
  assert.equal((await get(listener, '/healthz', { method: 'DELETE' })).status, 405)
  // A query string changes nothing.
  assert.equal((await get(listener, `${path}?x=1`)).status, 200)
})

test('mode "none" serves no policy', async (t) => {
  const { listener } = await startAdmin(t, 'none')
  assert.equal((await get(listener, '/.well-known/mta-sts.txt')).status, 404)
})

test('/healthz answers ok for any host', async (t) => {
  const { listener } = await startAdmin(t, 'none')
  const answer = await get(listener, '/healthz', { host: 'localhost:2080' })
  assert.equal(answer.status, 200)
  assert.equal(answer.body, 'ok\n')
})

test('one kept-alive connection carries several requests and ends with the listener', async (t) => {
  const { listener } = await startAdmin(t)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  for (let i = 0; i < 3; i += 1) {
    assert.equal((await get(listener, '/healthz', { agent })).status, 200)
  }
  assert.equal(listener.connectionCount, 1)
  const started = Date.now()
  await listener.close(5000)
  assert.ok(Date.now() - started < 2000, 'an idle connection ends at once on shutdown')
})

test('a header section past the bound gets 431, a request that does not parse 400', async (t) => {
  const { listener } = await startAdmin(t)
  const raw = async (text: string) => {
    const socket = connect(listener.port, '127.0.0.1')
    t.after(() => socket.destroy())
    socket.on('error', () => {})
    socket.write(text)
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    await once(socket, 'close')
    return Buffer.concat(chunks).toString('latin1')
  }
  const big = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(MAX_HEADER_OCTETS)}\r\n\r\n`
  assert.match(await raw(big), /^HTTP\/1\.1 431 /)
  assert.match(await raw('NONSENSE\r\n\r\n'), /^HTTP\/1\.1 400 /)
  // HTTP/1.1 without Host is refused (RFC 9112 §3.2).
  assert.match(await raw('GET /healthz HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 400 /)
})
