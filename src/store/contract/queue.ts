import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  InvalidNameError,
  MAX_QUEUE_RECIPIENTS,
  type NewQueueEntry,
  type NewQueueRecipient,
  NotFoundError,
  type QueueEntry,
} from '../index.ts'
import { CREDENTIALS, message, readAll, storeWithAccount } from './fixtures.ts'
import type { OpenStore } from './index.ts'

/** An envelope to one remote recipient from alice, with whatever `fields` change. */
export function envelope(fields: Partial<NewQueueEntry> = {}): NewQueueEntry {
  return {
    sender: 'alice@example.test',
    recipients: [{ address: 'bob@remote.test', originalRecipient: null, notify: null }],
    envelopeId: null,
    ret: null,
    body: '7bit',
    smtputf8: false,
    submittedBy: null,
    ...fields,
  }
}

export function recipients(count: number): NewQueueRecipient[] {
  return Array.from({ length: count }, (_, i) => ({
    address: `r${i}@remote.test`,
    originalRecipient: null,
    notify: null,
  }))
}

// The outbound queue's storage, and acceptMessage: local deliveries and the queue entry of one
// received message committed together (DESIGN.md invariant 1).
export function queueContract(backend: OpenStore): void {
  test('acceptMessage files each delivery with its own bytes, as deliver() does', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    const bob = await store.addAccount({
      address: 'bob@example.test',
      domain: 'example.test',
      credentials: CREDENTIALS,
    })
    const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))?.id ?? 0
    const archive = (await store.getMailbox(account.id, 'Archive'))?.id ?? 0
    const base = message('for two')
    const forAlice = Buffer.concat([Buffer.from('Delivered-To: alice@example.test\r\n'), base])
    const forBob = Buffer.concat([Buffer.from('Delivered-To: bob@example.test\r\n'), base])
    const date = new Date('2026-02-03T04:05:06Z')
    const accepted = await store.acceptMessage({
      deliveries: [
        {
          message: { bytes: forAlice, internalDate: date },
          targets: [
            { mailboxId: inbox, flags: ['\\Seen'] },
            { mailboxId: archive },
            { mailboxId: inbox },
          ],
        },
        { message: { bytes: forBob }, targets: [{ mailboxId: bobInbox }] },
      ],
      queue: null,
    })
    assert.equal(accepted.queued, null)
    const expected = async (mailboxId: number, uid: number) => {
      const status = await store.getMailboxStatus(mailboxId)
      return {
        mailboxId,
        status: 'stored',
        uid,
        uidValidity: status.uidValidity,
        modseq: status.highestModseq,
      }
    }
    assert.deepEqual(accepted.deliveries, [
      [await expected(inbox, 1), await expected(archive, 1)],
      [await expected(bobInbox, 1)],
    ])
    const [alices] = await store.getMessages(inbox, [[1, 1]])
    const [bobs] = await store.getMessages(bobInbox, [[1, 1]])
    assert.ok(alices && bobs)
    assert.deepEqual(alices.flags, ['\\Seen'], 'the first mention of a mailbox wins')
    assert.equal(alices.internalDate.getTime(), date.getTime())
    assert.deepEqual(await readAll(store.readMessage(alices.blobId)), forAlice)
    assert.deepEqual(await readAll(store.readMessage(bobs.blobId)), forBob)
    assert.notEqual(alices.blobId, bobs.blobId)
    assert.deepEqual(await store.listQueue(), [])

    // deliver() is acceptMessage with one delivery and no queue: the same results.
    const targets = [{ mailboxId: inbox }, { mailboxId: bobInbox }]
    const delivered = await store.deliver({ bytes: message() }, targets)
    assert.deepEqual(delivered, [await expected(inbox, 2), await expected(bobInbox, 2)])
    const again = await store.acceptMessage({
      deliveries: [{ message: { bytes: message() }, targets }],
      queue: null,
    })
    assert.deepEqual(again.deliveries, [[await expected(inbox, 3), await expected(bobInbox, 3)]])
    assert.deepEqual(await store.acceptMessage({ deliveries: [], queue: null }), {
      deliveries: [],
      queued: null,
    })
    assert.deepEqual(
      (
        await store.acceptMessage({
          deliveries: [{ message: { bytes: message() }, targets: [] }],
          queue: null,
        })
      ).deliveries,
      [[]],
    )
  })

  test('a queue entry keeps its bytes and every envelope field, across a restart', async (t) => {
    const opener = backend(t)
    const store = await opener.open()
    await store.addDomain('example.test')
    const account = await store.addAccount({
      address: 'alice@example.test',
      domain: 'example.test',
      credentials: CREDENTIALS,
    })
    const bytes = message('outbound', 'caf\u00e9 \u2603')
    const before = Date.now()
    const accepted = await store.acceptMessage({
      deliveries: [],
      queue: {
        message: { bytes },
        entry: {
          sender: 'alice@example.test',
          recipients: [
            {
              address: 'x@remote.test',
              originalRecipient: 'rfc822;X@Remote.test',
              notify: ['success', 'failure'],
            },
            { address: 'y@remote.test', originalRecipient: null, notify: null },
            { address: 'z@remote.test', originalRecipient: null, notify: [] },
            {
              address: 'alice@example.test',
              originalRecipient: 'utf-8;al\\x{00EF}ce@example.test',
              notify: ['delay', 'failure'],
              lastReply: '452 4.2.2 Mailbox full',
            },
          ],
          envelopeId: 'QQ314159 \u00fc',
          ret: 'hdrs',
          body: '8bitmime',
          smtputf8: true,
          submittedBy: account.id,
        },
      },
    })
    const after = Date.now()
    assert.deepEqual(accepted.deliveries, [])
    const queued = accepted.queued
    assert.ok(queued)
    const createdAt = queued.createdAt.getTime()
    assert.ok(createdAt >= before && createdAt <= after, 'createdAt is the time of acceptance')
    const recipient = (fields: Record<string, unknown>, index: number) => ({
      id: queued.recipients[index]?.id,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: queued.createdAt,
      lastAttemptAt: null,
      lastReply: null,
      delayNotified: false,
      ...fields,
    })
    const expected: QueueEntry = {
      id: queued.id,
      blobId: queued.blobId,
      size: bytes.length,
      sender: 'alice@example.test',
      envelopeId: 'QQ314159 \u00fc',
      ret: 'hdrs',
      body: '8bitmime',
      smtputf8: true,
      submittedBy: account.id,
      createdAt: queued.createdAt,
      recipients: [
        recipient(
          {
            address: 'x@remote.test',
            originalRecipient: 'rfc822;X@Remote.test',
            notify: ['success', 'failure'],
          },
          0,
        ),
        recipient({ address: 'y@remote.test', originalRecipient: null, notify: null }, 1),
        recipient({ address: 'z@remote.test', originalRecipient: null, notify: [] }, 2),
        recipient(
          {
            address: 'alice@example.test',
            originalRecipient: 'utf-8;al\\x{00EF}ce@example.test',
            notify: ['delay', 'failure'],
            // A recipient that starts deferred has had its one attempt, now.
            status: 'deferred',
            attempts: 1,
            lastAttemptAt: queued.createdAt,
            lastReply: '452 4.2.2 Mailbox full',
          },
          3,
        ),
      ] as QueueEntry['recipients'],
    }
    assert.deepEqual(queued, expected)
    assert.equal(new Set(queued.recipients.map((r) => r.id)).size, 4, 'recipient ids differ')
    assert.deepEqual(await store.getQueueEntry(queued.id), expected)
    assert.deepEqual(await readAll(store.readMessage(queued.blobId)), bytes)
    assert.equal(await store.getQueueEntry(queued.id + 1000), null)

    // The null sender, and every optional field absent.
    const bounce = await store.acceptMessage({
      deliveries: [],
      queue: { message: { bytes: message('bounce') }, entry: envelope({ sender: '' }) },
    })
    assert.ok(bounce.queued && bounce.queued.id > queued.id)
    assert.equal(bounce.queued.sender, '')
    assert.deepEqual(
      [bounce.queued.envelopeId, bounce.queued.ret, bounce.queued.submittedBy],
      [null, null, null],
    )
    assert.deepEqual([bounce.queued.body, bounce.queued.smtputf8], ['7bit', false])

    await store.close()
    const reopened = await opener.open()
    assert.deepEqual(await reopened.listQueue(), [expected, bounce.queued])
    assert.deepEqual(await readAll(reopened.readMessage(queued.blobId)), bytes)
  })

  test('local deliveries and the queue entry commit together; over quota is per target', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    const full = await store.addAccount({
      address: 'full@example.test',
      domain: 'example.test',
      credentials: CREDENTIALS,
      quota: { messages: 0 },
    })
    const fullInbox = (await store.getMailbox(full.id, 'INBOX'))?.id ?? 0
    const local = message('local')
    const remote = message('remote')
    const accepted = await store.acceptMessage({
      deliveries: [
        { message: { bytes: local }, targets: [{ mailboxId: inbox }] },
        { message: { bytes: message('full') }, targets: [{ mailboxId: fullInbox }] },
      ],
      queue: { message: { bytes: remote }, entry: envelope({ submittedBy: account.id }) },
    })
    assert.equal(accepted.deliveries[0]?.[0]?.status, 'stored')
    assert.deepEqual(accepted.deliveries[1], [
      { mailboxId: fullInbox, status: 'over-quota', resource: 'messages' },
    ])
    assert.ok(accepted.queued)
    assert.deepEqual(await store.listQueue(), [accepted.queued])
    assert.deepEqual(await readAll(store.readMessage(accepted.queued.blobId)), remote)
    const [record] = await store.getMessages(inbox, [[1, 1]])
    assert.ok(record)
    assert.deepEqual(await readAll(store.readMessage(record.blobId)), local)
    assert.equal((await store.getMailboxStatus(fullInbox)).messages, 0)
    assert.equal((await store.getQuotaUsage(account.id)).messages.used, 1)
    assert.equal((await store.getQuotaUsage(full.id)).messages.used, 0)
  })

  test('a missing mailbox or a bad flag stores nothing: no message, no queue entry', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    const queue = { message: { bytes: message() }, entry: envelope() }
    await assert.rejects(
      store.acceptMessage({
        deliveries: [
          { message: { bytes: message() }, targets: [{ mailboxId: inbox }] },
          { message: { bytes: message() }, targets: [{ mailboxId: 999_999 }] },
        ],
        queue,
      }),
      NotFoundError,
    )
    await assert.rejects(
      store.acceptMessage({
        deliveries: [
          { message: { bytes: message() }, targets: [{ mailboxId: inbox, flags: ['\\Recent'] }] },
        ],
        queue,
      }),
      InvalidNameError,
    )
    assert.equal((await store.getMailboxStatus(inbox)).messages, 0)
    assert.equal((await store.getMailboxStatus(inbox)).highestModseq, 1)
    assert.deepEqual(await store.listQueue(), [])
  })

  test(`a queue entry has 1 to ${MAX_QUEUE_RECIPIENTS} recipients, in their order`, async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    const accept = (entry: NewQueueEntry) =>
      store.acceptMessage({
        deliveries: [{ message: { bytes: message() }, targets: [{ mailboxId: inbox }] }],
        queue: { message: { bytes: message() }, entry },
      })
    const most = await accept(envelope({ recipients: recipients(MAX_QUEUE_RECIPIENTS) }))
    assert.deepEqual(
      most.queued?.recipients.map((r) => r.address),
      recipients(MAX_QUEUE_RECIPIENTS).map((r) => r.address),
    )
    const refusals: NewQueueEntry[] = [
      envelope({ recipients: recipients(MAX_QUEUE_RECIPIENTS + 1) }),
      envelope({ recipients: [] }),
      envelope({
        recipients: [
          { address: 'x@remote.test', originalRecipient: null, notify: ['never' as 'delay'] },
        ],
      }),
      envelope({ sender: 'a\u0000b@example.test' }),
    ]
    for (const entry of refusals) await assert.rejects(accept(entry), RangeError)
    assert.equal((await store.listQueue()).length, 1)
    assert.equal((await store.getMailboxStatus(inbox)).messages, 1, 'the delivery went neither')
    assert.equal(
      (await store.getQueueEntry(most.queued?.id ?? 0))?.recipients.length,
      MAX_QUEUE_RECIPIENTS,
    )
  })

  test('listQueue pages through the entries in id order', async (t) => {
    const store = await backend(t).open()
    const ids: number[] = []
    for (let i = 1; i <= 5; i += 1) {
      const { queued } = await store.acceptMessage({
        deliveries: [],
        queue: { message: { bytes: message() }, entry: envelope({ recipients: recipients(i) }) },
      })
      ids.push(queued?.id ?? 0)
    }
    const all = await store.listQueue()
    assert.deepEqual(
      all.map((entry) => [entry.id, entry.recipients.length]),
      ids.map((id, i) => [id, i + 1]),
    )
    assert.deepEqual(await store.listQueue({ limit: 2 }), all.slice(0, 2))
    assert.deepEqual(await store.listQueue({ afterId: ids[1], limit: 2 }), all.slice(2, 4))
    assert.deepEqual(await store.listQueue({ afterId: ids[3] }), all.slice(4))
    assert.deepEqual(await store.listQueue({ afterId: ids[4] }), [])
    assert.deepEqual(await store.listQueue({ limit: 0 }), [])
    await assert.rejects(store.listQueue({ limit: -1 }), RangeError)
  })

  test('removing a queue entry frees its bytes unless a message shares them', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    const alone = message('alone')
    const { queued } = await store.acceptMessage({
      deliveries: [],
      queue: { message: { bytes: alone }, entry: envelope() },
    })
    assert.ok(queued)
    await store.removeQueueEntry(queued.id)
    assert.equal(await store.getQueueEntry(queued.id), null)
    assert.deepEqual(await store.listQueue(), [])
    await assert.rejects(readAll(store.readMessage(queued.blobId)))
    await assert.rejects(store.getMetadata(queued.blobId), NotFoundError)
    await assert.rejects(store.removeQueueEntry(queued.id), NotFoundError)

    // The same bytes filed locally and queued: one blob, two references.
    const shared = message('shared')
    const both = await store.acceptMessage({
      deliveries: [{ message: { bytes: shared }, targets: [{ mailboxId: inbox }] }],
      queue: { message: { bytes: shared }, entry: envelope() },
    })
    assert.ok(both.queued)
    const [record] = await store.getMessages(inbox, [[1, 1]])
    assert.equal(record?.blobId, both.queued.blobId)
    await store.storeFlags(inbox, [[1, 1]], 'add', ['\\Deleted'])
    await store.expunge(inbox)
    assert.deepEqual(
      await readAll(store.readMessage(both.queued.blobId)),
      shared,
      'queued bytes stay',
    )
    await store.deliver({ bytes: shared }, [{ mailboxId: inbox }])
    await store.removeQueueEntry(both.queued.id)
    assert.deepEqual(
      await readAll(store.readMessage(both.queued.blobId)),
      shared,
      'filed bytes stay',
    )
    assert.equal((await store.getMetadata(both.queued.blobId)).envelope.subject, 'shared')
    await store.storeFlags(inbox, [[2, 2]], 'add', ['\\Deleted'])
    await store.expunge(inbox)
    await assert.rejects(readAll(store.readMessage(both.queued.blobId)))
  })

  test('removing an account leaves the queue entries it submitted', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    const bytes = message('sent')
    const { queued } = await store.acceptMessage({
      deliveries: [{ message: { bytes }, targets: [{ mailboxId: inbox }] }],
      queue: { message: { bytes }, entry: envelope({ submittedBy: account.id }) },
    })
    assert.ok(queued)
    await store.removeAccount(account.address)
    assert.deepEqual(await store.getQueueEntry(queued.id), queued)
    assert.deepEqual(await readAll(store.readMessage(queued.blobId)), bytes)
  })
}
