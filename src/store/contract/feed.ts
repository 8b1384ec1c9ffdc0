import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { MailboxEvent, Store } from '../index.ts'
import { deliverOne, storeWithAccount } from './fixtures.ts'
import type { OpenStore } from './index.ts'

/** Watches a mailbox and collects its events (the POP3 contract uses it too). */
export function collect(
  store: Store,
  mailboxId: number,
  since: { modseq: number; uidNext: number },
) {
  const events: MailboxEvent[] = []
  let wake = () => {}
  const watch = store.watchMailbox(mailboxId, since, (event) => {
    events.push(event)
    wake()
  })
  return {
    events,
    stop: () => watch.stop(),
    /** Waits until `done` holds for the events so far (or fails after a few seconds). */
    async until(done: number | ((events: MailboxEvent[]) => boolean)): Promise<MailboxEvent[]> {
      const isDone = typeof done === 'number' ? () => events.length >= done : () => done(events)
      const deadline = Date.now() + 5000
      while (!isDone()) {
        if (Date.now() > deadline) assert.fail(`still waiting after ${events.length} events`)
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 50)
        })
      }
      return events
    },
  }
}

export function feedContract(backend: OpenStore): void {
  test('a watcher sees additions, flag changes and expunges, ending in the final state', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    await deliverOne(store, inbox)
    const snapshot = await store.openMailbox(inbox)
    const watch = collect(store, inbox, {
      modseq: snapshot.status.highestModseq,
      uidNext: snapshot.status.uidNext,
    })
    await deliverOne(store, inbox)
    await store.storeFlags(inbox, [[1, 1]], 'add', ['\\Deleted'])
    await store.expunge(inbox)
    await store.storeFlags(inbox, [[2, 2]], 'add', ['\\Seen'])
    const isSeen = (e: MailboxEvent) =>
      (e.type === 'added' || e.type === 'flags') && e.message.flags.includes('\\Seen')
    const events = await watch.until((all) => all.some(isSeen))
    watch.stop()
    // Changes may arrive in one batch or several; what holds either way: UID 2 is announced as
    // added before any flag change of it, UID 1's expunge comes, and UID 2 ends up \Seen.
    const summary = events.map((e) =>
      e.type === 'expunged'
        ? `expunged ${e.uid}`
        : e.type === 'gone'
          ? 'gone'
          : `${e.type} ${e.message.uid}`,
    )
    const aboutTwo = summary.filter((line) => line.endsWith(' 2'))
    assert.equal(aboutTwo[0], 'added 2', summary.join())
    assert.ok(summary.includes('expunged 1'), summary.join())
    assert.ok(isSeen(events.filter((e) => e.type !== 'expunged').at(-1) ?? { type: 'gone' }))
    // Flag changes and expunges come in MODSEQ order.
    const modseqs = events
      .filter((e) => e.type === 'expunged' || e.type === 'flags')
      .map((e) => (e.type === 'expunged' ? e.modseq : e.type === 'flags' ? e.message.modseq : 0))
    assert.deepEqual(
      modseqs,
      [...modseqs].sort((a, b) => a - b),
    )
  })

  test('additions are announced in UID order; unannounced expunges are not reported', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    const status = await store.getMailboxStatus(inbox)
    await deliverOne(store, inbox)
    await deliverOne(store, inbox)
    await deliverOne(store, inbox)
    // UID 1 changes after UID 2 arrived, so its MODSEQ is the higher; UID 3 comes and goes.
    await store.storeFlags(inbox, [[1, 1]], 'add', ['\\Flagged'])
    await store.storeFlags(inbox, [[3, 3]], 'add', ['\\Deleted'])
    await store.expunge(inbox)
    const watch = collect(store, inbox, { modseq: status.highestModseq, uidNext: status.uidNext })
    const events = await watch.until(2)
    await new Promise((resolve) => setTimeout(resolve, 100))
    watch.stop()
    assert.deepEqual(
      events.map((e) => (e.type === 'added' ? e.message.uid : e.type)),
      [1, 2],
    )
  })

  test('a watcher catches up on changes made before it started', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    const status = await store.getMailboxStatus(inbox)
    await deliverOne(store, inbox)
    await deliverOne(store, inbox)
    const watch = collect(store, inbox, { modseq: status.highestModseq, uidNext: status.uidNext })
    const events = await watch.until(2)
    watch.stop()
    assert.deepEqual(
      events.map((e) => e.type),
      ['added', 'added'],
    )
  })

  test('a watcher is told when its mailbox is deleted', async (t) => {
    const { store, account } = await storeWithAccount(backend, t)
    const folder = await store.createMailbox(account.id, 'Doomed')
    const status = await store.getMailboxStatus(folder.id)
    const watch = collect(store, folder.id, { modseq: status.highestModseq, uidNext: 1 })
    await store.deleteMailbox(folder.id)
    assert.deepEqual(await watch.until(1), [{ type: 'gone' }])
  })

  test('a watcher sees changes made through another store on the same data', async (t) => {
    const data = backend(t)
    const first = await data.open()
    await first.addDomain('example.test')
    const account = await first.addAccount({
      address: 'alice@example.test',
      domain: 'example.test',
      credentials: { passwordHash: 'h', scramSha256: 's' },
    })
    const inbox = (await first.getMailbox(account.id, 'INBOX'))?.id ?? 0
    const second = await data.open()
    const watch = collect(first, inbox, { modseq: 1, uidNext: 1 })
    await deliverOne(second, inbox)
    const events = await watch.until(1)
    watch.stop()
    assert.equal(events[0]?.type, 'added')
  })
}
