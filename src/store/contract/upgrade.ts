// What each backend's migration test does around an upgrade: fill a store written at an older
// schema version, read back everything it holds, and after the upgrade check that it reads the
// same and that the newer features work on the old rows.
import assert from 'node:assert/strict'
import type { Store } from '../index.ts'
import { CREDENTIALS, deliverOne, message, readAll } from './fixtures.ts'

/** Fills the store with a bit of everything version 1 knows. */
export async function fillStore(store: Store): Promise<void> {
  await store.addDomain('example.test')
  const alice = await store.addAccount({
    address: 'alice@example.test',
    domain: 'example.test',
    credentials: CREDENTIALS,
    quota: { messages: 100 },
  })
  await store.addAlias('team@example.test', ['alice@example.test', 'x@remote.test'])
  const inbox = (await store.getMailbox(alice.id, 'INBOX'))?.id ?? 0
  const folder = await store.createMailbox(alice.id, 'Projects/2026')
  await store.setSubscribed(alice.id, 'Projects/2026', true)
  const shared = message('shared')
  await store.deliver({ bytes: shared }, [
    { mailboxId: inbox, flags: ['\\Seen'] },
    { mailboxId: folder.id },
  ])
  for (let i = 0; i < 3; i += 1)
    await store.deliver({ bytes: message(`m${i}`) }, [{ mailboxId: inbox }])
  await store.storeFlags(inbox, [[2, 2]], 'add', ['\\Deleted', '$Work'])
  await store.expunge(inbox)
}

/** Everything the store holds, in a form deepEqual compares (bytes included). */
export async function readContents(store: Store): Promise<unknown> {
  const accounts = await store.listAccounts()
  const mailboxes = []
  for (const account of accounts) {
    for (const mailbox of await store.listMailboxes(account.id)) {
      const records = await store.getMessages(mailbox.id, [[1, Number.MAX_SAFE_INTEGER]])
      const bytes = []
      for (const record of records) bytes.push(await readAll(store.readMessage(record.blobId)))
      mailboxes.push({
        snapshot: await store.openMailbox(mailbox.id),
        records,
        bytes,
        changes: await store.changesSince(mailbox.id, 0),
      })
    }
  }
  return {
    domains: await store.listDomains(),
    accounts,
    usage: await Promise.all(accounts.map((account) => store.getQuotaUsage(account.id))),
    subscriptions: await Promise.all(
      accounts.map((account) => store.listSubscriptions(account.id)),
    ),
    aliases: await store.listAliases(),
    mailboxes,
  }
}

/**
 * The queue on an upgraded store: an entry sharing the bytes of a message filed before the
 * upgrade holds them after that message is expunged; removing it frees them.
 */
export async function checkQueueAfterUpgrade(store: Store): Promise<void> {
  const alice = await store.getAccount('alice@example.test')
  assert.ok(alice)
  const folder = (await store.getMailbox(alice.id, 'Projects/2026'))?.id ?? 0
  const [old] = await store.getMessages(folder, [[1, 1]])
  assert.ok(old)
  const bytes = await readAll(store.readMessage(old.blobId))
  assert.deepEqual(await store.listQueue(), [])
  const { queued } = await store.acceptMessage({
    deliveries: [],
    queue: {
      message: { bytes },
      entry: {
        sender: 'alice@example.test',
        recipients: [{ address: 'x@remote.test', originalRecipient: null, notify: null }],
        envelopeId: null,
        ret: null,
        body: '7bit',
        smtputf8: false,
        submittedBy: alice.id,
      },
    },
  })
  assert.equal(queued?.blobId, old.blobId, 'the queue shares bytes stored before the upgrade')
  const inbox = (await store.getMailbox(alice.id, 'INBOX'))?.id ?? 0
  for (const mailboxId of [inbox, folder]) {
    await store.storeFlags(mailboxId, [[1, Number.MAX_SAFE_INTEGER]], 'add', ['\\Deleted'])
    await store.expunge(mailboxId)
  }
  assert.deepEqual(await readAll(store.readMessage(old.blobId)), bytes, 'the entry holds them')
  await store.removeQueueEntry(queued?.id ?? 0)
  await assert.rejects(readAll(store.readMessage(old.blobId)), 'then they go')
  const [result] = await store.deliver({ bytes: message() }, [{ mailboxId: inbox }])
  assert.equal(result?.status === 'stored' && result.uid, 5, 'UIDs go on from before')
}

