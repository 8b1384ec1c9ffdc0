// The policy cache (RFC 8461 §3.3, §5.1): when the TXT record is asked for, when the policy is
// fetched again, what a failure leaves in force, and what survives a restart. The DNS and the
// policy host are stand-ins here; mta-sts-fetch.test.ts and test/e2e/mta-sts.test.ts use real
// ones.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { recordingLogger } from '../../test/support/mta-sts.ts'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { createDnsResolver, DnsError, type DnsResolver } from '../net/index.ts'
import {
  CACHE_FILE,
  FETCH_RETRY_MS,
  MAX_DOMAINS,
  MtaStsPolicies,
  REFRESH_MS,
  TXT_RECHECK_MS,
} from './mta-sts-cache.ts'

const ENFORCE = 'version: STSv1\nmode: enforce\nmx: mx.b.test\nmax_age: 86400\n'
const TESTING = 'version: STSv1\nmode: testing\nmx: *.b.test\nmax_age: 86400\n'

interface Rig {
  policies: MtaStsPolicies
  /** The TXT answer for _mta-sts.b.test: an id, a DnsError code, or records as given. */
  txt: { value: string | 'nxdomain' | 'temporary' | string[][] }
  /** The policy text the host serves, or an Error it fails with. */
  served: { value: string | Error }
  txtLookups: string[]
  fetches: string[]
  clock: { now: number }
  log: ReturnType<typeof recordingLogger>
  file: string
}

function rig(t: TestContext, file?: string): Rig {
  const clock = { now: Date.UTC(2025, 0, 1) }
  const txt: Rig['txt'] = { value: 'id1' }
  const served: Rig['served'] = { value: ENFORCE }
  const txtLookups: string[] = []
  const fetches: string[] = []
  // Only the TXT lookup is asked for here; the rest go to a port where nothing answers.
  const resolver: DnsResolver = {
    ...createDnsResolver({ servers: [{ host: '127.0.0.1', port: 9 }] }),
    resolveTxt: async (name) => {
      txtLookups.push(name)
      const { value } = txt
      if (Array.isArray(value)) return value
      if (value === 'nxdomain' || value === 'temporary') throw new DnsError('lookup', value)
      return [[`v=STSv1; id=${value}`]]
    },
  }
  const log = recordingLogger()
  const cacheFile = file ?? path.join(makeTempDir(t), CACHE_FILE)
  const policies = new MtaStsPolicies({
    resolver,
    ca: null,
    fetchPolicy: async (domain) => {
      fetches.push(domain)
      if (served.value instanceof Error) throw served.value
      return served.value
    },
    file: cacheFile,
    log,
    now: () => clock.now,
  })
  return { policies, txt, served, txtLookups, fetches, clock, log, file: cacheFile }
}

test('a domain without a TXT record has no policy, and nothing is fetched', async (t) => {
  const r = rig(t)
  r.txt.value = 'nxdomain'
  assert.equal(await r.policies.policyFor('b.test'), null)
  r.txt.value = [['v=spf1 -all']]
  r.clock.now += TXT_RECHECK_MS
  assert.equal(await r.policies.policyFor('b.test'), null)
  assert.deepEqual(r.fetches, [])
  assert.deepEqual(r.txtLookups, ['_mta-sts.b.test', '_mta-sts.b.test'])
})

test('a policy is fetched once, then served from the cache until the TXT is asked again', async (t) => {
  const r = rig(t)
  const policy = await r.policies.policyFor('B.Test.')
  assert.deepEqual(policy, {
    domain: 'b.test',
    id: 'id1',
    mode: 'enforce',
    mx: ['mx.b.test'],
    maxAgeS: 86400,
    fetchedAt: r.clock.now,
  })
  // Within the recheck interval not even the DNS is asked.
  r.clock.now += TXT_RECHECK_MS - 1
  assert.deepEqual(await r.policies.policyFor('b.test'), policy)
  assert.equal(r.txtLookups.length, 1)
  // After it, the TXT is asked; the id is the same, so there is no fetch.
  r.clock.now += 2
  assert.deepEqual(await r.policies.policyFor('b.test'), policy)
  assert.equal(r.txtLookups.length, 2)
  assert.deepEqual(r.fetches, ['b.test'])
  assert.equal(r.log.lines.filter((l) => l.message === 'MTA-STS: policy fetched').length, 1)
})

test('deliveries at the same moment share one lookup and one fetch', async (t) => {
  const r = rig(t)
  const all = await Promise.all([1, 2, 3].map(() => r.policies.policyFor('b.test')))
  assert.ok(all.every((policy) => policy?.id === 'id1'))
  assert.equal(r.txtLookups.length, 1)
  assert.equal(r.fetches.length, 1)
})

test('a new id in the TXT record fetches the policy again (RFC 8461 §3.1)', async (t) => {
  const r = rig(t)
  await r.policies.policyFor('b.test')
  r.txt.value = 'id2'
  r.served.value = TESTING
  r.clock.now += TXT_RECHECK_MS
  const policy = await r.policies.policyFor('b.test')
  assert.equal(policy?.id, 'id2')
  assert.equal(policy?.mode, 'testing')
  assert.equal(r.fetches.length, 2)
})

test('an unchanged id is fetched again once a day (RFC 8461 §3.3)', async (t) => {
  const r = rig(t)
  await r.policies.policyFor('b.test')
  r.clock.now += REFRESH_MS
  const policy = await r.policies.policyFor('b.test')
  assert.equal(r.fetches.length, 2)
  assert.equal(policy?.fetchedAt, r.clock.now, 'the refresh extends the policy')
})

