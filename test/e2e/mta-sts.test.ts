// MTA-STS (RFC 8461) on the outbound queue, end to end: node A (mx.a.test on 127.0.0.2, user
// alice) relays to b.test, whose MX hosts are scripted SMTP servers on 127.0.0.3 and 127.0.0.4
// with certificates from a test CA; the loopback DNS publishes `_mta-sts.b.test`, and an HTTPS
// server on 127.0.0.1 with the same CA's certificate plays mta-sts.b.test. Node A trusts that CA
// through `[mta_sts] ca_file` and fetches from the policy host's port.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import type { QueueRecipient } from '../../src/store/index.ts'
import { type DnsZone, startDnsServer, type TestDnsServer } from '../support/dns-server.ts'
import {
  DEFAULT_EXTENSIONS,
  type FakeSmtp,
  type FakeSmtpOptions,
  startFakeSmtp,
} from '../support/fake-smtp.ts'
import { getFreePorts } from '../support/free-port.ts'
import {
  issue,
  type LoggedNode,
  type LogLine,
  type PolicyHost,
  policyText,
  startLoggedNode,
  startPolicyHost,
  stsZone,
  writeCaFile,
} from '../support/mta-sts.ts'
import { eventually, mailboxWith, submit } from '../support/postern-node.ts'

const ALICE = { address: 'alice@a.test', password: 'alice-secret-1' }
const A_HOST = '127.0.0.2'
const FIRST = '127.0.0.3'
const SECOND = '127.0.0.4'
const STARTTLS = [...DEFAULT_EXTENSIONS, 'STARTTLS']

interface Setup {
  port: number
  dns: TestDnsServer
  policyHost: PolicyHost
  a: LoggedNode
}

/**
 * The DNS (a.test; b.test with MX mx1.b.test and mx2.b.test; `_mta-sts.b.test` unless `policy`
 * is null), the policy host serving `policy`, and node A.
 */
async function setup(
  t: TestContext,
  policy: { mode: string; mx: string[] } | null,
  options: { queue?: string } = {},
): Promise<Setup> {
  const [port = 0] = await getFreePorts(1)
  const zone: DnsZone = {
    'a.test': { MX: [{ exchange: 'mx.a.test', priority: 10 }] },
    'mx.a.test': { A: [A_HOST] },
    'b.test': {
      MX: [
        { exchange: 'mx1.b.test', priority: 10 },
        { exchange: 'mx2.b.test', priority: 20 },
      ],
    },
    'mx1.b.test': { A: [FIRST] },
    'mx2.b.test': { A: [SECOND] },
    ...(policy !== null && stsZone('b.test', 'policy1')),
  }
  const dns = await startDnsServer(t, zone)
  const policyHost = await startPolicyHost(t, { domains: ['b.test'] })
  if (policy !== null) policyHost.set('b.test', policyText(policy))
  const a = await startLoggedNode(t, {
    hostname: 'mx.a.test',
    address: A_HOST,
    port,
    dnsPort: dns.port,
    users: [ALICE],
    toml: [
      '[queue]',
      'retry_min_ms = 60000',
      'poll_ms = 50',
      options.queue ?? '',
      '[relay]',
      `port = ${port}`,
      `source_address = "${A_HOST}"`,
      'command_timeout_ms = 2000',
      'connect_timeout_ms = 500',
      '[mta_sts]',
      `https_port = ${policyHost.port}`,
      `ca_file = "${await writeCaFile(t)}"`,
      'fetch_timeout_ms = 2000',
    ].join('\n'),
  })
  return { port, dns, policyHost, a }
}

/** An MX host of b.test; STARTTLS with a certificate for `certificateFor` when it is given. */
async function mx(
  t: TestContext,
  s: Setup,
  host: string,
  certificateFor: string | null,
  options: Partial<FakeSmtpOptions> = {},
): Promise<FakeSmtp> {
  return startFakeSmtp(t, {
    host,
    port: s.port,
    extensions: certificateFor === null ? DEFAULT_EXTENSIONS : STARTTLS,
    ...(certificateFor !== null && { certificate: await issue([certificateFor]) }),
    ...options,
  })
}

async function send(s: Setup, subject: string): Promise<void> {
  await submit({
    host: A_HOST,
    port: s.port + 1,
    user: ALICE,
    to: ['bob@b.test'],
    message: `From: alice@a.test\r\nTo: bob@b.test\r\nSubject: ${subject}\r\n\r\nHello.\r\n`,
  })
}

function delivered(server: FakeSmtp): Promise<true> {
  return eventually(
    async () => (server.transactions.length > 0 ? true : undefined),
    10_000,
    'the delivery',
  )
}

function deferred(s: Setup): Promise<QueueRecipient> {
  return eventually(
    async () => {
      const [entry] = await s.a.store.listQueue()
      const recipient = entry?.recipients[0]
      return recipient?.status === 'deferred' ? recipient : undefined
    },
    10_000,
    'the deferral',
  )
}

/** The node's MTA-STS warnings. */
function stsWarnings(s: Setup): LogLine[] {
  return s.a.log.lines.filter((line) => line.level === 'warn' && line.message.includes('MTA-STS'))
}

function warnings(s: Setup): string[] {
  return stsWarnings(s).map((line) => line.message)
}

