import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type DnsZone, startDnsServer } from '../../test/support/dns-server.ts'
import { createDnsResolver } from '../net/index.ts'
import { MAX_MX_HOSTS, type Route, RouteError, resolveRoute } from './route.ts'

async function serve(t: TestContext, zone: DnsZone) {
  const server = await startDnsServer(t, zone)
  const resolver = createDnsResolver({ servers: server.servers, timeoutMs: 100, tries: 1 })
  return { server, resolver }
}

/** The host names of a 'hosts' route, in order. */
function names(route: Route): string[] {
  assert.equal(route.kind, 'hosts')
  return route.kind === 'hosts' ? route.hosts.map((host) => host.name) : []
}

/** A `random` that returns `values` in turn. */
function sequence(...values: number[]): () => number {
  let next = 0
  return () => values[next++ % values.length] ?? 0
}

test('MX hosts come in preference order, each with its A then AAAA addresses', async (t) => {
  const { resolver } = await serve(t, {
    'example.test': {
      MX: [
        { exchange: 'backup.example.test', priority: 20 },
        { exchange: 'MX1.Example.Test.', priority: 10 },
      ],
    },
    'mx1.example.test': { A: ['192.0.2.1', '192.0.2.2'], AAAA: ['2001:db8::1'] },
    'backup.example.test': { AAAA: ['2001:db8::2'] },
  })
  assert.deepEqual(await resolveRoute('example.test', resolver), {
    kind: 'hosts',
    hosts: [
      {
        name: 'mx1.example.test',
        preference: 10,
        addresses: ['192.0.2.1', '192.0.2.2', '2001:db8::1'],
        isImplicit: false,
      },
      {
        name: 'backup.example.test',
        preference: 20,
        addresses: ['2001:db8::2'],
        isImplicit: false,
      },
    ],
  })
})

test('MX hosts of equal preference are ordered by the random source', async (t) => {
  const { resolver } = await serve(t, {
    'example.test': {
      MX: [
        { exchange: 'a.example.test', priority: 10 },
        { exchange: 'b.example.test', priority: 10 },
        { exchange: 'c.example.test', priority: 5 },
      ],
    },
    'a.example.test': { A: ['192.0.2.1'] },
    'b.example.test': { A: ['192.0.2.2'] },
    'c.example.test': { A: ['192.0.2.3'] },
  })
  // One value per record, in the order the records came.
  const aFirst = await resolveRoute('example.test', resolver, { random: sequence(0.1, 0.9, 0.5) })
  assert.deepEqual(names(aFirst), ['c.example.test', 'a.example.test', 'b.example.test'])
  const bFirst = await resolveRoute('example.test', resolver, { random: sequence(0.9, 0.1, 0.5) })
  assert.deepEqual(names(bFirst), ['c.example.test', 'b.example.test', 'a.example.test'])
})

test('by default both orders of two equal MX hosts happen', async (t) => {
  const { resolver } = await serve(t, {
    'example.test': {
      MX: [
        { exchange: 'a.example.test', priority: 10 },
        { exchange: 'b.example.test', priority: 10 },
      ],
    },
    'a.example.test': { A: ['192.0.2.1'] },
    'b.example.test': { A: ['192.0.2.2'] },
  })
  const firsts = new Set<string | undefined>()
  // Both orders are equally likely: one order 40 times in a row has odds of 2 in 2^40.
  for (let run = 0; run < 40 && firsts.size < 2; run += 1) {
    firsts.add(names(await resolveRoute('example.test', resolver))[0])
  }
  assert.deepEqual([...firsts].sort(), ['a.example.test', 'b.example.test'])
})

test('without MX records the domain itself is the host (implicit MX)', async (t) => {
  const { server, resolver } = await serve(t, {
    'example.test': { A: ['192.0.2.1'], AAAA: ['2001:db8::1'], TXT: [['v=spf1 -all']] },
  })
  assert.deepEqual(await resolveRoute('Example.Test', resolver), {
    kind: 'hosts',
    hosts: [
      {
        name: 'example.test',
        preference: 0,
        addresses: ['192.0.2.1', '2001:db8::1'],
        isImplicit: true,
      },
    ],
  })
  assert.deepEqual(
    server.queries.map((query) => query.type),
    ['MX', 'A', 'AAAA'],
  )
})

test('an implicit MX without addresses is no-hosts', async (t) => {
  const { resolver } = await serve(t, { 'example.test': { TXT: [['no mail here']] } })
  assert.deepEqual(await resolveRoute('example.test', resolver), {
    kind: 'no-hosts',
    reason: 'example.test has no MX record and no address of its own (no A or AAAA record)',
  })
})

