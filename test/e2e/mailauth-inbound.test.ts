// Inbound mail authentication on the MX listener of a real Postern, against a loopback DNS
// server holding the SPF, DKIM and DMARC records the tests make. Messages are signed by an
// independent signer (Debian's dkimpy). What is checked: the Authentication-Results field and
// its authserv-id, forged ones removed, DMARC p=reject refused (550 5.7.1) and p=quarantine
// filed into Junk, the per-domain overrides, SPF -all handling, and DNS failures and timeouts
// answered 451, never accepted as a pass.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { test } from 'node:test'
import { SmtpClient } from '../../src/smtp/client/index.ts'
import type { Store } from '../../src/store/index.ts'
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts'
import { BOB, startSmtpServer } from '../support/smtp.ts'

const PYTHON = '/usr/bin/python3' // Debian's, with python3-dkim
const HOSTNAME = 'mx.example.test' // test/support/smtp.ts's server

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const PUBLIC_B64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64')

/** The DKIM TXT record, split into character-strings of at most 255 octets. */
const DKIM_RECORD = `v=DKIM1; k=rsa; p=${PUBLIC_B64}`.match(/.{1,255}/g) ?? []

/** dkimpy signs `message` for `domain` with selector s1 (relaxed/relaxed). */
function dkimpySign(message: string, domain: string): string {
  const script = [
    'import sys, dkim',
    'data = sys.stdin.buffer.read()',
    'key = open(sys.argv[1], "rb").read()',
    'sig = dkim.sign(data, b"s1", sys.argv[2].encode(), key, canonicalize=(b"relaxed", b"relaxed"),',
    '                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])',
    'sys.stdout.buffer.write(sig + data)',
  ].join('\n')
  const keyFile = `/tmp/postern-dkimpy-${process.pid}.pem`
  execFileSync('sh', ['-c', `umask 077; cat > ${keyFile}`], { input: PRIVATE_PEM })
  return execFileSync(PYTHON, ['-c', script, keyFile, domain], { input: message }).toString(
    'latin1',
  )
}

function message(from: string, subject: string, extraHeader = ''): string {
  return [
    `From: Sender <${from}>`,
    `To: ${BOB.address}`,
    `Subject: ${subject}`,
    'Date: Thu, 26 Nov 2026 12:00:00 +0000',
    `Message-ID: <${subject.replaceAll(' ', '-')}@example.org>`,
    ...(extraHeader === '' ? [] : [extraHeader]),
    '',
    'Hello.',
    '',
  ].join('\r\n')
}

async function zone(t: Parameters<typeof startDnsServer>[0]): Promise<TestDnsServer> {
  return startDnsServer(t, {
    // Signed and sent from 127.0.0.1, which its SPF allows.
    'good.test': { TXT: [['v=spf1 ip4:127.0.0.1 -all']] },
    's1._domainkey.good.test': { TXT: [DKIM_RECORD] },
    '_dmarc.good.test': { TXT: [['v=DMARC1; p=reject']] },
    // Its SPF allows another address; it publishes p=reject.
    'forged.test': { TXT: [['v=spf1 ip4:192.0.2.1 -all']] },
    '_dmarc.forged.test': { TXT: [['v=DMARC1; p=reject']] },
    'quar.test': { TXT: [['v=spf1 ip4:192.0.2.1 -all']] },
    '_dmarc.quar.test': { TXT: [['v=DMARC1; p=quarantine']] },
    // SPF -all fails, no DMARC record.
    'nodmarc.test': { TXT: [['v=spf1 ip4:192.0.2.1 -all']] },
    'broken.test': { servfail: true },
    'slow.test': { hang: true },
  })
}

interface Sent {
  code: number
  text: string
}

/** One message to the MX listener from 127.0.0.1; the reply to its data (or to MAIL/RCPT). */
async function send(port: number, sender: string, bytes: string): Promise<Sent> {
  const client = await SmtpClient.connect({ host: '127.0.0.1', port })
  try {
    await client.hello('client.good.test')
    const result = await client.send(
      { sender, recipients: [{ address: BOB.address }] },
      {
        size: Buffer.byteLength(bytes, 'latin1'),
        async *chunks() {
          yield Buffer.from(bytes, 'latin1')
        },
      },
    )
    const reply = result.data ?? result.recipients[0] ?? result.mail
    return { code: reply.code, text: `${reply.status ?? ''} ${reply.lines.join(' ')}`.trim() }
  } finally {
    await client.quit()
  }
}

/** The messages in BOB's mailbox `name`, as text. */
async function mailbox(store: Store, name: string): Promise<string[]> {
  const account = await store.getAccount(BOB.address)
  const box = account === null ? null : await store.getMailbox(account.id, name)
  if (box === null) throw new Error(`no ${name}`)
  const texts: string[] = []
  for (const record of await store.getMessages(box.id, [[1, 2 ** 32 - 1]])) {
    const chunks: Buffer[] = []
    for await (const chunk of store.readMessage(record.blobId)) chunks.push(chunk)
    texts.push(Buffer.concat(chunks).toString('latin1'))
  }
  return texts
}

async function server(t: Parameters<typeof startDnsServer>[0], dns: TestDnsServer, extra = '') {
  return startSmtpServer(
    t,
    [`[dns]`, `servers = ["127.0.0.1:${dns.port}"]`, 'timeout_ms = 200', 'tries = 1', extra].join(
      '\n',
    ),
  )
}

