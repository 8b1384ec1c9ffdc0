// DKIM against an implementation nobody here wrote: Debian's python3-dkim (dkimpy, whose RSA is
// its own pure-Python code and whose Ed25519 is PyNaCl's libsodium). dkimpy verifies both of
// Postern's signatures with the DNS records `postern dkim generate` prints, and Postern's
// verifier (mailauth) accepts what dkimpy signs and refuses it once modified or replayed with
// another From. DNS is a function answering from those records: no network.
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { createPrivateKey } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { dkimVerify } from 'mailauth'
import {
  createDkimSigner,
  type DkimKey,
  dkimDnsRecord,
  generateDkimKey,
} from '../../src/mailauth/index.ts'
import { silentLogger } from '../../src/util/index.ts'
import { makeTempDir } from '../support/temp-dir.ts'

const run = promisify(execFile)
// Debian's package installs into Debian's Python, which may not be the first python3 on PATH.
const PYTHON = '/usr/bin/python3'

function dkimpyMissing(): string | false {
  try {
    execFileSync(PYTHON, ['-c', 'import dkim, nacl'], { stdio: 'ignore' })
    return false
  } catch {
    return `${PYTHON} cannot import dkim and nacl: install Debian's python3-dkim package (see .ci/run)`
  }
}
const skip = dkimpyMissing()

const MESSAGE = Buffer.from(
  [
    'From: Alice <alice@example.test>',
    'To: Bob <bob@elsewhere.test>',
    'Cc: carol@elsewhere.test',
    'Subject: interop',
    'Date: Mon, 1 Jun 2026 10:00:00 +0000',
    'Message-ID: <interop@example.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Hello Bob,',
    '',
    'Grüße, and a line with trailing space   ',
    '',
  ].join('\r\n'),
)

// argv: the message file, then a JSON file of zone-file lines; prints one JSON object per
// DKIM-Signature, top first. The TXT answer is the line's character-strings joined, as a
// resolver hands them to dkimpy (RFC 6376 §3.6.2.2).
const VERIFY = `
import json, re, sys, dkim
message = open(sys.argv[1], 'rb').read()
zone = {}
for line in json.load(open(sys.argv[2])):
    name = line.split(' ')[0].lower()
    zone[name] = ''.join(re.findall(r'"([^"]*)"', line)).encode()
def dnsfunc(name, timeout=5):
    return zone.get(name.decode().lower())
d = dkim.DKIM(message)
count = sum(1 for k, v in d.headers if k.lower() == b'dkim-signature')
for i in range(count):
    try:
        ok = d.verify(idx=i, dnsfunc=dnsfunc)
    except dkim.DKIMException as e:
        ok = False
    print(json.dumps({'ok': bool(ok), 'a': d.signature_fields[b'a'].decode(), 's': d.signature_fields[b's'].decode()}))
print(json.dumps({'top': bool(dkim.verify(message, dnsfunc=dnsfunc))}))
`

// argv: the message file, the selector and the PKCS#1 PEM of an RSA key, the selector and the
// base64 seed of an Ed25519 key; prints the message with both dkimpy signatures on top.
const SIGN = `
import sys, dkim
message = open(sys.argv[1], 'rb').read()
rsa = dkim.sign(message, sys.argv[2].encode(), b'signer.test', open(sys.argv[3], 'rb').read())
ed = dkim.sign(message, sys.argv[4].encode(), b'signer.test', sys.argv[5].encode(),
               signature_algorithm=b'ed25519-sha256', canonicalize=(b'relaxed', b'relaxed'))
sys.stdout.buffer.write(ed + rsa + message)
`

async function dkimpyVerify(dir: string, message: Buffer, keys: DkimKey[]) {
  const messageFile = path.join(dir, 'signed.eml')
  const zoneFile = path.join(dir, 'zone.json')
  writeFileSync(messageFile, message)
  writeFileSync(zoneFile, JSON.stringify(keys.map((key) => dkimDnsRecord(key).zoneLine)))
  const { stdout } = await run(PYTHON, ['-c', VERIFY, messageFile, zoneFile])
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
}

async function mailauthVerify(
  message: Buffer,
  keys: DkimKey[],
  options: { strict?: boolean } = {},
) {
  const records = new Map(keys.map((key) => [dkimDnsRecord(key).name, dkimDnsRecord(key).strings]))
  const result = await dkimVerify(message, {
    ...options,
    resolver: async (name, type) => {
      const strings = records.get(name)
      if (type !== 'TXT' || strings === undefined) {
        throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' })
      }
      return [strings]
    },
  })
  return result.results.map((r) => `${r.algo} ${r.selector} ${r.status.result}`)
}

