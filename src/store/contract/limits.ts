import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ConflictError,
  InvalidNameError,
  MAX_ALIAS_TARGETS,
  MAX_KEYWORD_OCTETS,
  MAX_MAILBOX_DEPTH,
  MAX_MAILBOX_NAME_OCTETS,
  MAX_MAILBOXES_PER_ACCOUNT,
  MAX_SUBSCRIPTIONS_PER_ACCOUNT,
} from '../index.ts'
import { deliverOne, storeWithAccount } from './fixtures.ts'
import type { OpenStore } from './index.ts'

// Every bound of src/store/limits.ts, at the bound and one past it (DESIGN.md invariant 2).
export function limitContract(backend: OpenStore): void {
  test('alias targets, keyword length and mailbox name length are bounded', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    const targets = (count: number, from = 0) =>
      Array.from({ length: count }, (_, i) => `t${from + i}@remote.test`)
    await store.addAlias('many@example.test', targets(MAX_ALIAS_TARGETS))
    await assert.rejects(
      store.addAlias('many@example.test', targets(1, MAX_ALIAS_TARGETS)),
      ConflictError,
    )
    assert.equal((await store.getAlias('many@example.test'))?.targets.length, MAX_ALIAS_TARGETS)

    await deliverOne(store, inbox)
    await store.storeFlags(inbox, [[1, 1]], 'add', ['k'.repeat(MAX_KEYWORD_OCTETS)])
    await assert.rejects(
      store.storeFlags(inbox, [[1, 1]], 'add', ['k'.repeat(MAX_KEYWORD_OCTETS + 1)]),
      InvalidNameError,
    )

    const level = 'n'.repeat(200)
    const levels = Math.floor(MAX_MAILBOX_NAME_OCTETS / (level.length + 1))
    const longest = Array.from({ length: levels }, () => level).join('/')
    const { account } = await storeWithAccount(backend, t, 'bob@example.test')
    await store.createMailbox(account.id, longest)
    await assert.rejects(store.createMailbox(account.id, `${longest}/${level}`), InvalidNameError)
  })

  test('mailboxes and subscriptions per account are bounded', async (t) => {
    const { store, account } = await storeWithAccount(backend, t)
    const existing = (await store.listMailboxes(account.id)).length
    // Deep names make up to MAX_MAILBOX_DEPTH mailboxes per call, which keeps this quick.
    let created = existing
    for (let tree = 0; created < MAX_MAILBOXES_PER_ACCOUNT; tree += 1) {
      const depth = Math.min(MAX_MAILBOX_DEPTH, MAX_MAILBOXES_PER_ACCOUNT - created)
      await store.createMailbox(
        account.id,
        Array.from({ length: depth }, (_, i) => (i === 0 ? `tree${tree}` : `l${i}`)).join('/'),
      )
      created += depth
    }
    assert.equal((await store.listMailboxes(account.id)).length, MAX_MAILBOXES_PER_ACCOUNT)
    await assert.rejects(store.createMailbox(account.id, 'one-too-many'), ConflictError)

    const subscribed = (await store.listSubscriptions(account.id)).length
    // In batches: a networked backend's round trips overlap while the account lock orders them.
    for (let i = subscribed; i < MAX_SUBSCRIPTIONS_PER_ACCOUNT; i += 100) {
      const batch = Math.min(100, MAX_SUBSCRIPTIONS_PER_ACCOUNT - i)
      await Promise.all(
        Array.from({ length: batch }, (_, j) => store.setSubscribed(account.id, `s${i + j}`, true)),
      )
    }
    await assert.rejects(store.setSubscribed(account.id, 'one-too-many', true), ConflictError)
    await store.setSubscribed(account.id, 's10', true)
    assert.equal((await store.listSubscriptions(account.id)).length, MAX_SUBSCRIPTIONS_PER_ACCOUNT)
  })
}
