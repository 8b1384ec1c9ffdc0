import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { test } from 'node:test'
import { createDirectory } from '../../src/directory/index.ts'
import { openPostgresStore } from '../../src/store/postgres/index.ts'
import { ALICE, ImapTestClient } from '../support/imap.ts'
import { startPostern } from '../support/postern-process.ts'
import { testDatabase } from '../support/postgres.ts'
import { SmtpTestClient } from '../support/smtp.ts'

// Two `postern serve` processes on one PostgreSQL database (issue 12): IMAP sessions on both
// nodes see one mailbox, with changes crossing nodes through the store's change feed
// (LISTEN/NOTIFY), and UIDs allocated by the database stay unique under concurrent delivery.

async function twoNodes(t: TestContext) {
  const url = await testDatabase(t)
  const store = await openPostgresStore({ url })
  t.after(() => store.close())
  const directory = createDirectory(store)
  await directory.addDomain('example.test')
  await directory.addUser(ALICE.address, ALICE.password)
  const extraToml = `[store]\nbackend = "postgres"\nurl = "${url}"\n`
  const [a, b] = await Promise.all([startPostern(t, { extraToml }), startPostern(t, { extraToml })])
  if (a === undefined || b === undefined) throw new Error('nodes did not start')
  return { a, b, store }
}

async function imap(t: TestContext, port: number) {
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.match(await client.login(), /^L1 OK/)
  await client.command('E1', 'ENABLE IMAP4rev2')
  await client.command('S1', 'SELECT INBOX')
  return client
}

async function deliver(t: TestContext, port: number, subject: string) {
  const smtp = await SmtpTestClient.connect(t, port)
  await smtp.read()
  await smtp.ehlo()
  const sent = await smtp.send(
    'someone@elsewhere.test',
    [ALICE.address],
    `From: someone@elsewhere.test\r\nSubject: ${subject}\r\n\r\nbody\r\n`,
  )
  assert.equal(sent.code, 250)
}

