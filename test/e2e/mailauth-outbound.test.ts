// Outbound mail authentication through a real Postern: submissions signed with the domain's RSA
// and Ed25519 keys (dual-signing, relaxed/relaxed), and mail an alias forwards to a remote
// address ARC-sealed, both as received by the next hop (a scripted SMTP peer reached by MX in a
// loopback DNS) and checked by an independent verifier, Debian's dkimpy (dkim.verify and
// dkim.arc_verify, its DNS answered from the records the test published).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { test } from 'node:test'
import { type DkimKey, dkimDnsRecord, generateDkimKey } from '../../src/mailauth/index.ts'
import { SmtpClient } from '../../src/smtp/client/index.ts'
import { startDnsServer } from '../support/dns-server.ts'
import { type FakeSmtp, startFakeSmtp } from '../support/fake-smtp.ts'
import { getFreePorts } from '../support/free-port.ts'
import { eventually, startNode, submit } from '../support/postern-node.ts'

const PYTHON = '/usr/bin/python3' // Debian's, with python3-dkim
const ALICE = { address: 'alice@example.test', password: 'alice-secret-1' }

// argv: a JSON object of DNS name → TXT value; the message on standard input. Prints whether
// each DKIM-Signature verifies (top first) and the ARC chain's validation.
const VERIFY = `
import json, sys, dkim
zone = {k.lower(): v.encode() for k, v in json.loads(sys.argv[1]).items()}
message = sys.stdin.buffer.read()
def dnsfunc(name, timeout=5):
    return zone.get(name.decode().lower().rstrip('.'))
d = dkim.DKIM(message)
count = sum(1 for k, v in d.headers if k.lower() == b'dkim-signature')
dkims = []
for i in range(count):
    try:
        dkims.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
    except dkim.DKIMException:
        dkims.append(False)
cv, results, comment = dkim.arc_verify(message, dnsfunc=dnsfunc)
print(json.dumps({'dkim': dkims, 'arc': cv.decode(), 'comment': comment}))
`

function dkimpy(message: Buffer, zone: Record<string, string>) {
  const out = execFileSync(PYTHON, ['-c', VERIFY, JSON.stringify(zone)], { input: message })
  return JSON.parse(out.toString()) as { dkim: boolean[]; arc: string; comment: string }
}

const records = (keys: readonly DkimKey[]) =>
  Object.fromEntries(keys.map((key) => [dkimDnsRecord(key).name, dkimDnsRecord(key).value]))

async function setUp(t: Parameters<typeof startDnsServer>[0]) {
  const [port = 0, fakePort = 0] = await getFreePorts(2)
  const dns = await startDnsServer(t, {
    'remote.test': { MX: [{ exchange: 'mx.remote.test', priority: 10 }] },
    'mx.remote.test': { A: ['127.0.0.3'] },
  })
  const fake: FakeSmtp = await startFakeSmtp(t, { host: '127.0.0.3', port: fakePort })
  const node = await startNode(t, {
    hostname: 'mx.example.test',
    address: '127.0.0.2',
    port,
    relayPort: fakePort,
    dnsPort: dns.port,
    users: [ALICE],
    toml: '[queue]\npoll_ms = 50\n',
  })
  const rsa = await generateDkimKey(node.config.dataDir, 'example.test', { algorithm: 'rsa' })
  const ed = await generateDkimKey(node.config.dataDir, 'example.test', { algorithm: 'ed25519' })
  for (const key of [rsa, ed]) {
    const record = dkimDnsRecord(key)
    dns.set(record.name, 'TXT', [record.strings])
  }
  return { dns, fake, node, port, keys: [rsa, ed] }
}

async function received(fake: FakeSmtp, count: number): Promise<Buffer> {
  const transactions = await eventually(
    async () => (fake.transactions.length >= count ? fake.transactions : undefined),
    20_000,
    'the relayed message',
  )
  return transactions[count - 1]?.data ?? Buffer.alloc(0)
}

test('a submission leaves signed by both keys of its domain, and dkimpy accepts both', async (t) => {
  const { fake, node, keys } = await setUp(t)
  const message =
    'From: Alice <alice@example.test>\r\nTo: carol@remote.test\r\nSubject: signed\r\n\r\nHello Carol.\r\n'
  await submit({
    host: '127.0.0.2',
    port: node.port + 1,
    user: ALICE,
    to: ['carol@remote.test'],
    message,
  })
  const relayed = await received(fake, 1)
  const text = relayed.toString('latin1')
  assert.match(text, /^DKIM-Signature: .*a=rsa-sha256/m)
  assert.match(text, /^DKIM-Signature: .*a=ed25519-sha256/m)
  assert.match(text, /c=relaxed\/relaxed/)
  const verdict = dkimpy(relayed, records(keys))
  assert.deepEqual(verdict.dkim, [true, true])
})

test('mail an alias forwards is ARC-sealed by the alias domain; dkimpy validates the chain', async (t) => {
  const { dns, fake, node, port, keys } = await setUp(t)
  await node.directory.addAlias('fwd@example.test', ['carol@remote.test'])
  // The original sender: SPF allows the test client's address, and dkimpy signs for it.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
  const senderRecord = `v=DKIM1; k=rsa; p=${spki}`
  dns.set('good.test', 'TXT', [['v=spf1 ip4:127.0.0.1 -all']])
  dns.set('s1._domainkey.good.test', 'TXT', [senderRecord.match(/.{1,255}/g) ?? []])
  const original =
    'From: Ann <ann@good.test>\r\nTo: fwd@example.test\r\nSubject: through an alias\r\nDate: Thu, 26 Nov 2026 12:00:00 +0000\r\nMessage-ID: <alias-1@good.test>\r\n\r\nForward me.\r\n'
  const signed = execFileSync(
    PYTHON,
    [
      '-c',
      'import sys, dkim; m = sys.stdin.buffer.read(); sys.stdout.buffer.write(dkim.sign(m, b"s1", b"good.test", sys.argv[1].encode(), canonicalize=(b"relaxed", b"relaxed")) + m)',
      privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    ],
    { input: original },
  )
  const client = await SmtpClient.connect({ host: '127.0.0.2', port })
  try {
    await client.hello('client.good.test')
    const result = await client.send(
      { sender: 'ann@good.test', recipients: [{ address: 'fwd@example.test' }] },
      {
        size: signed.length,
        async *chunks() {
          yield signed
        },
      },
    )
    assert.equal(result.data?.code, 250, JSON.stringify(result))
  } finally {
    await client.quit()
  }
  const relayed = await received(fake, 1)
  const text = relayed.toString('latin1')
  assert.match(text, /^ARC-Seal: i=1; .*cv=none/m)
  assert.match(text, /^ARC-Seal:[\s\S]*?d=example\.test/m)
  assert.match(text, /^ARC-Authentication-Results: i=1; mx\.example\.test;[\s\S]*?dkim=pass/m)
  const verdict = dkimpy(relayed, { ...records(keys), 's1._domainkey.good.test': senderRecord })
  assert.equal(verdict.arc, 'pass', verdict.comment)
  assert.deepEqual(verdict.dkim, [true]) // the original signature still holds
})