/**
 * A queue entry as a version before the delivery columns held it: one recipient deferred twice,
 * due long ago. The backend's test inserts it with this SQL's values before the upgrade.
 */
export const OLD_QUEUE_ROWS = {
  sender: 'alice@example.test',
  address: 'x@remote.test',
  attempts: 2,
  nextAttemptAt: 2000,
  lastAttemptAt: 1500,
  lastReply: '451 4.3.0 try later',
}

/** After the upgrade the old entry reads as it was, and can be claimed and finished. */
export async function checkClaimsAfterUpgrade(store: Store): Promise<void> {
  const [entry] = await store.listQueue()
  assert.ok(entry)
  assert.equal(entry.sender, OLD_QUEUE_ROWS.sender)
  assert.deepEqual(
    entry.recipients.map((r) => ({ ...r, id: 0 })),
    [
      {
        id: 0,
        address: OLD_QUEUE_ROWS.address,
        originalRecipient: null,
        notify: null,
        status: 'deferred',
        attempts: OLD_QUEUE_ROWS.attempts,
        nextAttemptAt: new Date(OLD_QUEUE_ROWS.nextAttemptAt),
        lastAttemptAt: new Date(OLD_QUEUE_ROWS.lastAttemptAt),
        lastReply: OLD_QUEUE_ROWS.lastReply,
        delayNotified: false,
      },
    ],
  )
  const [claim] = await store.claimQueue({ owner: 'upgraded', leaseMs: 60_000, limit: 10 })
  assert.equal(claim?.entry.id, entry.id)
  const result = await store.finishQueueAttempt({
    entryId: entry.id,
    owner: 'upgraded',
    outcomes: [{ id: entry.recipients[0]?.id ?? 0, status: 'delivered', reply: '250 ok' }],
    notices: [],
  })
  assert.equal(result.removed, true)
}

/**
 * POP3 on an upgraded store: messages stored before have no crlfSize (their reader computes it),
 * new ones do; an old mailbox can be locked and its messages deleted under the lock, counters
 * and quota usage following; the old account has no APOP secret until one is set.
 */
export async function checkPop3AfterUpgrade(store: Store): Promise<void> {
  const alice = await store.getAccount('alice@example.test')
  assert.ok(alice)
  const inbox = (await store.getMailbox(alice.id, 'INBOX'))?.id ?? 0
  const old = await store.getMessages(inbox, [[1, Number.MAX_SAFE_INTEGER]])
  assert.deepEqual(
    old.map((record) => [record.uid, record.crlfSize]),
    [
      [1, null],
      [3, null],
      [4, null],
    ],
  )
  const bytes = message('after the upgrade')
  const uid = await deliverOne(store, inbox, bytes)
  assert.equal((await store.getMessages(inbox, [[uid, uid]]))[0]?.crlfSize, bytes.length)

  assert.equal(await store.lockMailbox(inbox, { holder: 'pop3', leaseMs: 60_000 }), 'locked')
  assert.equal(await store.lockMailbox(inbox, { holder: 'other', leaseMs: 60_000 }), 'in-use')
  const usage = await store.getQuotaUsage(alice.id)
  assert.deepEqual(await store.deleteMessages(inbox, [[1, 3]], { lockHolder: 'pop3' }), [1, 3])
  assert.deepEqual(
    (await store.openMailbox(inbox)).messages.map((m) => m.uid),
    [4, uid],
  )
  assert.equal((await store.getQuotaUsage(alice.id)).messages.used, usage.messages.used - 2)
  const { expunged } = await store.changesSince(inbox, 0)
  assert.deepEqual(
    expunged.map((e) => e.uid),
    [1, 2, 3],
  )
  await store.unlockMailbox(inbox, 'pop3')
  assert.equal(await store.lockMailbox(inbox, { holder: 'other', leaseMs: 60_000 }), 'locked')

  assert.equal((await store.getCredentials(alice.address))?.apopSecret, null)
  await store.setCredentials(alice.address, { ...CREDENTIALS, apopSecret: 'secret' })
  assert.equal((await store.getCredentials(alice.address))?.apopSecret, 'secret')
}