test('a failed fetch keeps the cached policy; with none cached there is no policy', async (t) => {
  const r = rig(t)
  const cached = await r.policies.policyFor('b.test')
  r.txt.value = 'id2'
  r.served.value = new Error('connection refused')
  r.clock.now += TXT_RECHECK_MS
  assert.deepEqual(await r.policies.policyFor('b.test'), cached)
  const warning = r.log.lines.find((l) => l.level === 'warn')
  assert.equal(warning?.message, 'MTA-STS: policy fetch failed; applying the cached policy')
  assert.equal(warning?.fields.reason, 'connection refused')

  const fresh = rig(t)
  fresh.served.value = new Error('connection refused')
  assert.equal(await fresh.policies.policyFor('b.test'), null)
  assert.match(
    fresh.log.lines.find((l) => l.level === 'warn')?.message ?? '',
    /nothing is cached; delivering as without a policy/,
  )
})

test('an invalid policy counts as a failed fetch', async (t) => {
  const r = rig(t)
  r.served.value = 'version: STSv1\nmode: enforce\nmax_age: 86400\n'
  assert.equal(await r.policies.policyFor('b.test'), null)
  assert.match(String(r.log.lines.at(-1)?.fields.reason), /invalid policy/)
})

test('a failed fetch of an id is not tried again for five minutes (RFC 8461 §3.3)', async (t) => {
  const r = rig(t)
  r.served.value = new Error('timeout')
  assert.equal(await r.policies.policyFor('b.test'), null)
  r.served.value = ENFORCE
  r.clock.now += TXT_RECHECK_MS
  assert.equal(await r.policies.policyFor('b.test'), null)
  assert.equal(r.fetches.length, 1)
  r.clock.now += FETCH_RETRY_MS
  assert.equal((await r.policies.policyFor('b.test'))?.mode, 'enforce')
  assert.equal(r.fetches.length, 2)
})

test('a cached policy outlives a TXT record that went away or a DNS failure (RFC 8461 §3.3)', async (t) => {
  const r = rig(t)
  const cached = await r.policies.policyFor('b.test')
  for (const value of ['nxdomain', 'temporary', [['v=STSv1; id=a'], ['v=STSv1; id=b']]]) {
    r.txt.value = value as Rig['txt']['value']
    r.clock.now += TXT_RECHECK_MS
    assert.deepEqual(await r.policies.policyFor('b.test'), cached, String(value))
  }
  assert.equal(r.fetches.length, 1)
})

test('a DNS failure with nothing cached means no policy, with a warning', async (t) => {
  const r = rig(t)
  r.txt.value = 'temporary'
  assert.equal(await r.policies.policyFor('b.test'), null)
  assert.deepEqual(r.fetches, [])
  assert.match(r.log.lines.at(-1)?.message ?? '', /lookup failed and nothing is cached/)
})

test('an expired policy is not used: it is fetched again, and without one there is none', async (t) => {
  const r = rig(t)
  await r.policies.policyFor('b.test')
  r.clock.now += 86_400_000 // max_age
  r.served.value = new Error('gone')
  assert.equal(await r.policies.policyFor('b.test'), null)
  assert.equal(r.fetches.length, 2)
  // Nor does an expired policy survive a DNS failure.
  r.txt.value = 'temporary'
  r.clock.now += FETCH_RETRY_MS
  assert.equal(await r.policies.policyFor('b.test'), null)
})

test('policies survive a restart through the cache file; expired ones do not', async (t) => {
  const first = rig(t)
  const policy = await first.policies.policyFor('b.test')
  assert.ok(existsSync(first.file))
  const stored = JSON.parse(readFileSync(first.file, 'utf8'))
  assert.deepEqual(stored.policies, [policy])

  // After the restart the policy host is down: the persisted policy applies.
  const second = rig(t, first.file)
  second.clock.now = first.clock.now + 3_600_000
  second.txt.value = 'id2'
  second.served.value = new Error('down')
  assert.deepEqual(await second.policies.policyFor('b.test'), policy)

  // A day later it has expired.
  const third = rig(t, first.file)
  third.clock.now = first.clock.now + 86_400_000
  third.served.value = new Error('down')
  assert.equal(await third.policies.policyFor('b.test'), null)
})

test('an unreadable cache file is reported and the cache starts empty', async (t) => {
  const file = path.join(makeTempDir(t), CACHE_FILE)
  writeFileSync(file, '{ not json')
  const r = rig(t, file)
  assert.equal((await r.policies.policyFor('b.test'))?.id, 'id1')
  assert.match(r.log.lines[0]?.message ?? '', /cache file unreadable/)
  // And it is written anew.
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).policies.length, 1)
})

test('memory stays bounded, and domains with a policy are kept longest', async (t) => {
  const r = rig(t)
  const policy = await r.policies.policyFor('b.test')
  r.txt.value = 'nxdomain'
  for (let i = 0; i < MAX_DOMAINS + 10; i += 1) await r.policies.policyFor(`d${i}.test`)
  // b.test is still known without asking again; the first domains without one were forgotten.
  const asked = r.txtLookups.length
  assert.deepEqual(await r.policies.policyFor('b.test'), policy)
  assert.equal(await r.policies.policyFor(`d${MAX_DOMAINS + 9}.test`), null)
  assert.equal(r.txtLookups.length, asked)
  assert.equal(await r.policies.policyFor('d0.test'), null)
  assert.equal(r.txtLookups.length, asked + 1)
})
