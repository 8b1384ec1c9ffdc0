import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { openSqliteStore } from '../store/sqlite/index.ts'
import { createDirectory, type Directory, type DirectoryOptions } from './directory.ts'
import { MAX_ALIAS_DEPTH, MAX_EXPANDED_ADDRESSES } from './limits.ts'
import type { Resolution } from './resolve.ts'

/** example.test with alice and bob, and bücher.test with jörg. */
async function openDirectory(t: TestContext, options?: DirectoryOptions): Promise<Directory> {
  const store = await openSqliteStore({ dataDir: makeTempDir(t) })
  t.after(() => store.close())
  const directory = createDirectory(store, options)
  await directory.addDomain('example.test')
  await directory.addDomain('bücher.test')
  await directory.addUser('alice@example.test', 'secret')
  await directory.addUser('bob@example.test', 'secret')
  await directory.addUser('jörg@bücher.test', 'secret')
  return directory
}

/** A resolution with accounts shown as "address" or "address tag", to compare at a glance. */
function brief(resolution: Resolution) {
  if (resolution.kind !== 'deliver') return resolution
  const { local, ...rest } = resolution
  return {
    ...rest,
    local: local.map(({ account, tag }) =>
      tag === null ? account.address : `${account.address} ${tag}`,
    ),
  }
}

const deliver = (local: string[], remote: string[] = []) => ({ kind: 'deliver', local, remote })

test('an account resolves to itself in any spelling of its address and domain', async (t) => {
  const directory = await openDirectory(t)
  for (const recipient of ['alice@example.test', 'Alice@EXAMPLE.test', 'ALICE@example.test.']) {
    assert.deepEqual(brief(await directory.resolve(recipient)), deliver(['alice@example.test']))
  }
  for (const recipient of [
    'jörg@xn--bcher-kva.test',
    'JÖRG@bücher.test',
    'jo\u0308rg@BÜCHER.test',
  ]) {
    assert.deepEqual(
      brief(await directory.resolve(recipient)),
      deliver(['jörg@xn--bcher-kva.test']),
      recipient,
    )
  }
})

test('a foreign domain is not-local, a bad address invalid, a missing one unknown', async (t) => {
  const directory = await openDirectory(t)
  assert.deepEqual(await directory.resolve('alice@elsewhere.test'), { kind: 'not-local' })
  assert.deepEqual(await directory.resolve('nobody@example.test'), { kind: 'unknown' })
  assert.deepEqual(await directory.resolve('"alice"@example.test'), {
    kind: 'invalid',
    reason:
      'Cannot use "\\"alice\\"@example.test" as an address, quoted local parts are not accepted',
  })
  for (const recipient of ['alice', 'alice@[192.0.2.1]', 'al ice@example.test', '']) {
    assert.equal((await directory.resolve(recipient)).kind, 'invalid', recipient)
  }
})

test('an alias expands to local accounts and remote addresses', async (t) => {
  const directory = await openDirectory(t)
  await directory.addAlias('sales@example.test', [
    'alice@example.test',
    'partner@remote.test',
    'jörg@bücher.test',
  ])
  assert.deepEqual(
    brief(await directory.resolve('Sales@Example.test')),
    deliver(['alice@example.test', 'jörg@xn--bcher-kva.test'], ['partner@remote.test']),
  )
  await directory.addAlias('one@example.test', ['Bob@example.test'])
  assert.deepEqual(await directory.resolve('one@example.test'), {
    kind: 'deliver',
    local: [{ account: await directory.getUser('bob@example.test'), tag: null }],
    remote: [],
  })
})

test('nested aliases are followed; cycles and duplicates are cut', async (t) => {
  const directory = await openDirectory(t)
  await directory.addAlias('team@example.test', ['alice@example.test', 'list@example.test'])
  await directory.addAlias('list@example.test', [
    'team@example.test',
    'alice@example.test',
    'bob@example.test',
    'x@remote.test',
  ])
  await directory.addAlias('other@example.test', ['x@remote.test', 'list@example.test'])
  await directory.addAlias('self@example.test', ['self@example.test', 'bob@example.test'])
  const both = deliver(['alice@example.test', 'bob@example.test'], ['x@remote.test'])
  assert.deepEqual(brief(await directory.resolve('team@example.test')), both)
  assert.deepEqual(brief(await directory.resolve('list@example.test')), {
    ...both,
    local: ['alice@example.test', 'bob@example.test'],
  })
  assert.deepEqual(brief(await directory.resolve('other@example.test')), {
    ...both,
    local: ['alice@example.test', 'bob@example.test'],
  })
  assert.deepEqual(
    brief(await directory.resolve('self@example.test')),
    deliver(['bob@example.test']),
  )
})

test('an alias target that names nothing is dropped; with nothing left the alias is unknown', async (t) => {
  const directory = await openDirectory(t)
  await directory.addAlias('some@example.test', ['ghost@example.test', 'bob@example.test'])
  await directory.addAlias('stale@example.test', ['ghost@example.test', 'gone@bücher.test'])
  await directory.addAlias('loop-a@example.test', ['loop-b@example.test'])
  await directory.addAlias('loop-b@example.test', ['loop-a@example.test'])
  assert.deepEqual(
    brief(await directory.resolve('some@example.test')),
    deliver(['bob@example.test']),
  )
  assert.deepEqual(await directory.resolve('stale@example.test'), { kind: 'unknown' })
  assert.deepEqual(await directory.resolve('loop-a@example.test'), { kind: 'unknown' })
})

