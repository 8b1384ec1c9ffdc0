import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConflictError, NotFoundError } from '../index.ts'
import { CREDENTIALS, deliverOne, readAll, storeWithAccount } from './fixtures.ts'
import type { OpenStore } from './index.ts'

export function directoryContract(backend: OpenStore): void {
  test('domains are added once, listed in order and removed when empty', async (t) => {
    const store = await backend(t).open()
    await store.addDomain('b.test')
    await store.addDomain('a.test')
    await assert.rejects(store.addDomain('a.test'), ConflictError)
    assert.deepEqual(
      (await store.listDomains()).map((d) => d.name),
      ['a.test', 'b.test'],
    )
    assert.equal((await store.getDomain('a.test'))?.name, 'a.test')
    assert.equal(await store.getDomain('c.test'), null)
    await store.addAccount({ address: 'x@a.test', domain: 'a.test', credentials: CREDENTIALS })
    await assert.rejects(store.removeDomain('a.test'), ConflictError)
    await store.removeAccount('x@a.test')
    await store.addAlias('y@a.test', ['z@elsewhere.test'])
    await assert.rejects(store.removeDomain('a.test'), ConflictError)
    await store.removeAlias('y@a.test')
    await store.removeDomain('a.test')
    await assert.rejects(store.removeDomain('a.test'), NotFoundError)
  })

  test('a new account gets INBOX and the special-use mailboxes, subscribed', async (t) => {
    const { store, account } = await storeWithAccount(backend, t)
    const mailboxes = await store.listMailboxes(account.id)
    assert.deepEqual(
      mailboxes.map((m) => [m.name, m.role]),
      [
        ['Archive', 'archive'],
        ['Drafts', 'drafts'],
        ['INBOX', 'inbox'],
        ['Junk', 'junk'],
        ['Sent', 'sent'],
        ['Trash', 'trash'],
      ],
    )
    assert.deepEqual(await store.listSubscriptions(account.id), [
      'Archive',
      'Drafts',
      'INBOX',
      'Junk',
      'Sent',
      'Trash',
    ])
    assert.equal(new Set(mailboxes.map((m) => m.uidValidity)).size, mailboxes.length)
  })

  test('accounts: duplicates, unknown domains, credentials, quotas, listing', async (t) => {
    const { store, account } = await storeWithAccount(backend, t)
    const input = {
      address: 'alice@example.test',
      domain: 'example.test',
      credentials: CREDENTIALS,
    }
    await assert.rejects(store.addAccount(input), ConflictError)
    await assert.rejects(
      store.addAccount({ ...input, address: 'a@nowhere.test', domain: 'nowhere.test' }),
      NotFoundError,
    )
    await store.addAccount({ ...input, address: 'aaron@example.test', quota: { messages: 5 } })
    assert.deepEqual(
      (await store.listAccounts('example.test')).map((a) => a.address),
      ['aaron@example.test', 'alice@example.test'],
    )
    assert.deepEqual(await store.listAccounts('other.test'), [])
    assert.deepEqual((await store.getAccount('aaron@example.test'))?.quota, {
      storage: null,
      messages: 5,
    })
    assert.equal((await store.getAccountById(account.id))?.address, 'alice@example.test')
    assert.equal(await store.getAccount('nobody@example.test'), null)

    assert.deepEqual(await store.getCredentials('alice@example.test'), {
      ...CREDENTIALS,
      apopSecret: null,
    })
    const changed = { passwordHash: 'new-hash', scramSha256: 'new-scram', apopSecret: null }
    await store.setCredentials('alice@example.test', changed)
    assert.deepEqual(await store.getCredentials('alice@example.test'), changed)
    await assert.rejects(store.setCredentials('nobody@example.test', changed), NotFoundError)

    await store.setQuota('alice@example.test', { storage: 1000 })
    await store.setQuota('alice@example.test', { messages: 10 })
    assert.deepEqual(await store.getQuotaUsage(account.id), {
      storage: { used: 0, limit: 1000 },
      messages: { used: 0, limit: 10 },
    })
    await store.setQuota('alice@example.test', { storage: null })
    assert.equal((await store.getQuotaUsage(account.id)).storage.limit, null)
    await assert.rejects(store.setQuota('nobody@example.test', {}), NotFoundError)
  })

  test('removing an account removes its mailboxes and frees its messages', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    await deliverOne(store, inbox)
    const [stored] = await store.getMessages(inbox, [[1, 1]])
    assert.ok(stored)
    await store.removeAccount('alice@example.test')
    assert.equal(await store.getAccount('alice@example.test'), null)
    assert.equal(await store.getMailboxById(inbox), null)
    await assert.rejects(readAll(store.readMessage(stored.blobId)))
    await assert.rejects(store.removeAccount('alice@example.test'), NotFoundError)
  })

  test('aliases: targets in order, merged, removed one by one; catch-all', async (t) => {
    const { store } = await storeWithAccount(backend, t)
    await store.addAlias('team@example.test', ['alice@example.test', 'bob@remote.test'])
    const merged = await store.addAlias('team@example.test', ['bob@remote.test', 'carol@x.test'])
    assert.deepEqual(merged.targets, ['alice@example.test', 'bob@remote.test', 'carol@x.test'])
    await store.addAlias('@example.test', ['alice@example.test'])
    assert.deepEqual(await store.listAliases('example.test'), [
      { source: '@example.test', targets: ['alice@example.test'] },
      {
        source: 'team@example.test',
        targets: ['alice@example.test', 'bob@remote.test', 'carol@x.test'],
      },
    ])
    await store.removeAlias('team@example.test', ['bob@remote.test'])
    assert.deepEqual((await store.getAlias('team@example.test'))?.targets, [
      'alice@example.test',
      'carol@x.test',
    ])
    await assert.rejects(store.removeAlias('team@example.test', ['nobody@x.test']), NotFoundError)
    await store.removeAlias('team@example.test')
    assert.equal(await store.getAlias('team@example.test'), null)
    await assert.rejects(store.removeAlias('team@example.test'), NotFoundError)
    await assert.rejects(store.addAlias('alice@example.test', ['x@y.test']), ConflictError)
    await assert.rejects(store.addAlias('a@unknown.test', ['x@y.test']), NotFoundError)
    await assert.rejects(store.addAlias('empty@example.test', []), ConflictError)
    await store.addAlias('bob@example.test', ['alice@example.test'])
    await assert.rejects(
      store.addAccount({
        address: 'bob@example.test',
        domain: 'example.test',
        credentials: CREDENTIALS,
      }),
      ConflictError,
    )
  })
}
