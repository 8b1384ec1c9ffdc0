import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConflictError, InvalidNameError, MAX_MAILBOX_DEPTH, NotFoundError } from '../index.ts'
import { deliverOne, storeWithAccount } from './fixtures.ts'
import type { OpenStore } from './index.ts'

export function mailboxContract(backend: OpenStore): void {
  test('create makes missing parents; names are checked; INBOX is one name', async (t) => {
    const { store, account } = await storeWithAccount(backend, t)
    const deep = await store.createMailbox(account.id, 'Projects/2026/Café')
    assert.equal(deep.name, 'Projects/2026/Café')
    assert.ok(await store.getMailbox(account.id, 'Projects'))
    assert.ok(await store.getMailbox(account.id, 'Projects/2026'))
    await assert.rejects(store.createMailbox(account.id, 'Projects/2026/Café'), ConflictError)
    await assert.rejects(store.createMailbox(account.id, 'inbox'), ConflictError)
    const child = await store.createMailbox(account.id, 'inbox/Sub')
    assert.equal(child.name, 'INBOX/Sub')
    assert.equal((await store.getMailbox(account.id, 'InBoX'))?.name, 'INBOX')
    for (const bad of ['', '/a', 'a/', 'a//b', 'a/../b', 'a*', 'b%', 'x\u0001', 'é'.repeat(300)]) {
      await assert.rejects(store.createMailbox(account.id, bad), InvalidNameError, bad)
    }
    assert.equal(await store.getMailbox(account.id, 'a//b'), null)
    await assert.rejects(store.createMailbox(account.id, 'Other', { role: 'trash' }), ConflictError)
    // A name in decomposed Unicode is the same mailbox as its composed form.
    assert.equal((await store.getMailbox(account.id, 'Projects/2026/Cafe\u0301'))?.id, deep.id)
  })

  test('a mailbox created again after deletion gets a greater UIDVALIDITY', async (t) => {
    const { store, account } = await storeWithAccount(backend, t)
    const first = await store.createMailbox(account.id, 'Again')
    await store.deleteMailbox(first.id)
    const second = await store.createMailbox(account.id, 'Again')
    assert.ok(second.uidValidity > first.uidValidity)
    assert.notEqual(second.id, first.id)
  })

  test('delete refuses INBOX and parents, and removes the messages', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    await assert.rejects(store.deleteMailbox(inbox), ConflictError)
    const parent = await store.createMailbox(account.id, 'Parent')
    const child = await store.createMailbox(account.id, 'Parent/Child')
    await assert.rejects(store.deleteMailbox(parent.id), ConflictError)
    await deliverOne(store, child.id)
    assert.equal((await store.getQuotaUsage(account.id)).messages.used, 1)
    await store.deleteMailbox(child.id)
    await store.deleteMailbox(parent.id)
    assert.equal(await store.getMailboxById(child.id), null)
    assert.equal((await store.getQuotaUsage(account.id)).messages.used, 0)
    await assert.rejects(store.deleteMailbox(child.id), NotFoundError)
    await assert.rejects(store.getMailboxStatus(child.id), NotFoundError)
  })

  test('rename moves the children along and keeps UIDVALIDITY and messages', async (t) => {
    const { store, account } = await storeWithAccount(backend, t)
    const work = await store.createMailbox(account.id, 'Work')
    const sub = await store.createMailbox(account.id, 'Work/Sub')
    await deliverOne(store, sub.id)
    await store.createMailbox(account.id, 'Workshop')
    const renamed = await store.renameMailbox(work.id, 'Archive/Old Work')
    assert.equal(renamed.name, 'Archive/Old Work')
    assert.equal(renamed.uidValidity, work.uidValidity)
    const names = (await store.listMailboxes(account.id)).map((m) => m.name)
    assert.ok(names.includes('Archive/Old Work/Sub'))
    assert.ok(names.includes('Workshop'), 'a sibling with the same prefix is not renamed')
    assert.ok(!names.includes('Work/Sub'))
    assert.equal((await store.getMailboxStatus(sub.id)).messages, 1)
    await assert.rejects(store.renameMailbox(work.id, 'Workshop'), ConflictError)
    await assert.rejects(store.renameMailbox(work.id, 'Archive/Old Work/Sub/Deeper'), ConflictError)
    await assert.rejects(store.renameMailbox(work.id, 'bad//name'), InvalidNameError)
  })

  test('renaming INBOX moves its messages to a new mailbox and leaves INBOX empty', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    await deliverOne(store, inbox, undefined, ['\\Seen'])
    await deliverOne(store, inbox)
    const child = await store.createMailbox(account.id, 'INBOX/Kept')
    const before = await store.getMailboxStatus(inbox)
    const moved = await store.renameMailbox(inbox, 'Old Inbox')
    const after = await store.getMailboxStatus(inbox)
    assert.equal(after.messages, 0)
    assert.equal(after.uidValidity, before.uidValidity)
    assert.ok(after.uidNext >= 3, 'INBOX UIDs are not reused')
    const snapshot = await store.openMailbox(moved.id)
    assert.deepEqual(
      snapshot.messages.map((m) => [m.uid, m.flags]),
      [
        [1, ['\\Seen']],
        [2, []],
      ],
    )
    assert.equal((await store.getMailboxById(child.id))?.name, 'INBOX/Kept')
  })

  test('subscriptions are names and outlive the mailbox', async (t) => {
    const { store, account } = await storeWithAccount(backend, t)
    const news = await store.createMailbox(account.id, 'News')
    await store.setSubscribed(account.id, 'News', true)
    await store.setSubscribed(account.id, 'News', true)
    await store.setSubscribed(account.id, 'Not/There', true)
    await store.setSubscribed(account.id, 'Junk', false)
    await store.deleteMailbox(news.id)
    const subscribed = await store.listSubscriptions(account.id)
    assert.ok(subscribed.includes('News'))
    assert.ok(subscribed.includes('Not/There'))
    assert.ok(!subscribed.includes('Junk'))
    await assert.rejects(store.setSubscribed(account.id, 'a//b', true), InvalidNameError)
  })

  test('status counts messages, unseen, deleted and size', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    const fresh = await store.getMailboxStatus(inbox)
    assert.equal(fresh.uidNext, 1)
    assert.equal(fresh.messages, 0)
    assert.ok(fresh.highestModseq >= 1)
    await deliverOne(store, inbox, undefined, ['\\Seen'])
    await deliverOne(store, inbox, undefined, ['\\Deleted'])
    await deliverOne(store, inbox)
    const status = await store.getMailboxStatus(inbox)
    const sizes = (await store.getMessages(inbox, [[1, 3]])).reduce((sum, m) => sum + m.size, 0)
    assert.deepEqual(
      [status.messages, status.unseen, status.deleted, status.size, status.uidNext],
      [3, 2, 1, sizes, 4],
    )
  })

  test('names beyond the BMP keep their hierarchy through rename and delete', async (t) => {
    const { store, account } = await storeWithAccount(backend, t)
    const folder = await store.createMailbox(account.id, '📁/child')
    const parent = await store.getMailbox(account.id, '📁')
    assert.ok(parent)
    await assert.rejects(store.deleteMailbox(parent.id), ConflictError)
    await store.renameMailbox(parent.id, 'Renamed')
    assert.equal((await store.getMailboxById(folder.id))?.name, 'Renamed/child')
  })

  test('rename refuses to push children past the depth or length limits', async (t) => {
    const { store, account } = await storeWithAccount(backend, t)
    const deep = Array.from({ length: MAX_MAILBOX_DEPTH }, (_, i) => `l${i}`).join('/')
    await store.createMailbox(account.id, deep)
    const top = await store.getMailbox(account.id, 'l0')
    assert.ok(top)
    await assert.rejects(store.renameMailbox(top.id, 'x/y/z'), InvalidNameError)
    assert.ok(await store.getMailbox(account.id, deep), 'nothing was renamed')
  })

  test('subscriptions: unknown accounts refused', async (t) => {
    const { store } = await storeWithAccount(backend, t)
    await assert.rejects(store.setSubscribed(999_999, 'x', true), NotFoundError)
  })
}
