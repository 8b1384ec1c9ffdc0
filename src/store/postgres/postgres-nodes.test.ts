import assert from 'node:assert/strict'
import { test } from 'node:test'
import { testDatabase } from '../../../test/support/postgres.ts'
import type { MailboxEvent, Store } from '../index.ts'
import { openPostgresStore } from './index.ts'

// Several nodes on one database, each with its own pool and listener: what issue 12 asks of
// UID and MODSEQ allocation and of the change feed, at the store level.

async function twoNodes(t: import('node:test').TestContext): Promise<[Store, Store]> {
  const url = await testDatabase(t)
  const a = await openPostgresStore({ url })
  const b = await openPostgresStore({ url })
  t.after(async () => {
    await a.close()
    await b.close()
  })
  return [a, b]
}

test('concurrent deliveries through two nodes never give a UID twice', async (t) => {
  const [a, b] = await twoNodes(t)
  await a.addDomain('example.test')
  const account = await a.addAccount({
    address: 'x@example.test',
    domain: 'example.test',
    credentials: { passwordHash: 'h', scramSha256: 's' },
  })
  const inbox = (await a.getMailbox(account.id, 'INBOX'))?.id ?? 0
  const archive = (await a.getMailbox(account.id, 'Archive'))?.id ?? 0
  const deliveries = Array.from({ length: 120 }, (_, n) =>
    (n % 2 === 0 ? a : b).deliver(
      { bytes: Buffer.from(`Subject: ${n}\r\n\r\nmessage ${n % 7}\r\n`) },
      // Every third delivery also goes to Archive, and half of those name it first: both
      // nodes lock mailboxes in the same order whatever the order of targets.
      n % 3 === 0
        ? n % 2 === 0
          ? [{ mailboxId: archive }, { mailboxId: inbox }]
          : [{ mailboxId: inbox }, { mailboxId: archive }]
        : [{ mailboxId: inbox }],
    ),
  )
  const results = (await Promise.all(deliveries)).flat()
  for (const mailbox of [inbox, archive]) {
    const uids = results
      .filter((r) => r.mailboxId === mailbox && r.status === 'stored')
      .map((r) => (r.status === 'stored' ? r.uid : 0))
      .sort((x, y) => x - y)
    assert.deepEqual(
      uids,
      Array.from({ length: uids.length }, (_, i) => i + 1),
      'UIDs 1..n, each once',
    )
    const snapshot = await b.openMailbox(mailbox)
    assert.equal(snapshot.status.messages, uids.length)
    assert.equal(
      new Set(snapshot.messages.map((m) => m.modseq)).size,
      uids.length,
      'MODSEQs differ',
    )
  }
  assert.equal((await a.getQuotaUsage(account.id)).messages.used, 160)
})

test('a change on one node reaches a watcher on the other', async (t) => {
  const [a, b] = await twoNodes(t)
  await a.addDomain('example.test')
  const account = await a.addAccount({
    address: 'x@example.test',
    domain: 'example.test',
    credentials: { passwordHash: 'h', scramSha256: 's' },
  })
  const inbox = (await a.getMailbox(account.id, 'INBOX'))?.id ?? 0
  const status = await b.getMailboxStatus(inbox)
  const events: MailboxEvent[] = []
  let wake = () => {}
  b.watchMailbox(inbox, { modseq: status.highestModseq, uidNext: status.uidNext }, (event) => {
    events.push(event)
    wake()
  })
  const eventCount = (count: number) =>
    new Promise<void>((resolve) => {
      wake = () => {
        if (events.length >= count) resolve()
      }
      wake()
    })
  let started = Date.now()
  await a.deliver({ bytes: Buffer.from('Subject: one\r\n\r\n1\r\n') }, [{ mailboxId: inbox }])
  await eventCount(1)
  assert.ok(Date.now() - started < 1000, 'the delivery within a second')
  started = Date.now()
  await a.storeFlags(inbox, [[1, 1]], 'add', ['\\Seen'])
  await eventCount(2)
  assert.ok(Date.now() - started < 1000, 'the flag change within a second')
  assert.deepEqual(
    events.map((e) => e.type),
    ['added', 'flags'],
  )
})
