import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type DnsZone, startDnsServer } from '../../test/support/dns-server.ts'
import { createDnsResolver, DnsError, type DnsErrorCode } from './dns-resolver.ts'

async function resolverFor(t: TestContext, zone: DnsZone) {
  const server = await startDnsServer(t, zone)
  return createDnsResolver({ servers: server.servers, timeoutMs: 100, tries: 1 })
}

async function dnsFailure(lookup: Promise<unknown>): Promise<DnsError> {
  try {
    await lookup
  } catch (error) {
    assert.ok(error instanceof DnsError, `not a DnsError: ${String(error)}`)
    return error
  }
  assert.fail('the lookup succeeded')
}

async function codeOf(lookup: Promise<unknown>): Promise<DnsErrorCode> {
  return (await dnsFailure(lookup)).code
}

test('the resolver returns A, AAAA, MX and TXT records from the configured server', async (t) => {
  const resolver = await resolverFor(t, {
    'example.test': {
      MX: [{ exchange: 'mail.example.test', priority: 10 }],
      TXT: [['v=spf1 ', '-all']],
    },
    'mail.example.test': { A: ['192.0.2.1'], AAAA: ['2001:db8::1'] },
  })
  assert.deepEqual(await resolver.resolveMx('example.test'), [
    { exchange: 'mail.example.test', priority: 10 },
  ])
  assert.deepEqual(await resolver.resolve4('mail.example.test'), ['192.0.2.1'])
  assert.deepEqual(await resolver.resolve6('mail.example.test'), ['2001:db8::1'])
  assert.deepEqual(await resolver.resolveTxt('example.test'), [['v=spf1 ', '-all']])
})

test('NXDOMAIN and NODATA map to their codes, keeping the original message', async (t) => {
  const resolver = await resolverFor(t, { 'example.test': { A: ['192.0.2.1'] } })
  const nxdomain = await dnsFailure(resolver.resolveMx('nowhere.test'))
  assert.equal(nxdomain.code, 'nxdomain')
  assert.equal(nxdomain.name, 'DnsError')
  assert.match(nxdomain.message, /ENOTFOUND nowhere\.test/)
  assert.ok(nxdomain.cause instanceof Error)
  const nodata = await dnsFailure(resolver.resolve6('example.test'))
  assert.equal(nodata.code, 'nodata')
  assert.match(nodata.message, /ENODATA example\.test/)
})

test('SERVFAIL, a timeout and a refused connection are temporary', async (t) => {
  const server = await startDnsServer(t, {
    'broken.test': { servfail: true },
    'slow.test': { hang: true },
  })
  const resolver = createDnsResolver({ servers: server.servers, timeoutMs: 100, tries: 1 })
  const servfail = await dnsFailure(resolver.resolve4('broken.test'))
  assert.equal(servfail.code, 'temporary')
  assert.match(servfail.message, /ESERVFAIL/)
  const timeout = await dnsFailure(resolver.resolveTxt('slow.test'))
  assert.equal(timeout.code, 'temporary')
  assert.match(timeout.message, /ETIMEOUT/)
  await server.close()
  const refused = await dnsFailure(resolver.resolveMx('broken.test'))
  assert.equal(refused.code, 'temporary')
  assert.match(refused.message, /ECONNREFUSED/)
})

test('tries counts the queries sent to a server that never answers', async (t) => {
  const server = await startDnsServer(t, { 'slow.test': { hang: true } })
  const resolver = createDnsResolver({ servers: server.servers, timeoutMs: 50, tries: 3 })
  assert.equal(await codeOf(resolver.resolve4('slow.test')), 'temporary')
  assert.equal(server.queries.length, 3)
})

test('an IPv6 server is accepted in brackets, and no servers means the system resolver', () => {
  // setServers throws on a spelling it does not take; nothing is queried here.
  assert.doesNotThrow(() => createDnsResolver({ servers: [{ host: '::1', port: 5353 }] }))
  assert.doesNotThrow(() => createDnsResolver({ servers: [] }))
})