test('a message signed by dkimpy from an SPF-allowed address: pass, pass, pass; forged A-R removed', async (t) => {
  const dns = await zone(t)
  const mx = await server(t, dns)
  const forged = `Authentication-Results: ${HOSTNAME}; dkim=pass header.d=good.test; spf=pass`
  const kept = 'Authentication-Results: other.example; spf=fail'
  const signed = dkimpySign(message('ann@good.test', 'signed one'), 'good.test')
  const withForgeries = signed.replace('From: ', `${forged}\r\n${kept}\r\nFrom: `)
  const sent = await send(mx.ports.smtp, 'ann@good.test', withForgeries)
  assert.equal(sent.code, 250, sent.text)
  const [stored] = await mailbox(mx.store, 'INBOX')
  assert.ok(stored)
  const results = stored.match(/^Authentication-Results: [\s\S]*?\r\n(?![ \t])/gm) ?? []
  assert.equal(results.length, 2, stored) // ours, and the other host's, kept
  const ours = results[0] ?? ''
  assert.match(ours, new RegExp(`^Authentication-Results: ${HOSTNAME.replaceAll('.', '\\.')};`))
  assert.match(ours, /dkim=pass[^;]*header\.i=@good\.test header\.s=s1/)
  assert.match(ours, /spf=pass[^;]*smtp\.mailfrom=ann@good\.test/)
  assert.match(ours, /dmarc=pass[^;]*header\.from=good\.test/)
  assert.ok(results[1]?.startsWith(kept))
  // Ours is above the Received field; the forged one is gone.
  assert.ok(stored.indexOf('Authentication-Results: mx.') < stored.indexOf('Received:'))
  assert.ok(!stored.includes('dkim=pass header.d=good.test; spf=pass'))
})

test('DMARC p=reject: a forged From is refused 550 5.7.1; a modified signed message too', async (t) => {
  const dns = await zone(t)
  const mx = await server(t, dns)
  const forged = await send(mx.ports.smtp, 'x@forged.test', message('ceo@forged.test', 'forged'))
  assert.equal(forged.code, 550)
  assert.match(forged.text, /^5\.7\.1 .*DMARC policy of forged\.test/)
  // Signed by good.test, then the body changed, and sent with an envelope SPF cannot vouch for.
  const signed = dkimpySign(message('ann@good.test', 'tampered'), 'good.test')
  const tampered = signed.replace('Hello.', 'Pay this invoice.')
  const modified = await send(mx.ports.smtp, 'bounce@elsewhere.test', tampered)
  assert.equal(modified.code, 550, modified.text)
  // Replayed with an altered From: the signature no longer covers what the reader sees.
  const replayed = dkimpySign(message('ann@good.test', 'replayed'), 'good.test').replace(
    'From: Sender <ann@good.test>',
    'From: Sender <ann@good.test>, boss@good.test',
  )
  assert.equal((await send(mx.ports.smtp, 'bounce@elsewhere.test', replayed)).code, 550)
  assert.deepEqual(await mailbox(mx.store, 'INBOX'), [])
})

test('DMARC p=quarantine goes to Junk; a per-domain override makes p=reject go there too', async (t) => {
  const dns = await zone(t)
  const mx = await server(t, dns, '[mailauth.domains."example.test"]\ndmarc_reject = "quarantine"')
  assert.equal((await send(mx.ports.smtp, 'a@quar.test', message('a@quar.test', 'q'))).code, 250)
  assert.equal(
    (await send(mx.ports.smtp, 'x@forged.test', message('x@forged.test', 'r'))).code,
    250,
  )
  assert.deepEqual(await mailbox(mx.store, 'INBOX'), [])
  const junk = await mailbox(mx.store, 'Junk')
  assert.equal(junk.length, 2)
  for (const text of junk) assert.match(text, /dmarc=fail/)
})

test('SPF -all without DMARC: recorded by default, refused 550 5.7.23 when spf_fail = "reject"', async (t) => {
  const dns = await zone(t)
  const lenient = await server(t, dns)
  const sent = await send(lenient.ports.smtp, 'a@nodmarc.test', message('a@nodmarc.test', 's'))
  assert.equal(sent.code, 250)
  const [stored] = await mailbox(lenient.store, 'INBOX')
  assert.match(stored ?? '', /spf=fail/)
  const strict = await server(t, dns, '[mailauth]\nspf_fail = "reject"')
  const refused = await send(strict.ports.smtp, 'a@nodmarc.test', message('a@nodmarc.test', 's'))
  assert.equal(refused.code, 550)
  assert.match(refused.text, /^5\.7\.23 SPF check failed for nodmarc\.test/)
})

test('DNS failures and timeouts are 451 4.7.0, never a pass', async (t) => {
  const dns = await zone(t)
  const mx = await server(t, dns)
  const servfail = await send(mx.ports.smtp, 'a@broken.test', message('a@broken.test', 'b'))
  assert.equal(servfail.code, 451)
  assert.match(servfail.text, /^4\.7\.0 Temporary DNS failure checking .*SPF/)
  const timeout = await send(mx.ports.smtp, 'a@slow.test', message('a@slow.test', 't'))
  assert.equal(timeout.code, 451)
  assert.deepEqual(await mailbox(mx.store, 'INBOX'), [])
})

test('with verify = false nothing is checked and no Authentication-Results is added', async (t) => {
  const dns = await zone(t)
  const mx = await server(t, dns, '[mailauth]\nverify = false')
  const sent = await send(mx.ports.smtp, 'x@forged.test', message('x@forged.test', 'off'))
  assert.equal(sent.code, 250)
  const [stored] = await mailbox(mx.store, 'INBOX')
  assert.doesNotMatch(stored ?? '', /Authentication-Results/)
})
