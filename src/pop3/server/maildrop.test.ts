import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { ALICE, Pop3TestClient, startPop3Server } from '../../../test/support/pop3.ts'
import { BlobNotFoundError, type Store } from '../../store/index.ts'
import { silentLogger } from '../../util/index.ts'
import { Maildrop } from './maildrop.ts'

// The maildrop: one POP3 session at a time (through the store, so across nodes), numbers fixed
// for the session while others change the mailbox, LOGIN-DELAY and EXPIRE.

const message = (n: number) => `Subject: ${n}\r\n\r\nbody ${n}\r\n`

test('a second POP3 session gets [IN-USE] until the first one ends', async (t) => {
  const server = await startPop3Server(t)
  await server.deliver([message(1)])
  const first = await Pop3TestClient.connect(t, server.ports.pop3)
  assert.ok((await first.login()).isOk)
  const second = await Pop3TestClient.connect(t, server.ports.pop3)
  assert.equal(
    (await second.login()).raw,
    '-ERR [IN-USE] Another POP3 session has this maildrop open\r\n',
  )
  // Still in AUTHORIZATION: it may try again once the first has gone.
  await first.command('QUIT')
  await first.closed()
  await second.command(`USER ${ALICE.address}`)
  assert.match((await second.command(`PASS ${ALICE.password}`)).status, /has 1 messages/)
})

test('a lock left by a node that died lapses after its lease', async (t) => {
  const server = await startPop3Server(t)
  const inbox = await server.inboxOf(ALICE.address)
  assert.equal(
    await server.store.lockMailbox(inbox, { holder: 'dead-node', leaseMs: 400 }),
    'locked',
  )
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  assert.match((await client.login()).status, /^-ERR \[IN-USE\]/)
  await sleep(450)
  await client.command(`USER ${ALICE.address}`)
  assert.match((await client.command(`PASS ${ALICE.password}`)).status, /^\+OK/)
})

test('others change the mailbox during a session: its numbers and sizes hold', async (t) => {
  const server = await startPop3Server(t)
  await server.deliver([message(1), message(2), message(3)])
  const inbox = await server.inboxOf(ALICE.address)
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  await client.login()
  const [second] = await server.store.getMessages(inbox, [[2, 2]])
  assert.ok(second !== undefined)
  const stat = (await client.command('STAT')).raw
  // What an IMAP session may do meanwhile: a new delivery, flags, an expunge of message 2.
  await server.deliver([message(4)])
  await server.store.storeFlags(inbox, [[1, 3]], 'add', ['\\Seen'])
  await server.store.storeFlags(inbox, [[2, 2]], 'add', ['\\Deleted'])
  assert.deepEqual(await server.store.expunge(inbox), [2])
  assert.equal((await client.command('STAT')).raw, stat)
  assert.deepEqual((await client.multi('LIST')).lines.length, 3)
  const retr3 = await client.multi('RETR 3')
  assert.deepEqual(retr3.lines, ['Subject: 3', '', 'body 3'])
  // Message 2's bytes go once nothing refers to them; RETR then says so before sending anything.
  assert.ok(await blobGone(server.store, second.blobId))
  assert.equal(
    (await client.command('RETR 2')).raw,
    '-ERR Message 2 was removed by another session\r\n',
  )
  // DELE of the expunged message and of message 1, then QUIT: message 1 goes, 3 and 4 stay.
  await client.command('DELE 1')
  await client.command('DELE 2')
  assert.match((await client.command('QUIT')).status, /\(2 messages left\)$/)
  const left = await server.store.getMessages(inbox, [[1, 100]])
  assert.deepEqual(
    left.map((record) => record.uid),
    [3, 4],
  )
})

