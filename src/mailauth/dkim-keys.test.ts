// DKIM keys in the data dir: generation, file modes, the DNS record (parsed back and compared
// with the private key), rotation and removal rules.
import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { ConflictError, InvalidNameError, NotFoundError } from '../store/index.ts'
import {
  activateDkimKey,
  type DkimKeyProblem,
  dkimDnsRecord,
  generateDkimKey,
  listDkimKeys,
  removeDkimKey,
} from './dkim-keys.ts'

const mode = (file: string) => statSync(file).mode & 0o777

/** The tags of a DKIM key record (RFC 6376 §3.6.1) read back from its zone-file line. */
function parseZoneLine(line: string): { name: string; tags: Map<string, string> } {
  const [owner = '', ...rest] = line.split(' ')
  assert.deepEqual(rest.slice(0, 2), ['IN', 'TXT'])
  const strings = [...line.matchAll(/"([^"]*)"/g)].map((match) => match[1] ?? '')
  for (const part of strings) assert.ok(part.length <= 255, 'a character-string is 255 at most')
  const tags = new Map<string, string>()
  for (const tag of strings.join('').split(';')) {
    const eq = tag.indexOf('=')
    tags.set(tag.slice(0, eq).trim(), tag.slice(eq + 1).trim())
  }
  return { name: owner, tags }
}

test('generate: RSA and Ed25519 keys, private files and directories, the first one active', async (t) => {
  const dataDir = makeTempDir(t)
  const rsa = await generateDkimKey(dataDir, 'Example.TEST', { algorithm: 'rsa' })
  const ed = await generateDkimKey(dataDir, 'example.test', { algorithm: 'ed25519' })
  const month = new Date().toISOString().slice(0, 7).replace('-', '')
  assert.equal(rsa.selector, `${month}-rsa`)
  assert.equal(ed.selector, `${month}-ed`)
  for (const [key, type] of [
    [rsa, 'rsa'],
    [ed, 'ed25519'],
  ] as const) {
    assert.equal(key.domain, 'example.test')
    assert.equal(key.state, 'active', 'the first key of an algorithm has nothing to rotate from')
    assert.equal(key.problem, null)
    const dir = path.join(dataDir, 'dkim', 'example.test')
    const pem = readFileSync(path.join(dir, `${key.selector}.pem`), 'utf8')
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/, 'PKCS#8')
    const privateKey = createPrivateKey(pem)
    assert.equal(privateKey.asymmetricKeyType, type)
    if (type === 'rsa') assert.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048)
    assert.equal(mode(path.join(dir, `${key.selector}.pem`)), 0o600)
    const metadata = JSON.parse(readFileSync(path.join(dir, `${key.selector}.json`), 'utf8'))
    assert.deepEqual(metadata, {
      algorithm: key.algorithm,
      createdAt: key.createdAt,
      state: 'active',
      activatedAt: key.activatedAt,
    })
  }
  assert.equal(rsa.algorithm, 'rsa-sha256')
  assert.equal(ed.algorithm, 'ed25519-sha256')
  assert.equal(mode(path.join(dataDir, 'dkim')), 0o700)
  assert.equal(mode(path.join(dataDir, 'dkim', 'example.test')), 0o700)

  const idn = await generateDkimKey(dataDir, 'bücher.test', {
    algorithm: 'ed25519',
    selector: 'S1',
  })
  assert.deepEqual([idn.domain, idn.selector], ['xn--bcher-kva.test', 's1'])
  assert.equal(mode(path.join(dataDir, 'dkim', 'xn--bcher-kva.test', 's1.pem')), 0o600)
})

test('the DNS record carries the public half of the private key (RFC 6376 §3.6.1, RFC 8463 §4.2)', async (t) => {
  const dataDir = makeTempDir(t)
  const message = Buffer.from('the canonicalized header hash, say')
  for (const algorithm of ['rsa', 'ed25519'] as const) {
    const key = await generateDkimKey(dataDir, 'example.test', { algorithm })
    const record = dkimDnsRecord(key)
    assert.equal(record.name, `${key.selector}._domainkey.example.test`)
    assert.equal(record.strings.join(''), record.value)
    const { name, tags } = parseZoneLine(record.zoneLine)
    assert.equal(name, `${record.name}.`)
    assert.equal(tags.get('v'), 'DKIM1')
    assert.equal(tags.get('k'), algorithm)
    const p = Buffer.from(tags.get('p') ?? '', 'base64')
    const pem = readFileSync(path.join(dataDir, 'dkim', 'example.test', `${key.selector}.pem`))
    const privateKey = createPrivateKey(pem)
    const published =
      algorithm === 'rsa'
        ? createPublicKey({ key: p, format: 'der', type: 'spki' })
        : createPublicKey({
            key: { kty: 'OKP', crv: 'Ed25519', x: p.toString('base64url') },
            format: 'jwk',
          })
    if (algorithm === 'ed25519') assert.equal(p.length, 32, 'the bare key, not an SPKI')
    assert.ok(published.equals(createPublicKey(privateKey)))
    const signature = sign(algorithm === 'rsa' ? 'sha256' : null, message, privateKey)
    assert.ok(verify(algorithm === 'rsa' ? 'sha256' : null, message, published, signature))
    if (algorithm === 'rsa') {
      assert.ok(record.strings.length >= 2, 'a 2048-bit key does not fit one character-string')
      assert.ok(record.value.length > 255)
    }
  }
})