test('IDLE on node B sees mail taken by node A within a second; flags and expunges agree', async (t) => {
  const { a, b } = await twoNodes(t)
  const onA = await imap(t, a.ports.imap)
  const onB = await imap(t, b.ports.imap)
  onB.write('i1 IDLE\r\n')
  assert.equal(await onB.readLine(), '+ idling')
  const started = Date.now()
  await deliver(t, a.ports.smtp, 'across nodes')
  assert.equal(await onB.readLine(1000), '* 1 EXISTS')
  const latency = Date.now() - started
  assert.ok(latency < 1000, `EXISTS on B ${latency} ms after A's 250`)

  // A flags the message and B, still idling, is told; then A expunges it and B is told that too.
  // A's own session learns of it through its node's feed, at a NOOP a moment later.
  let seenOnA = false
  for (let i = 0; i < 50 && !seenOnA; i += 1) {
    seenOnA = (await onA.command(`n${i}`, 'NOOP')).untagged.includes('* 1 EXISTS')
    if (!seenOnA) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.ok(seenOnA, 'node A never reported the message')
  await onA.command('f1', 'STORE 1 +FLAGS (\\Flagged \\Deleted)')
  assert.equal(await onB.readLine(2000), '* 1 FETCH (FLAGS (\\Flagged \\Deleted))')
  await onA.command('x1', 'EXPUNGE')
  assert.equal(await onB.readLine(2000), '* 1 EXPUNGE')
  onB.write('DONE\r\n')
  assert.equal(await onB.readLine(), 'i1 OK IDLE terminated')
})

test('concurrent deliveries through both nodes never share or reuse a UID', async (t) => {
  const { a, b } = await twoNodes(t)
  const perNode = 12
  await Promise.all(
    Array.from({ length: perNode * 2 }, (_, i) =>
      deliver(t, i % 2 === 0 ? a.ports.smtp : b.ports.smtp, `message ${i}`),
    ),
  )
  const onA = await imap(t, a.ports.imap)
  const onB = await imap(t, b.ports.imap)
  const uidsOf = async (client: ImapTestClient, tag: string) =>
    (await client.command(tag, 'FETCH 1:* (UID FLAGS)')).untagged
      .map((line) => Number(/UID (\d+)/.exec(line)?.[1]))
      .filter((uid) => uid > 0)
  const fromA = await uidsOf(onA, 'u1')
  const fromB = await uidsOf(onB, 'u2')
  assert.equal(fromA.length, perNode * 2)
  assert.equal(new Set(fromA).size, fromA.length, `duplicate UIDs: ${fromA.join(' ')}`)
  assert.deepEqual(
    fromA,
    [...fromA].sort((x, y) => x - y),
  )
  assert.deepEqual(fromB, fromA)
})

test('SIGKILL node A during deliveries: nothing acknowledged is lost, node B keeps serving', async (t) => {
  const { a, b, store } = await twoNodes(t)
  const idle = await imap(t, b.ports.imap)
  idle.write('i1 IDLE\r\n')
  assert.equal(await idle.readLine(), '+ idling')
  const acknowledged = new Set<string>()
  let next = 0
  const sender = async () => {
    let smtp: SmtpTestClient
    try {
      smtp = await SmtpTestClient.connect(t, a.ports.smtp)
      await smtp.read()
      await smtp.ehlo()
    } catch {
      return
    }
    for (;;) {
      const subject = `kill-${next}`
      next += 1
      try {
        const body = `${'x'.repeat(70)}\r\n`.repeat(1 + (next % 100))
        const reply = await smtp.send(
          'load@remote.test',
          [ALICE.address],
          `Subject: ${subject}\r\n\r\n${body}`,
        )
        if (reply.code === 250) acknowledged.add(subject)
      } catch {
        return
      }
    }
  }
  const senders = Array.from({ length: 3 }, () => sender())
  await new Promise((resolve) => setTimeout(resolve, 400 + Math.floor(Math.random() * 400)))
  await a.stop('SIGKILL')
  await Promise.all(senders)
  assert.ok(acknowledged.size > 0, 'no message was acknowledged before the kill')

  // B still takes mail and serves IMAP; its IDLE session was told of the deliveries.
  await deliver(t, b.ports.smtp, 'after the kill')
  idle.write('DONE\r\n')
  const done = await idle.response('i1', 5000)
  assert.match(done.tagged, /^i1 OK/)
  assert.ok(
    done.untagged.some((line) => / EXISTS$/.test(line)),
    'the IDLE session on B heard of no delivery',
  )
  const account = await store.getAccount(ALICE.address)
  const inbox = account && (await store.getMailbox(account.id, 'INBOX'))
  assert.ok(inbox)
  const records = await store.getMessages(inbox.id, [[1, 2 ** 32 - 1]])
  const subjects = new Map<string, number>()
  for (const record of records) {
    const chunks: Buffer[] = []
    for await (const chunk of store.readMessage(record.blobId)) chunks.push(chunk)
    const subject = /\r\nSubject: ([^\r]+)\r\n/.exec(Buffer.concat(chunks).toString('latin1'))?.[1]
    assert.ok(subject, 'every stored message is whole')
    subjects.set(subject, (subjects.get(subject) ?? 0) + 1)
  }
  for (const subject of acknowledged) assert.equal(subjects.get(subject), 1, `${subject} lost`)
  for (const [subject, count] of subjects)
    assert.equal(count, 1, `${subject} stored ${count} times`)
  assert.equal(subjects.get('after the kill'), 1)
  const fetched = await imap(t, b.ports.imap)
  const status = await fetched.command('st', 'STATUS INBOX (MESSAGES)')
  assert.deepEqual(status.untagged, [`* STATUS "INBOX" (MESSAGES ${records.length})`])
})
