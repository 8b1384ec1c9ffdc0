import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../config/index.ts'
import { DnsError, type DnsResolver } from '../net/index.ts'
import { silentLogger } from '../util/index.ts'
import { authResultsField, authservIdOf, removeForgedAuthResults } from './auth-results.ts'
import { mailauthResolver } from './dns.ts'
import { createInboundVerifier } from './inbound.ts'

test('the authserv-id: the first token, without comments, quotes, version or case', () => {
  assert.equal(authservIdOf(Buffer.from(' mx.example.test; spf=pass')), 'mx.example.test')
  assert.equal(authservIdOf(Buffer.from(' (c) MX.Example.TEST 1; none')), 'mx.example.test')
  assert.equal(authservIdOf(Buffer.from(' "mx.example.test";\r\n spf=pass')), 'mx.example.test')
  assert.equal(authservIdOf(Buffer.from(' mx.example.test')), 'mx.example.test')
})

test('fields claiming our authserv-id are removed, folded ones whole; others stay', () => {
  const message = Buffer.from(
    [
      'Authentication-Results: MX.example.test;',
      ' dkim=pass header.d=bank.test',
      'Authentication-Results: other.test; spf=pass',
      'Subject: s',
      'authentication-results: mx.example.test 1; none',
      '',
      'Authentication-Results: mx.example.test; in the body',
      '',
    ].join('\r\n'),
  )
  const { message: cleaned, removed } = removeForgedAuthResults(message, 'mx.example.test')
  assert.equal(removed, 2)
  assert.equal(
    cleaned.toString(),
    'Authentication-Results: other.test; spf=pass\r\nSubject: s\r\n\r\nAuthentication-Results: mx.example.test; in the body\r\n',
  )
  const untouched = Buffer.from('Subject: x\r\n\r\nbody\r\n')
  assert.equal(removeForgedAuthResults(untouched, 'mx.example.test').message, untouched)
})

test('our field is picked out of what mailauth returns', () => {
  const headers =
    'Received-SPF: pass (x) client-ip=127.0.0.1;\r\nAuthentication-Results: mx.test;\r\n spf=pass;\r\n dmarc=none\r\n'
  assert.equal(
    authResultsField(headers),
    'Authentication-Results: mx.test;\r\n spf=pass;\r\n dmarc=none\r\n',
  )
  assert.equal(authResultsField(''), '')
})

test('the resolver adapter keeps "no record" apart from "lookup failed"', async () => {
  const failing = (code: 'nxdomain' | 'nodata' | 'temporary') => () =>
    Promise.reject(new DnsError('x', code))
  const resolver: DnsResolver = {
    resolveTxt: async () => [['v=spf1 -all']],
    resolveMx: failing('nodata'),
    resolve4: failing('nxdomain'),
    resolve6: failing('temporary'),
    resolvePtr: async () => ['host.test'],
    resolveCname: failing('nodata'),
  }
  const lookup = mailauthResolver(resolver)
  assert.deepEqual(await lookup('a.test', 'TXT'), [['v=spf1 -all']])
  assert.deepEqual(await lookup('1.0.0.127.in-addr.arpa', 'PTR'), ['host.test'])
  await assert.rejects(lookup('a.test', 'MX'), { code: 'ENODATA' })
  await assert.rejects(lookup('a.test', 'A'), { code: 'ENOTFOUND' })
  await assert.rejects(lookup('a.test', 'AAAA'), { code: 'ESERVFAIL' })
  await assert.rejects(lookup('a.test', 'SRV'), { code: 'ENOTIMP' })
})

test('a sealing key that cannot be read costs the seal, not the message', async () => {
  const none = () => Promise.reject(new DnsError('none', 'nxdomain'))
  const resolver: DnsResolver = {
    resolveTxt: none,
    resolveMx: none,
    resolve4: none,
    resolve6: none,
    resolvePtr: none,
    resolveCname: none,
  }
  const warnings: string[] = []
  const log = {
    ...silentLogger,
    warn: (_: unknown, message?: string) => warnings.push(message ?? ''),
  }
  const verifier = createInboundVerifier({
    hostname: 'mx.example.test',
    config: loadConfig().mailauth,
    resolver,
    log,
    sealKey: () => {
      throw new Error('ENOTDIR: dkim/example.test is not a folder')
    },
  })
  const verdict = await verifier.verify({
    message: Buffer.from('From: a@sender.test\r\nSubject: s\r\n\r\nbody\r\n'),
    ip: '127.0.0.1',
    helo: 'client.sender.test',
    sender: 'a@sender.test',
    recipientDomains: ['example.test'],
    sealDomain: 'example.test',
  })
  assert.equal(verdict.outcome, 'deliver')
  assert.equal(verdict.arcHeaders, '')
  assert.match(String(verdict.summary.arcSeal), /not sealed: ENOTDIR/)
  assert.deepEqual(warnings, ['ARC: cannot read the sealing key'])
})