const edit = (message: Buffer, from: string, to: string) => {
  const text = message.toString('utf8')
  assert.ok(text.includes(from), `the message has ${JSON.stringify(from)}`)
  return Buffer.from(text.replace(from, to), 'utf8')
}

test('dkimpy verifies both of Postern’s signatures, RSA and Ed25519', { skip }, async (t) => {
  const dir = makeTempDir(t)
  const dataDir = path.join(dir, 'data')
  const keys = [
    await generateDkimKey(dataDir, 'example.test', { algorithm: 'rsa' }),
    await generateDkimKey(dataDir, 'example.test', { algorithm: 'ed25519' }),
  ]
  const signatures = await createDkimSigner({ dataDir, log: silentLogger }).sign(
    MESSAGE,
    'example.test',
  )
  const signed = Buffer.concat([Buffer.from(signatures), MESSAGE])
  const [rsa, ed] = keys
  assert.deepEqual(await dkimpyVerify(dir, signed, keys), [
    { ok: true, a: 'rsa-sha256', s: rsa?.selector },
    { ok: true, a: 'ed25519-sha256', s: ed?.selector },
    { top: true },
  ])
  // The same verifier refuses them once the body or a signed header changed.
  for (const tampered of [
    edit(signed, 'Hello Bob,', 'Hello Eve,'),
    edit(signed, 'Subject: interop', 'Subject: interop!'),
  ]) {
    assert.deepEqual(
      (await dkimpyVerify(dir, tampered, keys)).map((row) => row.ok ?? row.top),
      [false, false, false],
    )
  }
})

test('Postern (mailauth) verifies dkimpy’s signatures and refuses modified and replayed mail', {
  skip,
}, async (t) => {
  const dir = makeTempDir(t)
  const dataDir = path.join(dir, 'data')
  const rsa = await generateDkimKey(dataDir, 'signer.test', {
    algorithm: 'rsa',
    selector: 'py-rsa',
  })
  const ed = await generateDkimKey(dataDir, 'signer.test', {
    algorithm: 'ed25519',
    selector: 'py-ed',
  })
  const keyDir = path.join(dataDir, 'dkim', 'signer.test')
  const rsaPem = createPrivateKey(readFileSync(path.join(keyDir, 'py-rsa.pem')))
  const rsaFile = path.join(dir, 'rsa-pkcs1.pem')
  // dkimpy reads RSA keys as PKCS#1 (RFC 8017 RSAPrivateKey) and Ed25519 keys as the seed.
  writeFileSync(rsaFile, rsaPem.export({ type: 'pkcs1', format: 'pem' }))
  const edJwk = createPrivateKey(readFileSync(path.join(keyDir, 'py-ed.pem'))).export({
    format: 'jwk',
  })
  const edSeed = Buffer.from(edJwk.d ?? '', 'base64url').toString('base64')
  const messageFile = path.join(dir, 'message.eml')
  writeFileSync(messageFile, MESSAGE.toString('utf8').replace(/example\.test/g, 'signer.test'))
  const { stdout } = await run(
    PYTHON,
    ['-c', SIGN, messageFile, 'py-rsa', rsaFile, 'py-ed', edSeed],
    { encoding: 'buffer' },
  )
  const signed = stdout as Buffer
  const keys = [rsa, ed]
  assert.deepEqual(await mailauthVerify(signed, keys), [
    'ed25519-sha256 py-ed pass',
    'rsa-sha256 py-rsa pass',
  ])

  const failing = {
    'a modified body': edit(signed, 'Hello Bob,', 'Hello Eve,'),
    'a modified signed header': edit(signed, 'Subject: interop', 'Subject: re-interop'),
    'a replay with another From': edit(
      signed,
      'From: Alice <alice@signer.test>',
      'From: Mallory <mallory@signer.test>',
    ),
    // dkimpy signs From once more than it occurs (RFC 6376 §8.15), so an added one shows.
    'a replay with a From added': edit(
      signed,
      'From: Alice <alice@signer.test>',
      'From: Mallory <mallory@signer.test>\r\nFrom: Alice <alice@signer.test>',
    ),
  }
  for (const [what, message] of Object.entries(failing)) {
    // mailauth's default mode, which the inbound verifier uses, calls a body hash mismatch
    // "neutral"; strict mode calls it "fail" (RFC 8601 §2.7.1). Neither is a pass.
    const expected = what === 'a modified body' ? 'neutral' : 'fail'
    assert.deepEqual(
      await mailauthVerify(message, keys),
      [`ed25519-sha256 py-ed ${expected}`, `rsa-sha256 py-rsa ${expected}`],
      what,
    )
    assert.deepEqual(
      await mailauthVerify(message, keys, { strict: true }),
      ['ed25519-sha256 py-ed fail', 'rsa-sha256 py-rsa fail'],
      `${what}, strict`,
    )
  }
})