test('enforce: a listed MX with STARTTLS and a valid certificate gets the message', async (t) => {
  const s = await setup(t, { mode: 'enforce', mx: ['*.b.test'] })
  const first = await mx(t, s, FIRST, 'mx1.b.test')
  await send(s, 'enforced')
  await delivered(first)
  assert.ok(first.commands.includes('STARTTLS'))
  assert.deepEqual(first.transactions[0]?.to, ['bob@b.test'])
  assert.deepEqual(
    s.policyHost.requests.map((r) => `${r.servername} ${r.path}`),
    ['mta-sts.b.test /.well-known/mta-sts.txt'],
  )
  // The policy is kept in the data dir for the next start.
  const file = path.join(s.a.dataDir, 'mta-sts-cache.json')
  assert.ok(existsSync(file))
  const [cached] = JSON.parse(readFileSync(file, 'utf8')).policies
  assert.equal(cached.domain, 'b.test')
  assert.equal(cached.id, 'policy1')
  assert.equal(cached.mode, 'enforce')
  assert.deepEqual(warnings(s), [])
})

test('enforce: a host without STARTTLS is deferred with 4.7.5 and nothing is sent', async (t) => {
  const s = await setup(
    t,
    { mode: 'enforce', mx: ['mx1.b.test'] },
    { queue: 'delay_warning_ms = 1' },
  )
  const first = await mx(t, s, FIRST, null)
  await send(s, 'no starttls')
  const recipient = await deferred(s)
  assert.match(
    recipient.lastReply ?? '',
    /^MTA-STS policy of b\.test \(mode enforce\) not met.*: no STARTTLS offered$/,
  )
  assert.ok(!first.commands.some((line) => /^MAIL/i.test(line)), 'no MAIL in clear')
  assert.equal(first.transactions.length, 0)
  // The delay notice carries the status (RFC 3463 X.7.5).
  const [notice] = await mailboxWith(s.a.store, ALICE.address, 1, 'the delay notice')
  assert.match(notice?.toString('utf8') ?? '', /Status: 4\.7\.5/)
  assert.ok(warnings(s).includes('MTA-STS: MX host fails the enforced policy'))
})

test('enforce: a certificate for another name is refused and the mail waits', async (t) => {
  const s = await setup(t, { mode: 'enforce', mx: ['mx1.b.test'] })
  const first = await mx(t, s, FIRST, 'mx.elsewhere.test')
  await send(s, 'wrong name')
  const recipient = await deferred(s)
  assert.match(
    recipient.lastReply ?? '',
    /^MTA-STS policy .*mx1\.b\.test\[127\.0\.0\.3\]: TLS handshake failed: .*altnames/,
  )
  assert.ok(first.commands.includes('STARTTLS'))
  assert.ok(!first.commands.some((line) => /^MAIL/i.test(line)))
  assert.equal(first.transactions.length, 0)
})

test('enforce: an MX host the policy does not list is never connected to', async (t) => {
  const s = await setup(t, { mode: 'enforce', mx: ['mx.other.test'] })
  const first = await mx(t, s, FIRST, 'mx1.b.test')
  const second = await mx(t, s, SECOND, 'mx2.b.test')
  await send(s, 'not listed')
  const recipient = await deferred(s)
  assert.match(recipient.lastReply ?? '', /lists none of its MX hosts/)
  assert.equal(first.connections + second.connections, 0)
  assert.ok(warnings(s).includes('MTA-STS: no MX host matches the enforced policy; deferring'))
})

test('enforce: when the first MX fails the policy, the next one takes the mail', async (t) => {
  const s = await setup(t, { mode: 'enforce', mx: ['*.b.test'] })
  const first = await mx(t, s, FIRST, null)
  const second = await mx(t, s, SECOND, 'mx2.b.test')
  await send(s, 'second mx')
  await delivered(second)
  assert.equal(first.transactions.length, 0)
  assert.ok(second.commands.includes('STARTTLS'))
})

test('testing: the message goes as without a policy, and the failures are logged', async (t) => {
  const s = await setup(t, { mode: 'testing', mx: ['mx2.b.test'] })
  const first = await mx(t, s, FIRST, null)
  await send(s, 'testing mode')
  await delivered(first)
  assert.deepEqual(
    stsWarnings(s).map((line) => [line.message, line.fields.reason ?? line.fields.outside]),
    [
      ['MTA-STS testing: MX hosts outside the policy (enforce would skip them)', ['mx1.b.test']],
      [
        'MTA-STS testing: enforce would refuse this MX host; delivering anyway',
        'no STARTTLS offered',
      ],
    ],
  )
})

test('no policy: the message goes as before, after a look for the record', async (t) => {
  const s = await setup(t, null)
  // STARTTLS with the throwaway localhost certificate: opportunistic TLS takes it.
  const first = await mx(t, s, FIRST, null, { extensions: STARTTLS })
  await send(s, 'no policy')
  await delivered(first)
  assert.ok(first.commands.includes('STARTTLS'))
  assert.ok(s.dns.queries.some((q) => q.name === '_mta-sts.b.test' && q.type === 'TXT'))
  assert.equal(s.policyHost.requests.length, 0)
  assert.deepEqual(warnings(s), [])
})
