import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { ConflictError, NotFoundError } from '../store/index.ts'
import { openSqliteStore } from '../store/sqlite/index.ts'
import { AddressError } from './canonical.ts'
import { createDirectory, type DirectoryOptions } from './directory.ts'

async function openDirectory(t: TestContext, options?: DirectoryOptions) {
  const store = await openSqliteStore({ dataDir: makeTempDir(t) })
  t.after(() => store.close())
  return { store, directory: createDirectory(store, options) }
}

test('domains are stored once, as lower-case A-labels, whatever the spelling', async (t) => {
  const { store, directory } = await openDirectory(t)
  const added = await directory.addDomain('BÜCHER.Test.')
  assert.equal(added.name, 'xn--bcher-kva.test')
  await directory.addDomain('Example.TEST')
  assert.deepEqual(
    (await directory.listDomains()).map((domain) => domain.name),
    ['example.test', 'xn--bcher-kva.test'],
  )
  assert.ok(await store.getDomain('example.test'))
  await assert.rejects(directory.addDomain('xn--bcher-kva.test'), ConflictError)
  await assert.rejects(directory.addDomain('example.test'), ConflictError)
  await assert.rejects(directory.addDomain('[192.0.2.1]'), AddressError)
})

test('isLocalDomain answers for every spelling and is false for what is no domain', async (t) => {
  const { directory } = await openDirectory(t)
  await directory.addDomain('bücher.test')
  for (const name of ['bücher.test', 'BÜCHER.TEST', 'xn--bcher-kva.test', 'XN--BCHER-KVA.test.']) {
    assert.equal(await directory.isLocalDomain(name), true, name)
  }
  assert.equal(await directory.isLocalDomain('example.test'), false)
  assert.equal(await directory.isLocalDomain('not a domain'), false)
  assert.equal(await directory.isLocalDomain('[192.0.2.1]'), false)
})

test('removeDomain passes the store errors through: unknown, and still in use', async (t) => {
  const { directory } = await openDirectory(t)
  await assert.rejects(directory.removeDomain('example.test'), NotFoundError)
  await directory.addDomain('example.test')
  await directory.addUser('alice@example.test', 'secret')
  await assert.rejects(directory.removeDomain('EXAMPLE.test'), ConflictError)
  await directory.removeUser('Alice@Example.Test')
  await directory.removeDomain('EXAMPLE.test')
  assert.deepEqual(await directory.listDomains(), [])
})

test('addUser stores the canonical address with an argon2id hash and SCRAM secrets', async (t) => {
  const { store, directory } = await openDirectory(t)
  await directory.addDomain('bücher.test')
  const account = await directory.addUser('Jörg@BÜCHER.test', 'correct horse', {
    storage: 1_000_000,
  })
  assert.equal(account.address, 'jörg@xn--bcher-kva.test')
  assert.equal(account.domain, 'xn--bcher-kva.test')
  assert.deepEqual(account.quota, { storage: 1_000_000, messages: null })
  const credentials = await store.getCredentials('jörg@xn--bcher-kva.test')
  assert.match(credentials?.passwordHash ?? '', /^\$argon2id\$v=19\$/)
  assert.match(credentials?.scramSha256 ?? '', /^SCRAM-SHA-256\$10000:/)
  assert.doesNotMatch(JSON.stringify(credentials), /correct horse/)
  for (const spelling of [
    'jörg@bücher.test',
    'JÖRG@xn--bcher-kva.test',
    'jo\u0308rg@bücher.test',
  ]) {
    assert.equal((await directory.getUser(spelling))?.id, account.id, spelling)
  }
  assert.equal(await directory.getUser('nobody@bücher.test'), null)
})

test('addUser refuses duplicates in any spelling, unknown domains and bad input', async (t) => {
  const { directory } = await openDirectory(t)
  await directory.addDomain('example.test')
  await directory.addUser('alice@example.test', 'secret')
  await assert.rejects(directory.addUser('ALICE@Example.Test', 'other'), ConflictError)
  await assert.rejects(directory.addUser('bob@elsewhere.test', 'secret'), NotFoundError)
  await assert.rejects(directory.addUser('"bob"@example.test', 'secret'), AddressError)
  await assert.rejects(directory.addUser('bob@example.test', ''), RangeError)
  await directory.addAlias('sales@example.test', ['alice@example.test'])
  await assert.rejects(directory.addUser('Sales@example.test', 'secret'), ConflictError)
})

