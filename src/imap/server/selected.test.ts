import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { test } from 'node:test'
import { ALICE, ImapTestClient, startImapServer } from '../../../test/support/imap.ts'
import type { Store } from '../../store/index.ts'

// The selected state (RFC 9051 §6.3.2-§6.4): SELECT and EXAMINE, FETCH, STORE, EXPUNGE, CLOSE,
// UNSELECT, COPY, MOVE and their UID forms, and how changes made by other sessions reach a
// session (§5.5, §7.5.1).

const message = (subject: string, body = 'Hello.\r\n') =>
  Buffer.from(
    `From: Bob <bob@example.org>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\n${body}`,
  )

async function inbox(store: Store) {
  const account = await store.getAccount(ALICE.address)
  const mailbox = account && (await store.getMailbox(account.id, 'INBOX'))
  if (!mailbox) throw new Error('no INBOX')
  return mailbox.id
}

async function deliver(store: Store, subject: string, flags: string[] = []) {
  const [result] = await store.deliver(
    { bytes: message(subject), internalDate: new Date('2026-11-26T10:00:00Z') },
    [{ mailboxId: await inbox(store), flags }],
  )
  if (result?.status !== 'stored') throw new Error('not stored')
  return result.uid
}

async function session(t: TestContext, port: number, enable?: string) {
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.match(await client.login(), /^L1 OK/)
  if (enable !== undefined)
    assert.match((await client.command('E1', `ENABLE ${enable}`)).tagged, /OK/)
  return client
}

test('SELECT: IMAP4rev1 data (RECENT, UNSEEN), then the rev2 form once enabled', async (t) => {
  const { port, store } = await startImapServer(t)
  await deliver(store, 'one', ['\\Seen'])
  await deliver(store, 'two', ['$Forwarded'])
  const rev1 = await session(t, port)
  const selected = await rev1.command('s1', 'SELECT INBOX')
  assert.deepEqual(selected.untagged, [
    '* 2 EXISTS',
    '* 2 RECENT',
    '* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded)',
    '* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Forwarded \\*)] Flags permitted',
    '* OK [UNSEEN 2] First unseen message',
    `* OK [UIDVALIDITY ${(await store.getMailboxById(await inbox(store)))?.uidValidity}] UIDs valid`,
    '* OK [UIDNEXT 3] Predicted next UID',
    '* OK [HIGHESTMODSEQ 3] Highest',
  ])
  assert.equal(selected.tagged, 's1 OK [READ-WRITE] SELECT completed')
  // The first session claimed \Recent: a second one sees none (RFC 3501 §2.3.2).
  const rev2 = await session(t, port, 'IMAP4rev2')
  const again = await rev2.command('s2', 'select inbox')
  assert.ok(!again.untagged.some((line) => /RECENT|UNSEEN/.test(line)))
  assert.ok(again.untagged.includes('* LIST () "/" "INBOX"'))
  const examined = await rev2.command('s3', 'EXAMINE INBOX')
  assert.equal(examined.untagged[0], '* OK [CLOSED] Previous mailbox is now closed')
  assert.ok(examined.untagged.includes('* OK [PERMANENTFLAGS ()] Read-only mailbox'))
  assert.equal(examined.tagged, 's3 OK [READ-ONLY] EXAMINE completed')
  const missing = await rev2.command('s4', 'SELECT Nowhere')
  assert.equal(missing.tagged, 's4 NO [NONEXISTENT] No such mailbox')
  // A failed SELECT leaves no mailbox selected.
  assert.match((await rev2.command('s5', 'FETCH 1 FLAGS')).tagged, /^s5 BAD/)
})

