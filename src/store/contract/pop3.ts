import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout } from 'node:timers/promises'
import { NotFoundError } from '../index.ts'
import { collect } from './feed.ts'
import { CREDENTIALS, deliverOne, message, readAll, storeWithAccount } from './fixtures.ts'
import type { OpenStore } from './index.ts'

// What the POP3 server asks of the store: the maildrop lock (RFC 1939 §8), LOGIN-DELAY
// (RFC 2449 §6.8), DELE applied at QUIT (RFC 1939 §6), sizes as sent and APOP secrets (§7).
export function pop3Contract(backend: OpenStore): void {
  const lease = (holder: string, more: { leaseMs?: number; minIntervalMs?: number } = {}) => ({
    holder,
    leaseMs: 60_000,
    ...more,
  })

  test('a mailbox lock has one holder; it extends its own; only it can unlock', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    assert.equal(await store.lockMailbox(inbox, lease('a')), 'locked')
    assert.equal(await store.lockMailbox(inbox, lease('b')), 'in-use')
    assert.equal(await store.lockMailbox(inbox, lease('a')), 'locked', 'extended')
    await store.unlockMailbox(inbox, 'b')
    assert.equal(await store.lockMailbox(inbox, lease('b')), 'in-use', 'b could not unlock it')
    await store.unlockMailbox(inbox, 'a')
    assert.equal(await store.lockMailbox(inbox, lease('b')), 'locked')
    await assert.rejects(store.lockMailbox(999_999, lease('a')), NotFoundError)
    await store.unlockMailbox(999_999, 'a')
  })

  test('an expired lease is taken over', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    assert.equal(await store.lockMailbox(inbox, lease('a', { leaseMs: 50 })), 'locked')
    await setTimeout(100)
    assert.equal(await store.lockMailbox(inbox, lease('b')), 'locked')
    assert.equal(await store.lockMailbox(inbox, lease('a')), 'in-use')
    // The old holder's unlock does not release the new holder's lock.
    await store.unlockMailbox(inbox, 'a')
    assert.equal(await store.lockMailbox(inbox, lease('a')), 'in-use')
  })

  test('a renewal only extends a live lock of its holder; otherwise it is lost and takes nothing', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    const renew = (holder: string, leaseMs = 60_000) => ({ holder, leaseMs, renew: true })
    assert.equal(await store.lockMailbox(inbox, renew('a')), 'lost', 'never taken')
    assert.equal(await store.lockMailbox(inbox, lease('a', { leaseMs: 50 })), 'locked')
    assert.equal(await store.lockMailbox(inbox, renew('a', 50)), 'locked', 'live: extended')
    assert.equal(await store.lockMailbox(inbox, renew('b')), 'lost', "another's lock")
    await setTimeout(100)
    // Lapsed: whether or not anyone had it meanwhile, the renewal must not take it back.
    assert.equal(await store.lockMailbox(inbox, renew('a')), 'lost', 'lapsed')
    assert.equal(await store.lockMailbox(inbox, lease('b')), 'locked')
    await store.unlockMailbox(inbox, 'b')
    assert.equal(await store.lockMailbox(inbox, renew('a')), 'lost', 'released by another')
    assert.equal(await store.lockMailbox(inbox, renew('b')), 'lost', 'released by itself')
    assert.equal(await store.lockMailbox(inbox, lease('c')), 'locked', 'free for a new holder')
  })

  test('LOGIN-DELAY: too soon after the lock was last taken, by anyone; extending is not taking', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    // Wide margins: a loaded machine may slow every step down, never speed one up.
    const delay = { minIntervalMs: 1000 }
    assert.equal(await store.lockMailbox(inbox, lease('a', delay)), 'locked', 'never taken yet')
    const taken = Date.now()
    await setTimeout(200)
    assert.equal(await store.lockMailbox(inbox, lease('a', delay)), 'locked', 'an extension')
    await store.unlockMailbox(inbox, 'a')
    assert.equal(await store.lockMailbox(inbox, lease('a', delay)), 'too-soon')
    assert.equal(await store.lockMailbox(inbox, lease('b', delay)), 'too-soon', 'any holder')
    // The extension did not move when the lock was taken: a second after taking it, it is free.
    await setTimeout(Math.max(0, taken + 1100 - Date.now()))
    assert.equal(await store.lockMailbox(inbox, lease('b', delay)), 'locked')
    await store.unlockMailbox(inbox, 'b')
    assert.equal(await store.lockMailbox(inbox, lease('a', delay)), 'too-soon')
    assert.equal(await store.lockMailbox(inbox, lease('a')), 'locked', 'without a minimum')
  })

  test('of holders racing for a lock through two stores on the same data, exactly one wins', async (t) => {
    const data = backend(t)
    const first = await data.open()
    await first.addDomain('example.test')
    const account = await first.addAccount({
      address: 'alice@example.test',
      domain: 'example.test',
      credentials: CREDENTIALS,
    })
    const inbox = (await first.getMailbox(account.id, 'INBOX'))?.id ?? 0
    const second = await data.open()
    const stores = [first, second]
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (stores[i % 2] ?? first).lockMailbox(inbox, lease(`holder-${i}`)),
      ),
    )
    assert.deepEqual(results.toSorted(), [...Array.from({ length: 9 }, () => 'in-use'), 'locked'])
  })

  test('renaming INBOX leaves its lock on INBOX', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    assert.equal(await store.lockMailbox(inbox, lease('a')), 'locked')
    const renamed = await store.renameMailbox(inbox, 'Old')
    assert.equal(await store.lockMailbox(inbox, lease('b')), 'in-use')
    assert.equal(await store.lockMailbox(renamed.id, lease('b')), 'locked')
    const folder = await store.createMailbox(account.id, 'Folder')
    assert.equal(await store.lockMailbox(folder.id, lease('a')), 'locked')
    const moved = await store.renameMailbox(folder.id, 'Elsewhere')
    assert.equal(await store.lockMailbox(moved.id, lease('b')), 'in-use', 'the same mailbox')
  })

  test('deleteMessages removes messages whatever their flags, as an expunge', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    const bytes = [message('one'), message('two'), message('three'), message('four')]
    const flags = [[], ['\\Seen'], ['\\Flagged'], ['\\Deleted', '\\Seen']]
    for (const [i, b] of bytes.entries()) await deliverOne(store, inbox, b, flags[i])
    const [first] = await store.getMessages(inbox, [[1, 1]])
    const before = await store.getMailboxStatus(inbox)
    const watch = collect(store, inbox, { modseq: before.highestModseq, uidNext: before.uidNext })
    t.after(() => watch.stop())

    assert.deepEqual(
      await store.deleteMessages(inbox, [
        [4, 4],
        [1, 2],
      ]),
      [1, 2, 4],
    )
    const status = await store.getMailboxStatus(inbox)
    const kept = bytes[2]?.length ?? 0
    assert.deepEqual([status.messages, status.unseen, status.deleted, status.size], [1, 1, 0, kept])
    assert.equal(status.highestModseq, before.highestModseq + 1, 'one new MODSEQ')
    assert.deepEqual(await store.getQuotaUsage(account.id), {
      storage: { used: kept, limit: null },
      messages: { used: 1, limit: null },
    })
    assert.deepEqual((await store.changesSince(inbox, before.highestModseq)).expunged, [
      { uid: 1, modseq: status.highestModseq },
      { uid: 2, modseq: status.highestModseq },
      { uid: 4, modseq: status.highestModseq },
    ])
    const events = await watch.until((all) => all.length >= 3)
    assert.deepEqual(events, [
      { type: 'expunged', uid: 1, modseq: status.highestModseq },
      { type: 'expunged', uid: 2, modseq: status.highestModseq },
      { type: 'expunged', uid: 4, modseq: status.highestModseq },
    ])
    assert.ok(first)
    await assert.rejects(readAll(store.readMessage(first.blobId)), 'the bytes went with it')

    assert.deepEqual(await store.deleteMessages(inbox, [[1, 10]]), [3], 'gone ones skipped')
    assert.deepEqual(await store.deleteMessages(inbox, [[1, 10]]), [])
    assert.equal(
      (await store.getMailboxStatus(inbox)).highestModseq,
      status.highestModseq + 1,
      'removing nothing takes no MODSEQ',
    )
    await assert.rejects(store.deleteMessages(999_999, [[1, 1]]), NotFoundError)
    await assert.rejects(
      store.deleteMessages(999_999, [[1, 1]], { lockHolder: 'a' }),
      NotFoundError,
    )
  })

  test('deleteMessages with a lock holder removes nothing unless its lock is live', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    for (let i = 0; i < 3; i += 1) await deliverOne(store, inbox)
    const all: Array<[number, number]> = [[1, 3]]
    const modseq = (await store.getMailboxStatus(inbox)).highestModseq
    assert.equal(await store.deleteMessages(inbox, all, { lockHolder: 'a' }), null, 'unlocked')
    assert.equal(await store.lockMailbox(inbox, lease('a')), 'locked')
    assert.equal(await store.deleteMessages(inbox, all, { lockHolder: 'b' }), null, 'not its lock')
    await store.unlockMailbox(inbox, 'a')
    assert.equal(await store.deleteMessages(inbox, all, { lockHolder: 'a' }), null, 'released')
    assert.equal(await store.lockMailbox(inbox, lease('a', { leaseMs: 50 })), 'locked')
    await setTimeout(100)
    assert.equal(await store.deleteMessages(inbox, all, { lockHolder: 'a' }), null, 'expired')
    const status = await store.getMailboxStatus(inbox)
    assert.deepEqual([status.messages, status.highestModseq], [3, modseq], 'nothing changed')

    assert.equal(await store.lockMailbox(inbox, lease('a')), 'locked')
    assert.deepEqual(await store.deleteMessages(inbox, [[2, 2]], { lockHolder: 'a' }), [2])
    assert.deepEqual(
      (await store.openMailbox(inbox)).messages.map((m) => m.uid),
      [1, 3],
    )
  })

  test('crlfSize is the size as POP3 sends it: bare LFs as CRLF, a final CRLF added', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    const crlf = Buffer.from('Subject: crlf\r\n\r\nline\r\nline\r\n')
    const bareLf = Buffer.from('Subject: lf\n\nline\r\nline\n')
    const unended = Buffer.from('Subject: unended\r\n\r\nline\r\nlast')
    for (const bytes of [crlf, bareLf, unended]) await deliverOne(store, inbox, bytes)
    const records = await store.getMessages(inbox, [[1, 3]])
    assert.deepEqual(
      records.map((r) => [r.size, r.crlfSize]),
      [
        [crlf.length, crlf.length],
        [bareLf.length, bareLf.length + 3],
        [unended.length, unended.length + 2],
      ],
    )
    const folder = await store.createMailbox(account.id, 'Folder')
    await store.copyMessages(inbox, [[2, 2]], folder.id)
    assert.equal((await store.getMessages(folder.id, [[1, 1]]))[0]?.crlfSize, bareLf.length + 3)
  })

  test('the APOP secret is stored with the credentials, null unless given', async (t) => {
    const store = await backend(t).open()
    await store.addDomain('example.test')
    await store.addAccount({
      address: 'apop@example.test',
      domain: 'example.test',
      credentials: { ...CREDENTIALS, apopSecret: 'tanstaaf' },
    })
    await store.addAccount({
      address: 'plain@example.test',
      domain: 'example.test',
      credentials: CREDENTIALS,
    })
    assert.deepEqual(await store.getCredentials('apop@example.test'), {
      ...CREDENTIALS,
      apopSecret: 'tanstaaf',
    })
    assert.deepEqual(await store.getCredentials('plain@example.test'), {
      ...CREDENTIALS,
      apopSecret: null,
    })
    const changed = { passwordHash: 'h2', scramSha256: 's2', apopSecret: 'other' }
    await store.setCredentials('plain@example.test', changed)
    assert.deepEqual(await store.getCredentials('plain@example.test'), changed)
    // A password set without APOP turns it off.
    await store.setCredentials('apop@example.test', { passwordHash: 'h3', scramSha256: 's3' })
    assert.deepEqual(await store.getCredentials('apop@example.test'), {
      passwordHash: 'h3',
      scramSha256: 's3',
      apopSecret: null,
    })
  })
}