test('QUIT removes nothing when another session took over the lapsed lock', async (t) => {
  const server = await startPop3Server(t)
  await server.deliver([message(1)])
  const inbox = await server.inboxOf(ALICE.address)
  const mailbox = await server.store.getMailboxById(inbox)
  assert.ok(mailbox !== null)
  const maildrop = await Maildrop.open(server.store, mailbox, {
    leaseMs: 90,
    minIntervalMs: null,
    log: silentLogger,
  })
  assert.ok(maildrop instanceof Maildrop)
  const message1 = maildrop.message(1)
  assert.ok(message1 !== null)
  message1.isDeleted = true
  // The process stalls past its lease (renewal cannot run); another session takes the lock.
  const stalled = Date.now() + 200
  while (Date.now() < stalled) {}
  assert.equal(
    await server.store.lockMailbox(inbox, { holder: 'other', leaseMs: 10_000 }),
    'locked',
  )
  // The other session may even have ended before our next renewal: the lock stays lost.
  await server.store.unlockMailbox(inbox, 'other')
  await sleep(100)
  assert.equal(await maildrop.commit({ removeRetrieved: false }), null)
  assert.equal((await server.store.getMailboxStatus(inbox)).messages, 1)
  await maildrop.close()
})

test('LOGIN-DELAY: advertised, and a login too soon after the last is refused', async (t) => {
  const server = await startPop3Server(t, '[pop3]\nlogin_delay_s = 1\n')
  const client = await Pop3TestClient.connect(t, server.ports.pop3)
  await client.read()
  assert.ok((await client.multi('CAPA')).lines.includes('LOGIN-DELAY 1'))
  await client.command(`USER ${ALICE.address}`)
  assert.ok((await client.command(`PASS ${ALICE.password}`)).isOk)
  await client.command('QUIT')
  const again = await Pop3TestClient.connect(t, server.ports.pop3)
  assert.equal(
    (await again.login()).raw,
    '-ERR [LOGIN-DELAY] Logins are allowed once every 1 seconds\r\n',
  )
  await sleep(1100)
  await again.command(`USER ${ALICE.address}`)
  assert.ok((await again.command(`PASS ${ALICE.password}`)).isOk)
})

test('EXPIRE 0 removes what was retrieved at QUIT; EXPIRE NEVER removes only DELE', async (t) => {
  const zero = await startPop3Server(t, '[pop3]\nexpire = 0\n')
  await zero.deliver([message(1), message(2), message(3)])
  const client = await Pop3TestClient.connect(t, zero.ports.pop3)
  await client.read()
  assert.ok((await client.multi('CAPA')).lines.includes('EXPIRE 0'))
  await client.command(`USER ${ALICE.address}`)
  await client.command(`PASS ${ALICE.password}`)
  await client.multi('RETR 2')
  // TOP is a preview, not a retrieval.
  await client.multi('TOP 3 0')
  assert.match((await client.command('QUIT')).status, /\(2 messages left\)$/)
  const inbox = await zero.inboxOf(ALICE.address)
  assert.deepEqual(
    (await zero.store.getMessages(inbox, [[1, 10]])).map((record) => record.uid),
    [1, 3],
  )

  const never = await startPop3Server(t, '[pop3]\nexpire = "never"\n')
  await never.deliver([message(1)])
  const other = await Pop3TestClient.connect(t, never.ports.pop3)
  await other.read()
  assert.ok((await other.multi('CAPA')).lines.includes('EXPIRE NEVER'))
  await other.command(`USER ${ALICE.address}`)
  await other.command(`PASS ${ALICE.password}`)
  await other.multi('RETR 1')
  assert.match((await other.command('QUIT')).status, /\(1 messages left\)$/)
})

/** Waits (up to a second) until the store no longer has the bytes; false if it still has them. */
async function blobGone(store: Store, blobId: string): Promise<boolean> {
  for (let i = 0; i < 50; i += 1) {
    try {
      for await (const _ of store.readMessage(blobId)) {
        // The bytes are still there.
      }
    } catch (error) {
      if (error instanceof BlobNotFoundError) return true
      throw error
    }
    await sleep(20)
  }
  return false
}
