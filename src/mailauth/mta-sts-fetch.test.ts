// Fetching a policy file (RFC 8461 §3.3) over real sockets: the loopback DNS names the policy
// host, an HTTPS server with a test CA's certificate plays it.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { type TestContext, test } from 'node:test'
import { startDnsServer } from '../../test/support/dns-server.ts'
import {
  issue,
  type PolicyHost,
  policyText,
  startPolicyHost,
  writeCaFile,
} from '../../test/support/mta-sts.ts'
import { createDnsResolver, DnsError } from '../net/index.ts'
import { MtaStsError } from './mta-sts.ts'
import { fetchPolicyText, MAX_POLICY_OCTETS, type PolicyFetchOptions } from './mta-sts-fetch.ts'

const POLICY = policyText({ mode: 'enforce', mx: ['mx1.b.test'] })

async function setup(
  t: TestContext,
  host?: PolicyHost,
): Promise<{ host: PolicyHost; options: PolicyFetchOptions }> {
  const dns = await startDnsServer(t, {
    'mta-sts.b.test': { A: ['127.0.0.1'] },
    'mta-sts.nohost.test': { TXT: [['x']] },
    'mta-sts.broken.test': { servfail: true },
  })
  const policyHost = host ?? (await startPolicyHost(t, { domains: ['b.test'] }))
  const options = {
    resolver: createDnsResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 }),
    port: policyHost.port,
    ca: readFileSync(await writeCaFile(t)),
    timeoutMs: 2000,
  }
  return { host: policyHost, options }
}

test('the policy comes from mta-sts.<domain> with that name as SNI and Host', async (t) => {
  const { host, options } = await setup(t)
  host.set('b.test', POLICY)
  assert.equal(await fetchPolicyText('b.test', options), POLICY)
  assert.deepEqual(host.requests, [
    {
      host: 'mta-sts.b.test',
      servername: 'mta-sts.b.test',
      method: 'GET',
      path: '/.well-known/mta-sts.txt',
    },
  ])
})

test('only a 200 is a policy: redirects are not followed (RFC 8461 §3.3)', async (t) => {
  const { host, options } = await setup(t)
  host.set('b.test', {
    status: 301,
    headers: { Location: 'https://mta-sts.b.test/elsewhere' },
    body: POLICY,
  })
  await assert.rejects(fetchPolicyText('b.test', options), /answered HTTP 301/)
  host.set('b.test', { status: 404, body: 'no' })
  await assert.rejects(fetchPolicyText('b.test', options), /answered HTTP 404/)
  assert.equal(host.requests.length, 2, 'one request each, nothing followed')
})

test('a policy served as anything but text/plain is refused', async (t) => {
  const { host, options } = await setup(t)
  host.set('b.test', { contentType: 'text/html', body: POLICY })
  await assert.rejects(fetchPolicyText('b.test', options), /text\/html, not text\/plain/)
  host.set('b.test', { contentType: 'text/plain; charset=utf-8', body: POLICY })
  assert.equal(await fetchPolicyText('b.test', options), POLICY)
})

test('a policy larger than 64 KiB is refused', async (t) => {
  const { host, options } = await setup(t)
  host.set('b.test', `${POLICY}${'x: y\r\n'.repeat(MAX_POLICY_OCTETS / 6 + 1)}`)
  await assert.rejects(fetchPolicyText('b.test', options), MtaStsError)
})

test('a certificate for another name, or from an untrusted CA, is refused', async (t) => {
  const wrong = await startPolicyHost(t, {
    domains: ['b.test'],
    certificate: await issue(['mta-sts.other.test']),
  })
  const { options } = await setup(t, wrong)
  wrong.set('b.test', POLICY)
  await assert.rejects(fetchPolicyText('b.test', options), /mta-sts\.b\.test/)

  const right = await startPolicyHost(t, { domains: ['b.test'] })
  right.set('b.test', POLICY)
  // Without the test CA only the system's CAs are trusted.
  await assert.rejects(
    fetchPolicyText('b.test', { ...options, port: right.port, ca: null }),
    /certificate/,
  )
  const selfSigned = await startPolicyHost(t, {
    domains: ['b.test'],
    certificate: await issue(['mta-sts.b.test'], { selfSigned: true }),
  })
  selfSigned.set('b.test', POLICY)
  await assert.rejects(
    fetchPolicyText('b.test', { ...options, port: selfSigned.port }),
    /certificate/,
  )
})

test('a policy host that does not answer fails within the timeout', async (t) => {
  const { host, options } = await setup(t)
  host.set('b.test', { hang: true })
  const started = Date.now()
  await assert.rejects(fetchPolicyText('b.test', { ...options, timeoutMs: 300 }), /within 300 ms/)
  assert.ok(Date.now() - started < 2000)
})

test('a policy host without an address, or a failed lookup, fails the fetch', async (t) => {
  const { options } = await setup(t)
  await assert.rejects(
    fetchPolicyText('nohost.test', options),
    /mta-sts.nohost.test has no address/,
  )
  await assert.rejects(fetchPolicyText('absent.test', options), /has no address/)
  await assert.rejects(
    fetchPolicyText('broken.test', options),
    (error) => error instanceof DnsError && error.code === 'temporary',
  )
})
