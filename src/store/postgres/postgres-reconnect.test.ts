import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startPostgres, testDatabase } from '../../../test/support/postgres.ts'
import type { MailboxEvent } from '../index.ts'
import { openPostgresStore } from './index.ts'

// Issue 12: the database restarts under running nodes. Work in flight fails with an error the
// caller can retry; afterwards both nodes work again without a restart of their own, and a
// watcher on one node sees what the other wrote (the listener reconnects and resyncs).
test('nodes outlive a database restart, and their change feed catches up', async (t) => {
  const url = await testDatabase(t)
  const server = await startPostgres()
  const onError: unknown[] = []
  const a = await openPostgresStore({ url, onError: (error) => onError.push(error) })
  const b = await openPostgresStore({ url, onError: (error) => onError.push(error) })
  t.after(async () => {
    await a.close()
    await b.close()
  })
  await a.addDomain('example.test')
  const account = await a.addAccount({
    address: 'x@example.test',
    domain: 'example.test',
    credentials: { passwordHash: 'h', scramSha256: 's' },
  })
  const inbox = (await a.getMailbox(account.id, 'INBOX'))?.id ?? 0
  const events: MailboxEvent[] = []
  b.watchMailbox(inbox, { modseq: 1, uidNext: 1 }, (event) => events.push(event))

  server.restart()
  // The first query on a connection the restart cut may fail; a retry gets a new connection.
  let stored = false
  for (let attempt = 0; attempt < 20 && !stored; attempt += 1) {
    try {
      await a.deliver({ bytes: Buffer.from('Subject: after\r\n\r\nx\r\n') }, [{ mailboxId: inbox }])
      stored = true
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  assert.ok(stored, 'a delivery succeeds after the restart')
  const deadline = Date.now() + 5000
  while (events.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.deepEqual(
    events.map((e) => e.type),
    ['added'],
    'the watcher on the other node saw it',
  )
  assert.equal((await b.getMailboxStatus(inbox)).messages, 1)
  assert.ok(onError.length > 0, 'the lost connections were reported')
})