test('a subaddress reaches the account or alias without its tag, and keeps the tag', async (t) => {
  const directory = await openDirectory(t)
  await directory.addAlias('sales@example.test', ['alice@example.test', 'x@remote.test'])
  await directory.addAlias('news@example.test', ['bob+news@example.test'])
  const resolve = async (recipient: string) => brief(await directory.resolve(recipient))
  assert.deepEqual(await resolve('Alice+Lists@example.test'), deliver(['alice@example.test lists']))
  assert.deepEqual(await resolve('alice+a+b@example.test'), deliver(['alice@example.test a+b']))
  assert.deepEqual(await resolve('alice+@example.test'), deliver(['alice@example.test']))
  // The alias's tag reaches its local targets; remote addresses are passed on unchanged.
  assert.deepEqual(
    await resolve('sales+urgent@example.test'),
    deliver(['alice@example.test urgent'], ['x@remote.test']),
  )
  // A target's own tag wins over the one it was reached with.
  assert.deepEqual(await resolve('news+x@example.test'), deliver(['bob@example.test news']))
  assert.deepEqual(await resolve('+alice@example.test'), { kind: 'unknown' })
  assert.deepEqual(await resolve('ghost+x@example.test'), { kind: 'unknown' })
})

test('an exact account or alias wins over the subaddress reading', async (t) => {
  const directory = await openDirectory(t)
  await directory.addAlias('alice+spam@example.test', ['bob@example.test'])
  assert.deepEqual(
    brief(await directory.resolve('alice+spam@example.test')),
    deliver(['bob@example.test']),
  )
})

test('the separator is configurable, and null turns subaddresses off', async (t) => {
  const dashed = await openDirectory(t, { subaddressSeparator: '-' })
  assert.deepEqual(
    brief(await dashed.resolve('alice-x@example.test')),
    deliver(['alice@example.test x']),
  )
  assert.deepEqual(await dashed.resolve('alice+x@example.test'), { kind: 'unknown' })
  const plain = await openDirectory(t, { subaddressSeparator: null })
  assert.deepEqual(await plain.resolve('alice+x@example.test'), { kind: 'unknown' })
})

test('a catch-all takes what nothing else does, only at the top, and with no tag', async (t) => {
  const directory = await openDirectory(t)
  await directory.addAlias('@example.test', ['bob@example.test'])
  await directory.addAlias('typo@example.test', ['ghost@example.test'])
  const resolve = async (recipient: string) => brief(await directory.resolve(recipient))
  assert.deepEqual(await resolve('anything@example.test'), deliver(['bob@example.test']))
  assert.deepEqual(await resolve('anything+x@example.test'), deliver(['bob@example.test']))
  assert.deepEqual(await resolve('alice@example.test'), deliver(['alice@example.test']))
  assert.deepEqual(await resolve('alice+x@example.test'), deliver(['alice@example.test x']))
  // An alias target that names nothing is not caught: the alias, not the catch-all, matched.
  assert.deepEqual(await resolve('typo@example.test'), { kind: 'unknown' })
  assert.deepEqual(await resolve('anything@bücher.test'), { kind: 'unknown' })
})

test(`a chain of ${MAX_ALIAS_DEPTH} aliases resolves; one more is cut and marked truncated`, async (t) => {
  const directory = await openDirectory(t)
  // level0 → level1 → … → level10 → alice: ten alias levels from the recipient.
  for (let level = 0; level < MAX_ALIAS_DEPTH; level += 1) {
    await directory.addAlias(`level${level}@example.test`, [`level${level + 1}@example.test`])
  }
  await directory.addAlias(`level${MAX_ALIAS_DEPTH}@example.test`, ['alice@example.test'])
  assert.deepEqual(
    brief(await directory.resolve('level1@example.test')),
    deliver(['alice@example.test']),
  )
  assert.deepEqual(await directory.resolve('level0@example.test'), { kind: 'unknown' })
  await directory.addAlias('level0@example.test', ['x@remote.test'])
  assert.deepEqual(brief(await directory.resolve('level0@example.test')), {
    ...deliver([], ['x@remote.test']),
    truncated: true,
  })
})

test(`${MAX_EXPANDED_ADDRESSES} addresses are expanded; past that the rest is cut`, async (t) => {
  const directory = await openDirectory(t)
  const remote = Array.from({ length: MAX_EXPANDED_ADDRESSES }, (_, i) => `r${i}@remote.test`)
  await directory.addAlias('all@example.test', remote)
  const full = await directory.resolve('all@example.test')
  assert.deepEqual(brief(full), deliver([], remote))
  // alice, then the alias (two addresses), then all but the last two of its targets.
  await directory.addAlias('more@example.test', ['alice@example.test', 'all@example.test'])
  const cut = brief(await directory.resolve('more@example.test'))
  assert.deepEqual(cut, {
    ...deliver(['alice@example.test'], remote.slice(0, MAX_EXPANDED_ADDRESSES - 2)),
    truncated: true,
  })
})