test('addUser refuses an address with the subaddress separator, which no mail could reach', async (t) => {
  const { directory } = await openDirectory(t)
  await directory.addDomain('example.test')
  await assert.rejects(directory.addUser('alice+work@example.test', 'secret'), {
    name: 'AddressError',
    message:
      'Cannot add user "alice+work@example.test", its local part contains the subaddress separator "+"',
  })
  const { directory: dashed } = await openDirectory(t, { subaddressSeparator: '-' })
  await dashed.addDomain('example.test')
  await dashed.addUser('alice+work@example.test', 'secret')
  await assert.rejects(dashed.addUser('alice-work@example.test', 'secret'), AddressError)
  const { directory: plain } = await openDirectory(t, { subaddressSeparator: null })
  await plain.addDomain('example.test')
  await plain.addUser('alice+work@example.test', 'secret')
})

test('createDirectory refuses a separator that could not split an address', async (t) => {
  const store = await openSqliteStore({ dataDir: makeTempDir(t) })
  t.after(() => store.close())
  for (const separator of ['', '.', '++', 'a', '@', ' ']) {
    assert.throws(() => createDirectory(store, { subaddressSeparator: separator }), RangeError)
  }
})

test('listUsers lists every account, or one domain given in any spelling', async (t) => {
  const { directory } = await openDirectory(t)
  await directory.addDomain('example.test')
  await directory.addDomain('bücher.test')
  await directory.addUser('bob@example.test', 'secret')
  await directory.addUser('alice@example.test', 'secret')
  await directory.addUser('carol@bücher.test', 'secret')
  const addresses = async (domain?: string) =>
    (await directory.listUsers(domain)).map((account) => account.address)
  assert.deepEqual(await addresses(), [
    'alice@example.test',
    'bob@example.test',
    'carol@xn--bcher-kva.test',
  ])
  assert.deepEqual(await addresses('BÜCHER.test'), ['carol@xn--bcher-kva.test'])
  await directory.removeUser('BOB@example.test')
  assert.deepEqual(await addresses('example.test'), ['alice@example.test'])
  await assert.rejects(directory.removeUser('bob@example.test'), NotFoundError)
})

test('setPassword replaces both secrets; an unknown account is NotFoundError', async (t) => {
  const { directory } = await openDirectory(t)
  await directory.addDomain('example.test')
  await directory.addUser('alice@example.test', 'old password')
  await directory.setPassword('Alice@Example.test', 'new password')
  const credentials = directory.credentialStore()
  assert.equal(await credentials.verifyPassword('alice@example.test', 'old password'), null)
  assert.equal(
    await credentials.verifyPassword('alice@example.test', 'new password'),
    'alice@example.test',
  )
  await assert.rejects(directory.setPassword('bob@example.test', 'x'), NotFoundError)
  await assert.rejects(directory.setPassword('alice@example.test', ''), RangeError)
})

test('aliases are stored with canonical sources and targets, local or remote', async (t) => {
  const { directory } = await openDirectory(t)
  await directory.addDomain('example.test')
  await directory.addDomain('bücher.test')
  const alias = await directory.addAlias('Sales@EXAMPLE.test', [
    'Alice@example.test',
    'Partner@Remote.TEST',
    'alice@EXAMPLE.test',
  ])
  assert.deepEqual(alias, {
    source: 'sales@example.test',
    targets: ['alice@example.test', 'partner@remote.test'],
  })
  await directory.addAlias('@BÜCHER.test', ['postmaster@example.test'])
  assert.deepEqual(await directory.listAliases('xn--bcher-kva.test'), [
    { source: '@xn--bcher-kva.test', targets: ['postmaster@example.test'] },
  ])
  await directory.removeAlias('SALES@example.test', ['PARTNER@remote.test'])
  assert.deepEqual(await directory.listAliases('example.test'), [
    { source: 'sales@example.test', targets: ['alice@example.test'] },
  ])
  await directory.removeAlias('@bücher.test')
  assert.deepEqual(
    (await directory.listAliases()).map((entry) => entry.source),
    ['sales@example.test'],
  )
})

test('addAlias refuses unknown domains, account addresses, no targets and bad addresses', async (t) => {
  const { directory } = await openDirectory(t)
  await directory.addDomain('example.test')
  await directory.addUser('alice@example.test', 'secret')
  await assert.rejects(
    directory.addAlias('x@elsewhere.test', ['alice@example.test']),
    NotFoundError,
  )
  await assert.rejects(directory.addAlias('ALICE@example.test', ['x@remote.test']), ConflictError)
  await assert.rejects(directory.addAlias('sales@example.test', []), RangeError)
  await assert.rejects(directory.addAlias('sales@example.test', ['no-at-sign']), AddressError)
  await assert.rejects(directory.addAlias('@', ['alice@example.test']), AddressError)
  await assert.rejects(directory.removeAlias('sales@example.test'), NotFoundError)
})
