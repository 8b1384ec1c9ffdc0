import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { clientProof } from '../../../test/support/scram-client.ts'
import { deriveScramCredentials, type ScramCredentials } from '../scram-credentials.ts'
import {
  createSaslExchange,
  MAX_SASL_RESPONSE_OCTETS,
  type SaslCredentialStore,
  type SaslStep,
} from './index.ts'

function storeWith(
  accounts: Record<string, { password: string; scram?: ScramCredentials }>,
): SaslCredentialStore {
  return {
    verifyPassword: async (username, password) =>
      accounts[username]?.password === password ? username.toLowerCase() : null,
    scramCredentials: async (username) => {
      const account = accounts[username]
      if (!account) return null
      return {
        login: username.toLowerCase(),
        credentials: account.scram ?? (await deriveScramCredentials(account.password)),
      }
    },
  }
}

function exchangeFor(mechanism: string, store: SaslCredentialStore) {
  const exchange = createSaslExchange(mechanism, store)
  assert.ok(exchange, `${mechanism} is offered`)
  return exchange
}

const text = (step: SaslStep) => (step.kind === 'challenge' ? step.data.toString() : step.kind)

test('SCRAM-SHA-256 reproduces the exchange of RFC 7677 §3', async () => {
  // user "user", password "pencil", salt and iteration count from the RFC's example.
  const scram = await deriveScramCredentials(
    'pencil',
    Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
    4096,
  )
  const exchange = createSaslExchange(
    'scram-sha-256',
    storeWith({ user: { password: 'pencil', scram } }),
    {
      serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    },
  )
  assert.ok(exchange)
  const first = await exchange.start(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'))
  assert.equal(
    text(first),
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  )
  const final = await exchange.respond(
    Buffer.from(
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    ),
  )
  assert.equal(final.kind, 'success')
  if (final.kind === 'success') {
    assert.equal(final.login, 'user')
    assert.equal(final.data?.toString(), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')
  }
})

async function scramLogin(
  store: SaslCredentialStore,
  user: string,
  password: string,
): Promise<SaslStep> {
  const exchange = createSaslExchange('SCRAM-SHA-256', store)
  assert.ok(exchange)
  assert.equal(text(await exchange.start(null)), '')
  const bare = `n=${user},r=clientnonce123`
  const serverFirst = text(await exchange.respond(Buffer.from(`n,,${bare}`)))
  const nonce = serverFirst.split(',')[0]?.slice(2)
  const withoutProof = `c=biws,r=${nonce}`
  return exchange.respond(
    Buffer.from(`${withoutProof},p=${clientProof(password, serverFirst, bare, withoutProof)}`),
  )
}

test('SCRAM-SHA-256 logs in with the right password and refuses a wrong one', async () => {
  const store = storeWith({ alice: { password: 'correct horse' } })
  const good = await scramLogin(store, 'alice', 'correct horse')
  assert.equal(good.kind, 'success')
  const bad = await scramLogin(store, 'alice', 'wrong')
  assert.deepEqual(bad.kind === 'failure' && [bad.reason, bad.attemptedLogin], [
    'credentials',
    'alice',
  ])
})

test('SCRAM-SHA-256 answers an unknown user like a known one, and fails at the proof', async () => {
  const store = storeWith({})
  const exchange = createSaslExchange('SCRAM-SHA-256', store)
  assert.ok(exchange)
  const serverFirst = text(await exchange.start(Buffer.from('n,,n=nobody,r=abc')))
  assert.match(serverFirst, /^r=abc[A-Za-z0-9+/]+,s=[A-Za-z0-9+/]{22}==,i=10000$/)
  const again = exchangeFor('SCRAM-SHA-256', store)
  assert.equal(
    text(await again.start(Buffer.from('n,,n=nobody,r=abc'))).split(',')[1],
    serverFirst.split(',')[1],
    'a stable fake salt',
  )
  const result = await scramLogin(store, 'nobody', 'guess')
  assert.equal(result.kind === 'failure' && result.reason, 'credentials')
})

test('SCRAM-SHA-256 refuses channel binding it does not offer, bad names and mismatched nonces', async () => {
  const store = storeWith({ alice: { password: 'pw' } })
  const start = async (message: string) =>
    (await exchangeFor('SCRAM-SHA-256', store).start(Buffer.from(message))).kind
  assert.equal(await start('p=tls-unique,,n=alice,r=x'), 'failure')
  assert.equal(await start('n,,n=al=ice,r=x'), 'failure')
  assert.equal(await start('n,a=bob,n=alice,r=x'), 'failure')
  assert.equal(await start('garbage'), 'failure')
  const exchange = exchangeFor('SCRAM-SHA-256', store)
  await exchange.start(Buffer.from('n,,n=alice,r=x'))
  const final = await exchange.respond(Buffer.from('c=biws,r=not-the-nonce,p=AAAA'))
  assert.equal(final.kind === 'failure' && final.reason, 'malformed')
})

test('PLAIN checks authcid and password, and refuses to act as someone else (RFC 4616 §2)', async () => {
  const store = storeWith({ alice: { password: 'secret' } })
  const plain = async (message: string) => exchangeFor('PLAIN', store).start(Buffer.from(message))
  const ok = await plain('\u0000alice\u0000secret')
  assert.deepEqual(ok, { kind: 'success', login: 'alice', data: null })
  assert.equal((await plain('alice\u0000alice\u0000secret')).kind, 'success')
  const proxy = await plain('bob\u0000alice\u0000secret')
  assert.equal(proxy.kind === 'failure' && proxy.message, 'Cannot act as another user')
  const wrong = await plain('\u0000alice\u0000nope')
  assert.deepEqual(wrong.kind === 'failure' && [wrong.reason, wrong.attemptedLogin], [
    'credentials',
    'alice',
  ])
  assert.equal(
    (await plain('no separators')).kind === 'failure' && (await plain('x')).kind,
    'failure',
  )
  // Without an initial response PLAIN sends an empty challenge first.
  const exchange = exchangeFor('PLAIN', store)
  assert.equal(text(await exchange.start(null)), '')
  assert.equal((await exchange.respond(Buffer.from('\u0000alice\u0000secret'))).kind, 'success')
})

test('LOGIN asks for the user name, then the password; an initial response is the user name', async () => {
  const store = storeWith({ alice: { password: 'secret' } })
  const exchange = exchangeFor('login', store)
  assert.equal(text(await exchange.start(null)), 'Username:')
  assert.equal(text(await exchange.respond(Buffer.from('alice'))), 'Password:')
  assert.equal((await exchange.respond(Buffer.from('secret'))).kind, 'success')
  const withInitial = exchangeFor('LOGIN', store)
  assert.equal(text(await withInitial.start(Buffer.from('alice'))), 'Password:')
  assert.equal((await withInitial.respond(Buffer.from('bad'))).kind, 'failure')
})

test('an unknown mechanism is not offered', () => {
  assert.equal(createSaslExchange('CRAM-MD5', storeWith({})), null)
})

test('no mechanism throws on arbitrary client messages', async () => {
  const store = storeWith({ alice: { password: 'pw' } })
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('PLAIN', 'LOGIN', 'SCRAM-SHA-256'),
      fc.array(fc.uint8Array({ maxLength: 80 }), { minLength: 1, maxLength: 4 }),
      async (mechanism, messages) => {
        const exchange = exchangeFor(mechanism, store)
        let step = await exchange.start(Buffer.from(messages[0] ?? []))
        for (const message of messages.slice(1)) {
          if (step.kind !== 'challenge') break
          step = await exchange.respond(Buffer.from(message))
        }
        assert.ok(['challenge', 'success', 'failure'].includes(step.kind))
        assert.notEqual(step.kind, 'success')
      },
    ),
    { numRuns: 500 },
  )
})

test('a client message past MAX_SASL_RESPONSE_OCTETS is refused at the limit, not before', async () => {
  const store = storeWith({ alice: { password: 'pw' } })
  const atLimit = `\u0000alice\u0000${'p'.repeat(MAX_SASL_RESPONSE_OCTETS - 7)}`
  assert.equal(Buffer.byteLength(atLimit), MAX_SASL_RESPONSE_OCTETS)
  const credentials = await exchangeFor('PLAIN', store).start(Buffer.from(atLimit))
  assert.equal(credentials.kind === 'failure' && credentials.reason, 'credentials')
  const past = await exchangeFor('PLAIN', store).start(Buffer.from(`${atLimit}p`))
  assert.equal(
    past.kind === 'failure' && past.message,
    `Response longer than ${MAX_SASL_RESPONSE_OCTETS} octets`,
  )
  const login = exchangeFor('LOGIN', store)
  await login.start(null)
  assert.equal(
    (await login.respond(Buffer.alloc(MAX_SASL_RESPONSE_OCTETS + 1, 0x61))).kind,
    'failure',
  )
})