test('an implicit MX whose address lookups fail is a RouteError', async (t) => {
  const { resolver: mxNodata } = await serve(t, { 'example.test': { TXT: [['no mail here']] } })
  const { resolver: failing } = await serve(t, { 'example.test': { servfail: true } })
  // NODATA for MX from one server, SERVFAIL for A and AAAA from the other.
  const resolver = { ...mxNodata, resolve4: failing.resolve4, resolve6: failing.resolve6 }
  await assert.rejects(
    resolveRoute('example.test', resolver),
    (error: unknown) =>
      error instanceof RouteError && /address lookup.*ESERVFAIL/.test(error.message),
  )
})

test('a null MX says the domain takes no mail, and no address is looked up', async (t) => {
  const { server, resolver } = await serve(t, {
    'example.test': { MX: [{ exchange: '', priority: 0 }], A: ['192.0.2.1'] },
    'dot.test': { MX: [{ exchange: '.', priority: 0 }] },
  })
  assert.deepEqual(await resolveRoute('example.test', resolver), { kind: 'null-mx' })
  assert.deepEqual(await resolveRoute('dot.test', resolver), { kind: 'null-mx' })
  assert.deepEqual(
    server.queries.map((query) => query.type),
    ['MX', 'MX'],
  )
})

test('a root exchange beside other MX records is skipped, not taken as null MX', async (t) => {
  const { resolver } = await serve(t, {
    'example.test': {
      MX: [
        { exchange: '', priority: 0 },
        { exchange: 'mx.example.test', priority: 10 },
      ],
    },
    'mx.example.test': { A: ['192.0.2.1'] },
  })
  assert.deepEqual(names(await resolveRoute('example.test', resolver)), ['mx.example.test'])
})

test('NXDOMAIN for the MX query is no-such-domain, without an address lookup', async (t) => {
  const { server, resolver } = await serve(t, {})
  assert.deepEqual(await resolveRoute('nowhere.test', resolver), { kind: 'no-such-domain' })
  assert.deepEqual(server.queries, [{ name: 'nowhere.test', type: 'MX' }])
})

test('SERVFAIL for the MX query is a RouteError, never a fall back to A', async (t) => {
  const { server, resolver } = await serve(t, {
    'example.test': { servfail: true, A: ['192.0.2.1'] },
  })
  await assert.rejects(resolveRoute('example.test', resolver), (error: unknown) => {
    assert.ok(error instanceof RouteError)
    assert.equal(error.name, 'RouteError')
    assert.match(error.message, /MX lookup for example\.test failed: .*ESERVFAIL/)
    return true
  })
  assert.deepEqual(server.queries, [{ name: 'example.test', type: 'MX' }])
})

test('a timeout on the MX query is a RouteError', async (t) => {
  const { resolver } = await serve(t, { 'example.test': { hang: true } })
  await assert.rejects(resolveRoute('example.test', resolver), /ETIMEOUT/)
})

test('an address literal is its own host, without DNS', async (t) => {
  const { server, resolver } = await serve(t, {})
  assert.deepEqual(await resolveRoute('[192.0.2.1]', resolver), {
    kind: 'hosts',
    hosts: [{ name: '192.0.2.1', preference: 0, addresses: ['192.0.2.1'], isImplicit: true }],
  })
  assert.deepEqual(await resolveRoute('[IPv6:2001:DB8:0::1]', resolver), {
    kind: 'hosts',
    hosts: [{ name: '2001:db8::1', preference: 0, addresses: ['2001:db8::1'], isImplicit: true }],
  })
  assert.deepEqual(names(await resolveRoute('[ipv6:::1]', resolver)), ['::1'])
  for (const bad of ['[2001:db8::1]', '[IPv6:192.0.2.1]', '[192.0.2.256]', '[x:y]', '[192.0.2.1']) {
    assert.deepEqual(await resolveRoute(bad, resolver), { kind: 'no-such-domain' }, bad)
  }
  assert.deepEqual(server.queries, [])
})

test('an IDN domain is looked up in A-labels', async (t) => {
  const { server, resolver } = await serve(t, {
    'xn--bcher-kva.example': { MX: [{ exchange: 'mx.xn--bcher-kva.example', priority: 10 }] },
    'mx.xn--bcher-kva.example': { A: ['192.0.2.1'] },
  })
  assert.deepEqual(names(await resolveRoute('bücher.example', resolver)), [
    'mx.xn--bcher-kva.example',
  ])
  assert.deepEqual(server.queries[0], { name: 'xn--bcher-kva.example', type: 'MX' })
})

