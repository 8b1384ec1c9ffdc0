// The DKIM signer: dual RSA and Ed25519 signatures verified by mailauth with the records
// dkim-keys.ts prints, activation picked up without a restart, and broken keys skipped.
import assert from 'node:assert/strict'
import { readFileSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { dkimVerify } from 'mailauth'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import type { Logger } from '../util/index.ts'
import { activateDkimKey, dkimDnsRecord, generateDkimKey, listDkimKeys } from './dkim-keys.ts'
import { createDkimSigner } from './dkim-sign.ts'

const MESSAGE = Buffer.from(
  [
    'From: Alice <alice@example.test>',
    'To: bob@elsewhere.test',
    'Subject: signed',
    'Date: Mon, 1 Jun 2026 10:00:00 +0000',
    'Message-ID: <1@example.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello Bob,',
    '',
    'this message is signed.',
    '',
  ].join('\r\n'),
)

/** A logger that keeps what is logged at warn. */
function recordingLogger(): Logger & { warnings: Array<{ fields: object; message: string }> } {
  const warnings: Array<{ fields: object; message: string }> = []
  const noop = () => {}
  const log = {
    warnings,
    trace: noop,
    debug: noop,
    info: noop,
    warn: (fields: object, message: string) => warnings.push({ fields, message }),
    error: noop,
    fatal: noop,
    child: () => log,
  }
  return log
}

/** mailauth's verdicts for a signed message, with DNS answered from the data dir's keys. */
async function verifyWithMailauth(dataDir: string, signed: Buffer) {
  const records = new Map(
    listDkimKeys(dataDir)
      .filter((key) => key.publicKey !== null)
      .map((key) => {
        const record = dkimDnsRecord(key)
        return [record.name, record.strings]
      }),
  )
  const result = await dkimVerify(signed, {
    resolver: async (name, type) => {
      const strings = records.get(name)
      if (type !== 'TXT' || strings === undefined) {
        throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' })
      }
      return [strings]
    },
  })
  return result.results.map((r) => ({
    result: r.status.result,
    algorithm: r.algo,
    selector: r.selector,
    domain: r.signingDomain,
    canonicalization: r.format,
  }))
}

test('dual signing: one RSA and one Ed25519 signature, both verified (RFC 8463 §6)', async (t) => {
  const dataDir = makeTempDir(t)
  const rsa = await generateDkimKey(dataDir, 'example.test', { algorithm: 'rsa' })
  const ed = await generateDkimKey(dataDir, 'example.test', { algorithm: 'ed25519' })
  const log = recordingLogger()
  const signer = createDkimSigner({ dataDir, log })
  const signatures = await signer.sign(MESSAGE, 'Example.Test')
  assert.match(signatures, /^DKIM-Signature: [^\r\n]+\r\n( [^\r\n]+\r\n)+DKIM-Signature: /)
  assert.ok(signatures.endsWith('\r\n'))
  for (const line of signatures.split('\r\n')) assert.ok(line.length <= 78, 'folded')
  assert.deepEqual(
    await verifyWithMailauth(dataDir, Buffer.concat([Buffer.from(signatures), MESSAGE])),
    [
      {
        result: 'pass',
        algorithm: 'rsa-sha256',
        selector: rsa.selector,
        domain: 'example.test',
        canonicalization: 'relaxed/relaxed',
      },
      {
        result: 'pass',
        algorithm: 'ed25519-sha256',
        selector: ed.selector,
        domain: 'example.test',
        canonicalization: 'relaxed/relaxed',
      },
    ],
  )
  const signedHeaders = /\bh=([^;]+);/.exec(signatures.replaceAll('\r\n ', ' '))?.[1] ?? ''
  assert.deepEqual(
    signedHeaders
      .split(':')
      .map((name) => name.trim().toLowerCase())
      .sort(),
    ['content-type', 'date', 'from', 'message-id', 'mime-version', 'subject', 'to'],
  )
  assert.deepEqual(log.warnings, [])

  // Relaxed canonicalization (RFC 6376 §3.4.2, §3.4.4) survives re-folding and trailing space.
  const refolded = Buffer.from(
    MESSAGE.toString()
      .replace('Subject: signed', 'Subject:  \r\n\tsigned')
      .replace('signed.', 'signed.  '),
  )
  const results = await verifyWithMailauth(
    dataDir,
    Buffer.concat([Buffer.from(signatures), refolded]),
  )
  assert.deepEqual(
    results.map((r) => r.result),
    ['pass', 'pass'],
  )
  const tampered = Buffer.from(MESSAGE.toString().replace('Subject: signed', 'Subject: changed'))
  const failed = await verifyWithMailauth(
    dataDir,
    Buffer.concat([Buffer.from(signatures), tampered]),
  )
  assert.deepEqual(
    failed.map((r) => r.result),
    ['fail', 'fail'],
  )
})

test('a domain without an active key gets no signature', async (t) => {
  const dataDir = makeTempDir(t)
  await generateDkimKey(dataDir, 'example.test', { algorithm: 'ed25519' })
  const log = recordingLogger()
  const signer = createDkimSigner({ dataDir, log })
  assert.equal(await signer.sign(MESSAGE, 'other.test'), '')
  assert.equal(await signer.sign(MESSAGE, '[192.0.2.1]'), '')
  assert.equal(
    await createDkimSigner({ dataDir: makeTempDir(t), log }).sign(MESSAGE, 'example.test'),
    '',
  )
  assert.deepEqual(log.warnings, [])
})

test('an activation on disk is picked up by a running signer', async (t) => {
  const dataDir = makeTempDir(t)
  const old = await generateDkimKey(dataDir, 'example.test', { algorithm: 'ed25519' })
  const signer = createDkimSigner({ dataDir, log: recordingLogger() })
  const selectorOf = (signatures: string) => /\bs=([^;]+);/.exec(signatures)?.[1]
  assert.equal(selectorOf(await signer.sign(MESSAGE, 'example.test')), old.selector)
  const next = await generateDkimKey(dataDir, 'example.test', { algorithm: 'ed25519' })
  assert.equal(next.state, 'pending')
  assert.equal(selectorOf(await signer.sign(MESSAGE, 'example.test')), old.selector)
  activateDkimKey(dataDir, 'example.test', next.selector)
  const signatures = await signer.sign(MESSAGE, 'example.test')
  assert.equal(selectorOf(signatures), next.selector)
  assert.deepEqual(
    (await verifyWithMailauth(dataDir, Buffer.concat([Buffer.from(signatures), MESSAGE]))).map(
      (r) => r.result,
    ),
    ['pass'],
  )
  // A key that becomes a domain's first one is picked up as well.
  await generateDkimKey(dataDir, 'new.test', { algorithm: 'rsa' })
  assert.match(await signer.sign(MESSAGE, 'new.test'), /d=new\.test;/)
})

test('the keys are cached until their directory changes or the cache is a minute old', async (t) => {
  const dataDir = makeTempDir(t)
  const key = await generateDkimKey(dataDir, 'example.test', { algorithm: 'ed25519' })
  const dir = path.join(dataDir, 'dkim', 'example.test')
  const hourAgo = new Date(Date.now() - 3_600_000)
  // Past the window in which a change could share the directory's mtime.
  utimesSync(dir, hourAgo, hourAgo)
  const cached = createDkimSigner({ dataDir, log: recordingLogger() })
  const uncached = createDkimSigner({ dataDir, log: recordingLogger(), maxCacheAgeMs: 0 })
  assert.notEqual(await cached.sign(MESSAGE, 'example.test'), '')
  assert.notEqual(await uncached.sign(MESSAGE, 'example.test'), '')
  // Edited in place, the directory unchanged: only a re-read sees it.
  const metadataFile = path.join(dir, `${key.selector}.json`)
  const metadata = JSON.parse(readFileSync(metadataFile, 'utf8'))
  writeFileSync(metadataFile, JSON.stringify({ ...metadata, state: 'retired' }))
  assert.notEqual(await cached.sign(MESSAGE, 'example.test'), '')
  assert.equal(await uncached.sign(MESSAGE, 'example.test'), '')
  // A change of the directory (here only its times) is noticed at once.
  utimesSync(dir, new Date(), new Date())
  assert.equal(await cached.sign(MESSAGE, 'example.test'), '')
})

test('a key that cannot be read is logged and left out; the message still goes out', async (t) => {
  const dataDir = makeTempDir(t)
  const rsa = await generateDkimKey(dataDir, 'example.test', { algorithm: 'rsa' })
  const ed = await generateDkimKey(dataDir, 'example.test', { algorithm: 'ed25519' })
  writeFileSync(path.join(dataDir, 'dkim', 'example.test', `${ed.selector}.pem`), 'garbage\n')
  const log = recordingLogger()
  const signatures = await createDkimSigner({ dataDir, log }).sign(MESSAGE, 'example.test')
  assert.deepEqual(
    await verifyWithMailauth(dataDir, Buffer.concat([Buffer.from(signatures), MESSAGE])),
    [
      {
        result: 'pass',
        algorithm: 'rsa-sha256',
        selector: rsa.selector,
        domain: 'example.test',
        canonicalization: 'relaxed/relaxed',
      },
    ],
  )
  assert.equal(log.warnings.length, 1)
  assert.deepEqual(
    { ...log.warnings[0]?.fields, reason: undefined },
    {
      domain: 'example.test',
      selector: ed.selector,
      algorithm: 'ed25519-sha256',
      reason: undefined,
    },
  )

  // Both keys broken: unsigned, and logged.
  writeFileSync(path.join(dataDir, 'dkim', 'example.test', `${rsa.selector}.pem`), '')
  const log2 = recordingLogger()
  assert.equal(await createDkimSigner({ dataDir, log: log2 }).sign(MESSAGE, 'example.test'), '')
  assert.deepEqual(
    log2.warnings.map((w) => (w.fields as { selector: string }).selector).sort(),
    [rsa.selector, ed.selector].sort(),
  )
})

test('a signing error from mailauth is logged, not thrown', async (t) => {
  const dataDir = makeTempDir(t)
  const key = await generateDkimKey(dataDir, 'example.test', { algorithm: 'ed25519' })
  const log = recordingLogger()
  const signer = createDkimSigner({ dataDir, log })
  // RFC 6376 §5.4: From must be signed, so a message without one cannot be.
  const noFrom = Buffer.from('To: bob@elsewhere.test\r\nSubject: x\r\n\r\nbody\r\n')
  assert.equal(await signer.sign(noFrom, 'example.test'), '')
  assert.equal(log.warnings.length, 1)
  assert.deepEqual(
    { ...log.warnings[0]?.fields, reason: undefined },
    { domain: 'example.test', selector: key.selector, code: 'ENOFROM', reason: undefined },
  )
})
