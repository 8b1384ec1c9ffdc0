import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { clientProof } from '../../test/support/scram-client.ts'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import {
  createSaslExchange,
  DUMMY_PASSWORD_HASH,
  hashPassword,
  type SaslCredentialStore,
} from '../auth/index.ts'
import { openSqliteStore } from '../store/sqlite/index.ts'
import { createDirectory } from './directory.ts'

async function openCredentials(t: TestContext): Promise<SaslCredentialStore> {
  const store = await openSqliteStore({ dataDir: makeTempDir(t) })
  t.after(() => store.close())
  const directory = createDirectory(store)
  await directory.addDomain('bücher.test')
  await directory.addUser('jörg@bücher.test', 'correct horse')
  return directory.credentialStore()
}

test('verifyPassword takes the login in any spelling and answers with the canonical address', async (t) => {
  const credentials = await openCredentials(t)
  for (const login of ['jörg@bücher.test', 'JÖRG@BÜCHER.TEST', 'jörg@xn--bcher-kva.test']) {
    assert.equal(
      await credentials.verifyPassword(login, 'correct horse'),
      'jörg@xn--bcher-kva.test',
      login,
    )
  }
  assert.equal(await credentials.verifyPassword('jörg@bücher.test', 'Correct horse'), null)
  assert.equal(await credentials.verifyPassword('nobody@bücher.test', 'correct horse'), null)
  assert.equal(await credentials.verifyPassword('jörg', 'correct horse'), null)
  assert.equal(await credentials.verifyPassword('"jörg"@bücher.test', 'correct horse'), null)
})

test('the dummy hash for unknown logins has the parameters hashPassword uses today', async () => {
  // If hashPassword's cost changes, an unknown login would fail faster or slower than a known one.
  const parameters = (phc: string) => phc.split('$').slice(0, 4).join('$')
  assert.equal(parameters(DUMMY_PASSWORD_HASH), parameters(await hashPassword('x')))
  assert.equal(DUMMY_PASSWORD_HASH.length, (await hashPassword('x')).length)
})

test('SASL PLAIN logs in through the directory and reports the canonical login', async (t) => {
  const credentials = await openCredentials(t)
  const plain = (message: string) => {
    const exchange = createSaslExchange('PLAIN', credentials)
    assert.ok(exchange)
    return exchange.start(Buffer.from(message))
  }
  assert.deepEqual(await plain('\u0000JÖRG@bücher.test\u0000correct horse'), {
    kind: 'success',
    login: 'jörg@xn--bcher-kva.test',
    data: null,
  })
  const wrong = await plain('\u0000jörg@bücher.test\u0000wrong')
  assert.equal(wrong.kind === 'failure' && wrong.reason, 'credentials')
  const unknown = await plain('\u0000nobody@bücher.test\u0000correct horse')
  assert.equal(unknown.kind === 'failure' && unknown.reason, 'credentials')
})

/** The client's side of SCRAM-SHA-256 (RFC 5802 §3), enough to log in once. */
async function scramLogin(credentials: SaslCredentialStore, user: string, password: string) {
  const exchange = createSaslExchange('SCRAM-SHA-256', credentials)
  assert.ok(exchange)
  const clientFirstBare = `n=${user},r=clientnonce`
  const first = await exchange.start(Buffer.from(`n,,${clientFirstBare}`))
  assert.equal(first.kind, 'challenge')
  const serverFirst = first.kind === 'challenge' ? first.data.toString() : ''
  const withoutProof = `c=biws,r=${serverFirst.split(',')[0]?.slice(2)}`
  const proof = clientProof(password, serverFirst, clientFirstBare, withoutProof)
  return exchange.respond(Buffer.from(`${withoutProof},p=${proof}`))
}

test('SCRAM-SHA-256 logs in with the secrets addUser stored', async (t) => {
  const credentials = await openCredentials(t)
  const good = await scramLogin(credentials, 'JÖRG@bücher.test', 'correct horse')
  assert.equal(good.kind === 'success' && good.login, 'jörg@xn--bcher-kva.test')
  const bad = await scramLogin(credentials, 'jörg@bücher.test', 'wrong')
  assert.equal(bad.kind === 'failure' && bad.reason, 'credentials')
  assert.equal(await credentials.scramCredentials('nobody@bücher.test'), null)
  assert.equal(await credentials.scramCredentials('not an address'), null)
})
