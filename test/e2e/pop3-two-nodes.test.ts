import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createDirectory } from '../../src/directory/index.ts'
import { openPostgresStore } from '../../src/store/postgres/index.ts'
import { ALICE, Pop3TestClient } from '../support/pop3.ts'
import { startPostern } from '../support/postern-process.ts'
import { testDatabase } from '../support/postgres.ts'
import { SmtpTestClient } from '../support/smtp.ts'

// Two `postern serve` processes on one PostgreSQL database (issue 12's several nodes): mail
// taken by node A's MX is retrieved over node B's POP3, and one maildrop is one POP3 session's
// across both nodes, because the lock lives in the database.

test('two nodes on one database: delivered on A, [IN-USE] across nodes, deleted on B', async (t) => {
  const url = await testDatabase(t)
  const store = await openPostgresStore({ url })
  t.after(() => store.close())
  const directory = createDirectory(store)
  await directory.addDomain('example.test')
  await directory.addUser(ALICE.address, ALICE.password)
  const extraToml = `[store]\nbackend = "postgres"\nurl = "${url}"\n`
  const [a, b] = await Promise.all([startPostern(t, { extraToml }), startPostern(t, { extraToml })])

  const smtp = await SmtpTestClient.connect(t, a.ports.smtp)
  await smtp.read()
  await smtp.ehlo()
  const sent = await smtp.send(
    'someone@elsewhere.test',
    [ALICE.address],
    'From: someone@elsewhere.test\r\nSubject: across nodes\r\n\r\n.dot line\r\n',
  )
  assert.equal(sent.code, 250)

  const onB = await Pop3TestClient.connect(t, b.ports.pop3)
  const login = await onB.login()
  assert.match(login.status, /^\+OK alice@example\.test has 1 messages/)
  const onA = await Pop3TestClient.connect(t, a.ports.pop3)
  assert.equal(
    (await onA.login()).raw,
    '-ERR [IN-USE] Another POP3 session has this maildrop open\r\n',
  )
  const message = await onB.multi('RETR 1')
  assert.ok(message.lines.join('\r\n').endsWith('Subject: across nodes\r\n\r\n.dot line'))
  await onB.command('DELE 1')
  assert.match((await onB.command('QUIT')).status, /\(0 messages left\)$/)

  // B let go at QUIT: A's session, still in AUTHORIZATION, logs in and finds the maildrop empty.
  await onA.command(`USER ${ALICE.address}`)
  assert.equal(
    (await onA.command(`PASS ${ALICE.password}`)).status,
    '+OK alice@example.test has 0 messages (0 octets)',
  )
})