test('what is no domain is no-such-domain, without DNS', async (t) => {
  const { server, resolver } = await serve(t, {})
  const tooLong = `${'a'.repeat(64)}.example`
  for (const bad of ['', '.', 'a..example', 'xn--iñvalid.example', '192.0.2.1', tooLong]) {
    assert.deepEqual(await resolveRoute(bad, resolver), { kind: 'no-such-domain' }, bad)
  }
  assert.deepEqual(server.queries, [])
})

test('an MX host without an address is skipped', async (t) => {
  const { resolver } = await serve(t, {
    'example.test': {
      MX: [
        { exchange: 'gone.example.test', priority: 5 },
        { exchange: 'empty.example.test', priority: 10 },
        { exchange: 'mx.example.test', priority: 20 },
      ],
    },
    'empty.example.test': { TXT: [['no address']] },
    'mx.example.test': { A: ['192.0.2.1'] },
  })
  assert.deepEqual(names(await resolveRoute('example.test', resolver)), ['mx.example.test'])
})

test('MX hosts that all have no address are no-hosts, naming each', async (t) => {
  const { resolver } = await serve(t, {
    'example.test': {
      MX: [
        { exchange: 'gone.example.test', priority: 10 },
        { exchange: 'empty.example.test', priority: 20 },
      ],
    },
    'empty.example.test': { TXT: [['no address']] },
  })
  assert.deepEqual(await resolveRoute('example.test', resolver), {
    kind: 'no-hosts',
    reason:
      'no MX host of example.test has an address ' +
      '(gone.example.test: no such host; empty.example.test: no A or AAAA record)',
  })
})

test('a host that fails for now is skipped when another has an address', async (t) => {
  const { resolver } = await serve(t, {
    'example.test': {
      MX: [
        { exchange: 'broken.example.test', priority: 10 },
        { exchange: 'mx.example.test', priority: 20 },
      ],
    },
    'broken.example.test': { servfail: true },
    'mx.example.test': { A: ['192.0.2.1'] },
  })
  assert.deepEqual(names(await resolveRoute('example.test', resolver)), ['mx.example.test'])
})

test('without any address, one temporary failure makes it a RouteError', async (t) => {
  const { resolver } = await serve(t, {
    'example.test': {
      MX: [
        { exchange: 'slow.example.test', priority: 10 },
        { exchange: 'gone.example.test', priority: 20 },
      ],
    },
    'slow.example.test': { hang: true },
  })
  await assert.rejects(resolveRoute('example.test', resolver), (error: unknown) => {
    assert.ok(error instanceof RouteError)
    assert.match(
      error.message,
      /slow\.example\.test: .*ETIMEOUT.*gone\.example\.test: no such host/,
    )
    return true
  })
})

test('an MX exchange that is an IP address is used as it is', async (t) => {
  const { server, resolver } = await serve(t, {
    'example.test': { MX: [{ exchange: '192.0.2.9', priority: 10 }] },
  })
  assert.deepEqual(await resolveRoute('example.test', resolver), {
    kind: 'hosts',
    hosts: [{ name: '192.0.2.9', preference: 10, addresses: ['192.0.2.9'], isImplicit: false }],
  })
  assert.deepEqual(server.queries, [{ name: 'example.test', type: 'MX' }])
})

test('an exchange listed twice is one host, at its best preference', async (t) => {
  const { server, resolver } = await serve(t, {
    'example.test': {
      MX: [
        { exchange: 'mx.example.test', priority: 20 },
        { exchange: 'MX.example.test.', priority: 10 },
      ],
    },
    'mx.example.test': { A: ['192.0.2.1'] },
  })
  const route = await resolveRoute('example.test', resolver)
  assert.deepEqual(route.kind === 'hosts' && route.hosts.map((host) => host.preference), [10])
  assert.equal(server.queries.filter((query) => query.type === 'A').length, 1)
})

test(`at most ${MAX_MX_HOSTS} MX hosts are looked up, the most preferred`, async (t) => {
  const zone: DnsZone = { 'example.test': { MX: [] } }
  const mx = []
  for (let n = 1; n <= MAX_MX_HOSTS + 2; n += 1) {
    mx.push({ exchange: `mx${n}.example.test`, priority: n })
    zone[`mx${n}.example.test`] = { A: [`192.0.2.${n}`] }
  }
  zone['example.test'] = { MX: mx.reverse() }
  const { server, resolver } = await serve(t, zone)
  const route = await resolveRoute('example.test', resolver)
  assert.deepEqual(
    names(route),
    Array.from({ length: MAX_MX_HOSTS }, (_, index) => `mx${index + 1}.example.test`),
  )
  const asked = new Set(server.queries.map((query) => query.name))
  assert.equal(asked.has(`mx${MAX_MX_HOSTS + 1}.example.test`), false)
})
