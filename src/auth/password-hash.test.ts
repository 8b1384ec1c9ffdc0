import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hashPassword, verifyPassword } from './password-hash.ts'
import {
  deriveScramCredentials,
  formatScramCredentials,
  parseScramCredentials,
} from './scram-credentials.ts'

test('hashPassword makes a salted argon2id PHC string that only the right password verifies', async () => {
  const hash = await hashPassword('correct horse battery staple')
  assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
  assert.equal(await verifyPassword('correct horse battery staple', hash), true)
  assert.equal(await verifyPassword('correct horse battery stapler', hash), false)
  assert.notEqual(
    await hashPassword('correct horse battery staple'),
    hash,
    'a fresh salt each time',
  )
})

test('verifyPassword refuses what is not an argon2id PHC string', async () => {
  assert.equal(await verifyPassword('x', 'plaintext'), false)
  assert.equal(await verifyPassword('x', '$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA'), false)
})

test('SCRAM secrets round-trip through their stored form and never contain the password', async () => {
  const credentials = await deriveScramCredentials('pencil', Buffer.from('salt-salt-salt16'), 4096)
  const stored = formatScramCredentials(credentials)
  assert.match(stored, /^SCRAM-SHA-256\$4096:/)
  assert.doesNotMatch(stored, /pencil/)
  assert.deepEqual(parseScramCredentials(stored), credentials)
  assert.equal(parseScramCredentials('SCRAM-SHA-1$4096:x$y:z'), null)
})
