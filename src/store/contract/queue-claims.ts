import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type NewQueueEntry, NotFoundError, type QueueEntry, type Store } from '../index.ts'
import { message, readAll, storeWithAccount } from './fixtures.ts'
import type { OpenStore } from './index.ts'
import { envelope, recipients } from './queue.ts'

const HOUR = 3_600_000

async function enqueue(store: Store, entry: NewQueueEntry = envelope()): Promise<QueueEntry> {
  const { queued } = await store.acceptMessage({
    deliveries: [],
    queue: { message: { bytes: message('queued') }, entry },
  })
  assert.ok(queued)
  return queued
}

/** A bounce from the null sender to `to`, as the queue would make one. */
function notice(to: string) {
  return {
    message: { bytes: message('Undelivered Mail Returned to Sender') },
    entry: envelope({
      sender: '',
      recipients: [{ address: to, originalRecipient: null, notify: null }],
    }),
  }
}

// Claiming and finishing queued recipients: what lets any number of queue runners, in one
// process or on several nodes, deliver each recipient once and pick up a dead runner's work.
export function queueClaimContract(backend: OpenStore): void {
  test('a due recipient is claimed by one owner until its lease runs out', async (t) => {
    const { store } = await storeWithAccount(backend, t)
    const entry = await enqueue(store, envelope({ recipients: recipients(3) }))
    assert.equal(
      await store.nextQueueAttemptAt().then((d) => d?.getTime()),
      entry.createdAt.getTime(),
    )

    const claims = await store.claimQueue({ owner: 'node-a', leaseMs: 150, limit: 2 })
    assert.equal(claims.length, 1)
    assert.deepEqual(claims[0]?.entry, entry)
    assert.deepEqual(
      claims[0]?.recipientIds,
      entry.recipients.slice(0, 2).map((r) => r.id),
      'oldest due first, at most the limit',
    )
    const rest = await store.claimQueue({ owner: 'node-b', leaseMs: 150, limit: 10 })
    assert.deepEqual(
      rest.map((claim) => claim.recipientIds),
      [[entry.recipients[2]?.id]],
    )
    assert.deepEqual(await store.claimQueue({ owner: 'node-b', leaseMs: 150, limit: 10 }), [])
    assert.deepEqual(await store.claimQueue({ owner: 'node-a', leaseMs: 150, limit: 10 }), [])
    const leasedUntil = (await store.nextQueueAttemptAt())?.getTime() ?? 0
    assert.ok(leasedUntil > Date.now(), 'claimable again when the leases run out')

    await sleep(200)
    const reclaimed = await store.claimQueue({ owner: 'node-c', leaseMs: HOUR, limit: 10 })
    assert.deepEqual(
      reclaimed.map((claim) => claim.recipientIds),
      [entry.recipients.map((r) => r.id)],
      'a lapsed lease is free for anyone',
    )
    // The first owner's late outcome no longer counts.
    const late = await store.finishQueueAttempt({
      entryId: entry.id,
      owner: 'node-a',
      outcomes: [{ id: entry.recipients[0]?.id ?? 0, status: 'delivered', reply: '250 ok' }],
      notices: [notice('alice@example.test')],
    })
    assert.deepEqual(late, { removed: false, stale: [entry.recipients[0]?.id], notices: [] })
    assert.deepEqual(await store.getQueueEntry(entry.id), entry)
    assert.equal((await store.listQueue()).length, 1, 'a stale attempt queues no notice')
  })

  test('finishing records each outcome, and removes the entry when none waits', async (t) => {
    const { store } = await storeWithAccount(backend, t)
    const entry = await enqueue(store, envelope({ recipients: recipients(4) }))
    const [claim] = await store.claimQueue({ owner: 'runner', leaseMs: HOUR, limit: 10 })
    assert.ok(claim)
    const [a, b, c, d] = entry.recipients.map((r) => r.id) as [number, number, number, number]
    const retryAt = new Date(Date.now() + HOUR)
    const before = Date.now()
    const result = await store.finishQueueAttempt({
      entryId: entry.id,
      owner: 'runner',
      outcomes: [
        { id: a, status: 'delivered', reply: '250 2.0.0 queued as 1' },
        { id: b, status: 'bounced', reply: '550 5.1.1 no such user' },
        {
          id: c,
          status: 'deferred',
          reply: '451 4.7.1 greylisted',
          nextAttemptAt: retryAt,
          delayNotified: true,
        },
        // Never tried (say the run was cut short): no attempt counted.
        { id: d, status: 'deferred', reply: 'not tried', nextAttemptAt: retryAt, isAttempt: false },
      ],
      notices: [notice('alice@example.test')],
    })
    assert.equal(result.removed, false)
    assert.deepEqual(result.stale, [])
    assert.equal(result.notices.length, 1)
    const bounce = result.notices[0]
    assert.equal(bounce?.sender, '')
    assert.deepEqual(
      bounce?.recipients.map((r) => [r.address, r.status]),
      [['alice@example.test', 'pending']],
    )

    const after = await store.getQueueEntry(entry.id)
    assert.ok(after)
    const byId = new Map(after.recipients.map((r) => [r.id, r]))
    const at = byId.get(c)?.lastAttemptAt?.getTime() ?? 0
    assert.ok(at >= before && at <= Date.now())
    assert.deepEqual(byId.get(a), {
      ...entry.recipients[0],
      status: 'delivered',
      attempts: 1,
      nextAttemptAt: null,
      lastAttemptAt: new Date(at),
      lastReply: '250 2.0.0 queued as 1',
    })
    assert.deepEqual(
      [byId.get(b)?.status, byId.get(b)?.nextAttemptAt, byId.get(b)?.lastReply],
      ['bounced', null, '550 5.1.1 no such user'],
    )
    assert.deepEqual(
      [
        byId.get(c)?.status,
        byId.get(c)?.attempts,
        byId.get(c)?.nextAttemptAt,
        byId.get(c)?.delayNotified,
      ],
      ['deferred', 1, retryAt, true],
    )
    assert.deepEqual(
      [byId.get(d)?.attempts, byId.get(d)?.lastAttemptAt, byId.get(d)?.delayNotified],
      [0, null, false],
    )
    // Deferred to later: not claimable now, but a flush makes it so.
    assert.deepEqual(
      (await store.claimQueue({ owner: 'runner', leaseMs: HOUR, limit: 10 })).map(
        (x) => x.entry.id,
      ),
      [bounce?.id],
      'only the new notice is due',
    )
    assert.equal((await store.nextQueueAttemptAt())?.getTime(), retryAt.getTime())
    assert.equal(await store.rescheduleQueue(entry.id), 2)
    await assert.rejects(store.rescheduleQueue(entry.id + 1000), NotFoundError)
    const [again] = await store.claimQueue({ owner: 'runner', leaseMs: HOUR, limit: 10 })
    assert.deepEqual(again?.recipientIds, [c, d])
    const done = await store.finishQueueAttempt({
      entryId: entry.id,
      owner: 'runner',
      outcomes: [
        { id: c, status: 'delivered', reply: '250 ok' },
        { id: d, status: 'bounced', reply: '550 no' },
      ],
      notices: [],
    })
    assert.deepEqual(done, { removed: true, stale: [], notices: [] })
    assert.equal(await store.getQueueEntry(entry.id), null)
    await assert.rejects(readAll(store.readMessage(entry.blobId)), 'its bytes went with it')
    assert.deepEqual(
      (await store.listQueue()).map((x) => x.id),
      [bounce?.id],
    )
  })

  test('a finish that names the wrong recipient or lacks a retry time is refused', async (t) => {
    const { store } = await storeWithAccount(backend, t)
    const one = await enqueue(store)
    const two = await enqueue(store)
    await store.claimQueue({ owner: 'runner', leaseMs: HOUR, limit: 10 })
    const theirs = two.recipients[0]?.id ?? 0
    const mine = one.recipients[0]?.id ?? 0
    await assert.rejects(
      store.finishQueueAttempt({
        entryId: one.id,
        owner: 'runner',
        outcomes: [{ id: theirs, status: 'delivered', reply: '250 ok' }],
        notices: [],
      }),
      RangeError,
    )
    await assert.rejects(
      store.finishQueueAttempt({
        entryId: one.id,
        owner: 'runner',
        outcomes: [{ id: mine, status: 'deferred', reply: '451 later' }],
        notices: [],
      }),
      RangeError,
    )
    await assert.rejects(
      store.finishQueueAttempt({
        entryId: one.id,
        owner: 'runner',
        outcomes: [{ id: mine, status: 'delivered', reply: '250 ok' }],
        notices: [{ ...notice('x@example.test'), entry: envelope({ recipients: [] }) }],
      }),
      RangeError,
    )
    assert.deepEqual(
      (await store.listQueue()).map((x) => x.recipients[0]?.status),
      ['pending', 'pending'],
      'nothing applied',
    )
  })

  test('a claim takes lapsed leases and free recipients in due order, never live ones', async (t) => {
    const { store } = await storeWithAccount(backend, t)
    const claimed = (claims: Awaited<ReturnType<Store['claimQueue']>>) =>
      claims.map((claim) => [claim.entry.id, claim.recipientIds])
    const ids = (entry: QueueEntry, from: number, to?: number) =>
      entry.recipients.slice(from, to).map((r) => r.id)
    const older = await enqueue(store, envelope({ recipients: recipients(3) }))
    await store.claimQueue({ owner: 'stopped', leaseMs: 300, limit: 10 })
    await sleep(5)
    const held = await enqueue(store, envelope({ recipients: recipients(2) }))
    assert.deepEqual(
      claimed(await store.claimQueue({ owner: 'keeper', leaseMs: HOUR, limit: 10 })),
      [[held.id, ids(held, 0)]],
    )
    await sleep(5)
    const fresh = await enqueue(store, envelope({ recipients: recipients(1) }))
    await sleep(350)
    assert.deepEqual(
      claimed(await store.claimQueue({ owner: 'heir', leaseMs: HOUR, limit: 2 })),
      [[older.id, ids(older, 0, 2)]],
      'the lapsed leases first: they are the oldest due',
    )
    assert.deepEqual(
      claimed(await store.claimQueue({ owner: 'heir', leaseMs: HOUR, limit: 10 })),
      [
        [older.id, ids(older, 2)],
        [fresh.id, ids(fresh, 0)],
      ],
      'then the free one, and never the live lease',
    )
    assert.deepEqual(await store.claimQueue({ owner: 'heir', leaseMs: HOUR, limit: 10 }), [])
  })

  test('renewing keeps a lease, releasing frees it at once', async (t) => {
    const { store } = await storeWithAccount(backend, t)
    await enqueue(store, envelope({ recipients: recipients(2) }))
    await store.claimQueue({ owner: 'runner', leaseMs: 100, limit: 10 })
    assert.equal(await store.renewQueueLeases('runner', HOUR), 2)
    assert.equal(await store.renewQueueLeases('nobody', HOUR), 0)
    await sleep(150)
    assert.deepEqual(await store.claimQueue({ owner: 'other', leaseMs: HOUR, limit: 10 }), [])
    assert.equal(await store.releaseQueueLeases('runner'), 2)
    const claims = await store.claimQueue({ owner: 'other', leaseMs: HOUR, limit: 10 })
    assert.equal(claims[0]?.recipientIds.length, 2)
  })

  test('claimants working at once never share a recipient', async (t) => {
    const opener = backend(t)
    const first = await opener.open()
    await first.addDomain('example.test')
    const second = await opener.open()
    const entries = await Promise.all(
      Array.from({ length: 12 }, () => enqueue(first, envelope({ recipients: recipients(5) }))),
    )
    const claimed: number[] = []
    const runner = async (store: Store, owner: string) => {
      for (;;) {
        const claims = await store.claimQueue({ owner, leaseMs: HOUR, limit: 7 })
        if (claims.length === 0) return
        for (const claim of claims) claimed.push(...claim.recipientIds)
      }
    }
    await Promise.all([
      runner(first, 'a'),
      runner(second, 'b'),
      runner(first, 'c'),
      runner(second, 'd'),
    ])
    const all = entries.flatMap((entry) => entry.recipients.map((r) => r.id))
    assert.deepEqual(
      [...claimed].sort((x, y) => x - y),
      all.sort((x, y) => x - y),
      'every recipient claimed exactly once',
    )
    assert.equal(
      await first.nextQueueAttemptAt().then((d) => (d?.getTime() ?? 0) > Date.now()),
      true,
    )
  })

  test('bytes freed by a finished entry while the same bytes are delivered are kept', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    for (let round = 0; round < 20; round += 1) {
      const bytes = message(`shared ${round}`)
      const { queued } = await store.acceptMessage({
        deliveries: [],
        queue: { message: { bytes }, entry: envelope() },
      })
      assert.ok(queued)
      await store.claimQueue({ owner: 'runner', leaseMs: HOUR, limit: 10 })
      const [, delivered] = await Promise.all([
        store.finishQueueAttempt({
          entryId: queued.id,
          owner: 'runner',
          outcomes: [{ id: queued.recipients[0]?.id ?? 0, status: 'delivered', reply: '250 ok' }],
          notices: [],
        }),
        store.deliver({ bytes }, [{ mailboxId: inbox }]),
      ])
      const uid = delivered[0]?.status === 'stored' ? delivered[0].uid : 0
      const [record] = await store.getMessages(inbox, [[uid, uid]])
      assert.ok(record, `round ${round}: filed`)
      assert.deepEqual(await readAll(store.readMessage(record.blobId)), bytes, `round ${round}`)
    }
  })

  test('the queue is empty: nothing to claim, no next attempt', async (t) => {
    const { store } = await storeWithAccount(backend, t)
    assert.deepEqual(await store.claimQueue({ owner: 'runner', leaseMs: HOUR, limit: 10 }), [])
    assert.equal(await store.nextQueueAttemptAt(), null)
    assert.equal(await store.rescheduleQueue(), 0)
  })
}