test('rotation: a second key waits, activation retires the old one, removal rules', async (t) => {
  const dataDir = makeTempDir(t)
  const first = await generateDkimKey(dataDir, 'example.test', { algorithm: 'rsa' })
  const second = await generateDkimKey(dataDir, 'example.test', { algorithm: 'rsa' })
  assert.equal(second.selector, `${first.selector}-2`, 'the default selector is made unique')
  assert.equal(second.state, 'pending')
  assert.equal(second.activatedAt, undefined)
  const ed = await generateDkimKey(dataDir, 'example.test', { algorithm: 'ed25519' })
  assert.equal(ed.state, 'active', 'each algorithm has its own active key')
  const states = () =>
    Object.fromEntries(listDkimKeys(dataDir, 'example.test').map((k) => [k.selector, k.state]))
  assert.deepEqual(states(), {
    [first.selector]: 'active',
    [second.selector]: 'pending',
    [ed.selector]: 'active',
  })

  const { activated, retired } = activateDkimKey(dataDir, 'EXAMPLE.test', second.selector)
  assert.equal(activated.state, 'active')
  assert.ok(activated.activatedAt)
  assert.deepEqual(
    retired.map((k) => [k.selector, k.state]),
    [[first.selector, 'retired']],
  )
  assert.deepEqual(states(), {
    [first.selector]: 'retired',
    [second.selector]: 'active',
    [ed.selector]: 'active',
  })
  assert.deepEqual(activateDkimKey(dataDir, 'example.test', second.selector).retired, [])

  assert.throws(() => removeDkimKey(dataDir, 'example.test', second.selector), ConflictError)
  assert.throws(() => activateDkimKey(dataDir, 'example.test', 'nope'), NotFoundError)
  assert.throws(() => removeDkimKey(dataDir, 'example.test', 'nope'), NotFoundError)
  assert.equal(removeDkimKey(dataDir, 'example.test', first.selector).state, 'retired')
  const third = await generateDkimKey(dataDir, 'example.test', {
    algorithm: 'rsa',
    selector: 'next',
    activate: true,
  })
  assert.equal(third.state, 'active', '--activate skips the pending state')
  assert.deepEqual(states(), {
    [second.selector]: 'retired',
    [ed.selector]: 'active',
    next: 'active',
  })
  assert.equal(removeDkimKey(dataDir, 'example.test', 'next', { force: true }).state, 'active')
  assert.deepEqual(states(), { [second.selector]: 'retired', [ed.selector]: 'active' })
  const dir = path.join(dataDir, 'dkim', 'example.test')
  assert.throws(() => statSync(path.join(dir, 'next.pem')), /ENOENT/)

  await assert.rejects(
    generateDkimKey(dataDir, 'example.test', { algorithm: 'rsa', selector: second.selector }),
    ConflictError,
  )
  await assert.rejects(
    generateDkimKey(dataDir, 'example.test', { algorithm: 'rsa', selector: 'no_underscore' }),
    InvalidNameError,
  )
  await assert.rejects(
    generateDkimKey(dataDir, 'not a domain', { algorithm: 'rsa' }),
    InvalidNameError,
  )
})

test('list: every domain, sorted; broken files are reported, not fatal', async (t) => {
  const dataDir = makeTempDir(t)
  assert.deepEqual(listDkimKeys(dataDir), [], 'no dkim directory yet')
  await generateDkimKey(dataDir, 'b.test', { algorithm: 'ed25519', selector: 'one' })
  await generateDkimKey(dataDir, 'a.test', { algorithm: 'ed25519', selector: 'one' })
  await generateDkimKey(dataDir, 'a.test', { algorithm: 'ed25519', selector: 'two' })
  assert.deepEqual(
    listDkimKeys(dataDir).map((k) => `${k.domain} ${k.selector} ${k.state}`),
    ['a.test one active', 'a.test two pending', 'b.test one active'],
  )
  const dir = path.join(dataDir, 'dkim', 'a.test')
  writeFileSync(path.join(dir, 'two.json'), '{"algorithm":"dsa"}')
  writeFileSync(path.join(dir, 'one.pem'), 'not a key')
  const problems: DkimKeyProblem[] = []
  const keys = listDkimKeys(dataDir, 'a.test', (problem) => problems.push(problem))
  assert.deepEqual(
    problems.map((p) => [p.domain, p.selector]),
    [['a.test', 'two']],
  )
  assert.equal(keys.length, 1)
  assert.equal(keys[0]?.publicKey, null)
  assert.match(keys[0]?.problem ?? '', /cannot read the private key/)
  assert.throws(() => activateDkimKey(dataDir, 'a.test', 'one'), ConflictError)
})