test('FETCH: flags, sizes, dates, envelope, structure, sections and partials; \\Seen set', async (t) => {
  const { port, store } = await startImapServer(t)
  await deliver(store, 'first')
  const client = await session(t, port, 'IMAP4rev2')
  await client.command('s1', 'SELECT INBOX')
  const bytes = message('first')
  const meta = await client.command('f1', 'FETCH 1 (UID FLAGS RFC822.SIZE INTERNALDATE)')
  assert.deepEqual(meta.untagged, [
    `* 1 FETCH (UID 1 FLAGS () RFC822.SIZE ${bytes.length} INTERNALDATE "26-Nov-2026 10:00:00 +0000")`,
  ])
  const envelope = await client.command('f2', 'FETCH 1 ENVELOPE')
  assert.equal(
    envelope.untagged[0],
    '* 1 FETCH (ENVELOPE ("Thu, 26 Nov 2026 10:00:00 +0000" "first" (("Bob" NIL "bob" "example.org")) (("Bob" NIL "bob" "example.org")) (("Bob" NIL "bob" "example.org")) ((NIL NIL "alice" "example.test")) NIL NIL NIL "<first@example.org>"))',
  )
  const peek = await client.command(
    'f3',
    'FETCH 1 (BODY.PEEK[HEADER.FIELDS (subject)] BODY.PEEK[TEXT]<1.3>)',
  )
  assert.equal(
    peek.untagged[0],
    '* 1 FETCH (BODY[HEADER.FIELDS (subject)] {18}\r\nSubject: first\r\n\r\n BODY[TEXT]<1> {3}\r\nell)',
  )
  const whole = await client.command('f4', 'UID FETCH 1 BODY[]')
  assert.equal(
    whole.untagged[0],
    `* 1 FETCH (UID 1 BODY[] {${bytes.length}}\r\n${bytes.toString('latin1')} FLAGS (\\Seen))`,
  )
  assert.equal(whole.tagged, 'f4 OK UID FETCH completed')
  const structure = await client.command('f5', 'FETCH 1 (BODY BODYSTRUCTURE BINARY.SIZE[1])')
  assert.match(
    structure.untagged[0] ?? '',
    /^\* 1 FETCH \(BODY \("text" "plain" .* BINARY.SIZE\[1\] 8\)$/,
  )
  assert.match((await client.command('f6', 'FETCH 2 FLAGS')).tagged, /^f6 BAD/)
  assert.match((await client.command('f7', 'FETCH 1 (FLAGS')).tagged, /^f7 BAD/)
  assert.equal(
    (await client.command('f8', 'UID FETCH 5:9 FLAGS')).tagged,
    'f8 OK UID FETCH completed',
  )
})

test('STORE, EXPUNGE and CONDSTORE: flags replies, .SILENT, UNCHANGEDSINCE → MODIFIED', async (t) => {
  const { port, store } = await startImapServer(t)
  for (const subject of ['a', 'b', 'c']) await deliver(store, subject)
  const client = await session(t, port, 'IMAP4rev2')
  await client.command('s1', 'SELECT INBOX')
  const added = await client.command('t1', 'STORE 1:2 +FLAGS (\\Deleted $Done)')
  assert.deepEqual(added.untagged, [
    '* 1 FETCH (FLAGS (\\Deleted $Done))',
    '* 2 FETCH (FLAGS (\\Deleted $Done))',
  ])
  assert.deepEqual((await client.command('t2', 'STORE 2 -FLAGS.SILENT \\Deleted')).untagged, [])
  const conditional = await client.command('t3', 'UID STORE 1:3 (UNCHANGEDSINCE 4) +FLAGS (\\Seen)')
  // Messages 1 and 2 changed after MODSEQ 4 (t1 and t2); 3 gets \Seen.
  assert.match(conditional.tagged, /^t3 OK \[MODIFIED 1:2\] Conditional UID STORE failed$/)
  assert.ok(conditional.untagged.every((line) => /UID \d+ MODSEQ \(\d+\)/.test(line)))
  const expunged = await client.command('x1', 'EXPUNGE')
  assert.deepEqual(expunged.untagged, ['* 1 EXPUNGE'])
  assert.deepEqual((await client.command('x2', 'UID FETCH 1:* FLAGS')).untagged.length, 2)
  assert.equal((await client.command('c1', 'CLOSE')).tagged, 'c1 OK CLOSE completed')
  assert.match((await client.command('c2', 'EXPUNGE')).tagged, /^c2 BAD/)
})

test('COPY and MOVE answer COPYUID; MOVE expunges; TRYCREATE for a missing mailbox', async (t) => {
  const { port, store } = await startImapServer(t)
  for (const subject of ['a', 'b', 'c']) await deliver(store, subject)
  const client = await session(t, port, 'IMAP4rev2')
  await client.command('s1', 'SELECT INBOX')
  const trash = await store.getMailbox((await store.getAccount(ALICE.address))?.id ?? 0, 'Trash')
  const copied = await client.command('m1', 'COPY 1:2 Trash')
  assert.equal(copied.tagged, `m1 OK [COPYUID ${trash?.uidValidity} 1:2 1:2] COPY completed`)
  const moved = await client.command('m2', 'UID MOVE 2 Trash')
  assert.deepEqual(moved.untagged, [
    `* OK [COPYUID ${trash?.uidValidity} 2 3] Moved`,
    '* 2 EXPUNGE',
  ])
  assert.equal(
    (await client.command('m3', 'COPY 1 Nowhere')).tagged,
    'm3 NO [TRYCREATE] No such mailbox',
  )
  // Copying into the selected mailbox announces the new message with this command.
  const self = await client.command('m4', 'COPY 1 INBOX')
  assert.ok(self.untagged.includes('* 3 EXISTS'), self.untagged.join('\n'))
})

test('other sessions: EXISTS and FETCH FLAGS at NOOP; no EXPUNGE during FETCH, STORE or SEARCH', async (t) => {
  const { port, store } = await startImapServer(t)
  for (const subject of ['a', 'b']) await deliver(store, subject)
  const watcher = await session(t, port)
  await watcher.command('s1', 'SELECT INBOX')
  const actor = await session(t, port)
  await actor.command('s2', 'SELECT INBOX')
  await actor.command('a1', 'STORE 1 +FLAGS (\\Deleted)')
  await deliver(store, 'c')
  await actor.command('a2', 'EXPUNGE')
  // Give the change feed its moment, then FETCH: the new message is told, the expunge held.
  await new Promise((resolve) => setTimeout(resolve, 100))
  const fetched = await watcher.command('w1', 'FETCH 1 FLAGS')
  assert.ok(!fetched.untagged.some((line) => line.includes('EXPUNGE')), fetched.untagged.join('\n'))
  assert.ok(fetched.untagged.includes('* 3 EXISTS'), fetched.untagged.join('\n'))
  const noop = await watcher.command('w2', 'NOOP')
  assert.ok(noop.untagged.includes('* 1 EXPUNGE'), noop.untagged.join('\n'))
  assert.equal((await watcher.command('w3', 'FETCH 2 UID')).untagged[0], '* 2 FETCH (UID 3)')
})

test('QRESYNC: SELECT with (QRESYNC …) reports VANISHED (EARLIER) and changed flags', async (t) => {
  const { port, store } = await startImapServer(t)
  for (const subject of ['a', 'b', 'c']) await deliver(store, subject)
  const first = await session(t, port, 'QRESYNC')
  const opened = await first.command('s1', 'SELECT INBOX')
  const validity = /UIDVALIDITY (\d+)/.exec(opened.untagged.join(' '))?.[1]
  const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(opened.untagged.join(' '))?.[1])
  await first.command('a1', 'STORE 2 +FLAGS (\\Deleted)')
  await first.command('a2', 'STORE 3 +FLAGS (\\Flagged)')
  assert.deepEqual((await first.command('a3', 'EXPUNGE')).untagged, ['* VANISHED 2'])
  await first.command('a4', 'LOGOUT')
  const second = await session(t, port, 'QRESYNC')
  const resync = await second.command('s2', `SELECT INBOX (QRESYNC (${validity} ${modseq} 1:3))`)
  assert.ok(resync.untagged.includes('* VANISHED (EARLIER) 2'), resync.untagged.join('\n'))
  assert.ok(
    resync.untagged.some((line) =>
      /^\* 2 FETCH \(FLAGS \(\\Flagged\) UID 3 MODSEQ \(\d+\)\)$/.test(line),
    ),
    resync.untagged.join('\n'),
  )
  const changed = await second.command(
    'f1',
    `UID FETCH 1:* FLAGS (CHANGEDSINCE ${modseq} VANISHED)`,
  )
  assert.equal(changed.untagged[0], '* VANISHED (EARLIER) 2')
})
