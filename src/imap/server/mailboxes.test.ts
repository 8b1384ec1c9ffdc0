import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { test } from 'node:test'
import { ALICE, ImapTestClient, startImapServer } from '../../../test/support/imap.ts'
import type { Store } from '../../store/index.ts'

// Mailbox management (RFC 9051 §6.3.4-§6.3.11): CREATE (with RFC 6154 USE), DELETE, RENAME,
// SUBSCRIBE, UNSUBSCRIBE, LIST with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and
// SPECIAL-USE (RFC 6154), LSUB (RFC 3501 §6.3.9), NAMESPACE (RFC 2342) and STATUS, over a socket.

const message = (subject: string) =>
  Buffer.from(
    `From: Bob <bob@example.org>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n`,
  )

async function mailboxId(store: Store, name: string) {
  const account = await store.getAccount(ALICE.address)
  const mailbox = account && (await store.getMailbox(account.id, name))
  if (!mailbox) throw new Error(`no ${name}`)
  return mailbox.id
}

async function deliver(store: Store, name: string, subject: string, flags: string[] = []) {
  const [result] = await store.deliver({ bytes: message(subject) }, [
    { mailboxId: await mailboxId(store, name), flags },
  ])
  if (result?.status !== 'stored') throw new Error('not stored')
}

async function session(t: TestContext, port: number, enable?: string) {
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.match(await client.login(), /^L1 OK/)
  if (enable !== undefined) {
    assert.match((await client.command('E1', `ENABLE ${enable}`)).tagged, /OK/)
  }
  return client
}

/** Sends a command given as a binary string (one char per octet: 8-bit names as UTF-8 octets). */
function send(client: ImapTestClient, tag: string, command: string) {
  client.write(Buffer.from(`${tag} ${command}\r\n`, 'latin1'))
  return client.response(tag)
}

/** Sends commands that must each succeed. */
async function ok(client: ImapTestClient, ...commands: string[]) {
  for (const [index, command] of commands.entries()) {
    const response = await send(client, `p${index}`, command)
    assert.match(response.tagged, /^p\d+ OK /, `${command}: ${response.tagged}`)
  }
}

/** The untagged lines of a command that must succeed. */
async function untagged(client: ImapTestClient, command: string): Promise<string[]> {
  const response = await send(client, 'q1', command)
  assert.match(response.tagged, /^q1 OK /, `${command}: ${response.tagged}`)
  return response.untagged
}

const DEFAULT_LIST = [
  '* LIST (\\HasNoChildren) "/" "INBOX"',
  '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
  '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
  '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
  '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
  '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
]

test('LIST: the new account, the delimiter, wildcards, references, INBOX in any case', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port)
  assert.deepEqual(await client.command('l1', 'LIST "" *'), {
    untagged: DEFAULT_LIST,
    tagged: 'l1 OK LIST completed',
  })
  // RFC 9051 §6.3.9: an empty pattern asks for the delimiter (and the root, here "").
  assert.deepEqual(await untagged(client, 'LIST "" ""'), ['* LIST (\\Noselect) "/" ""'])
  assert.deepEqual(await untagged(client, 'LIST "Work/" ""'), ['* LIST (\\Noselect) "/" ""'])
  await ok(client, 'CREATE Work/Projects/Alpha', 'CREATE Work/Notes')
  assert.deepEqual(await untagged(client, 'LIST "" Work'), ['* LIST (\\HasChildren) "/" "Work"'])
  assert.deepEqual(await untagged(client, 'LIST "" Work/%'), [
    '* LIST (\\HasNoChildren) "/" "Work/Notes"',
    '* LIST (\\HasChildren) "/" "Work/Projects"',
  ])
  assert.deepEqual(await untagged(client, 'LIST Work/ *'), [
    '* LIST (\\HasNoChildren) "/" "Work/Notes"',
    '* LIST (\\HasChildren) "/" "Work/Projects"',
    '* LIST (\\HasNoChildren) "/" "Work/Projects/Alpha"',
  ])
  assert.deepEqual(await untagged(client, 'LIST "" "W*a"'), [
    '* LIST (\\HasNoChildren) "/" "Work/Projects/Alpha"',
  ])
  assert.deepEqual(await untagged(client, 'LIST "" "W%a"'), [])
  assert.deepEqual(await untagged(client, 'LIST "" inbox'), [
    '* LIST (\\HasNoChildren) "/" "INBOX"',
  ])
  assert.deepEqual(await untagged(client, 'LIST "" {5+}\r\nInBoX'), [
    '* LIST (\\HasNoChildren) "/" "INBOX"',
  ])
  assert.deepEqual(await untagged(client, 'LIST "" work'), [])
  assert.match((await client.command('l2', 'LIST ""')).tagged, /^l2 BAD/)
  assert.match((await client.command('l3', 'LIST "" a b')).tagged, /^l3 BAD/)
})

test('LIST before login is BAD; NAMESPACE has one personal namespace', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.match((await client.command('a1', 'LIST "" *')).tagged, /^a1 BAD/)
  assert.match((await client.command('a2', 'NAMESPACE')).tagged, /^a2 BAD/)
  assert.match(await client.login(), /^L1 OK/)
  assert.deepEqual(await client.command('n1', 'NAMESPACE'), {
    untagged: ['* NAMESPACE (("" "/")) NIL NIL'],
    tagged: 'n1 OK NAMESPACE completed',
  })
  assert.match((await client.command('n2', 'NAMESPACE x')).tagged, /^n2 BAD/)
})

test('CREATE: parents made too, a trailing delimiter dropped, names refused with codes', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port)
  assert.equal((await client.command('c1', 'CREATE Lists/')).tagged, 'c1 OK CREATE completed')
  assert.deepEqual(await untagged(client, 'LIST "" Lists*'), [
    '* LIST (\\HasNoChildren) "/" "Lists"',
  ])
  assert.equal(
    (await client.command('c2', 'CREATE lists/')).tagged,
    'c2 OK CREATE completed', // names other than INBOX are case-sensitive
  )
  assert.equal(
    (await client.command('c3', 'CREATE Lists')).tagged,
    'c3 NO [ALREADYEXISTS] Mailbox already exists',
  )
  assert.equal(
    (await client.command('c4', 'CREATE inbox')).tagged,
    'c4 NO [ALREADYEXISTS] Mailbox already exists',
  )
  assert.match((await client.command('c5', 'CREATE "a//b"')).tagged, /^c5 NO \[CANNOT\] /)
  assert.match((await client.command('c6', 'CREATE "a*b"')).tagged, /^c6 NO \[CANNOT\] /)
  assert.match((await client.command('c7', 'CREATE ""')).tagged, /^c7 NO \[CANNOT\] /)
  assert.match((await client.command('c8', 'CREATE')).tagged, /^c8 BAD/)
  assert.match((await client.command('c9', 'CREATE "&Jjo"')).tagged, /^c9 BAD/)
  // INBOX may have children (RFC 9051 §5.1).
  await ok(client, 'CREATE INBOX/Receipts')
  assert.deepEqual(await untagged(client, 'LIST "" inbox*'), [
    '* LIST (\\HasChildren) "/" "INBOX"',
    '* LIST (\\HasNoChildren) "/" "INBOX/Receipts"',
  ])
})

test('CREATE-SPECIAL-USE (RFC 6154 §3, §5.2): one mailbox per use, USEATTR otherwise', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port)
  assert.equal(
    (await client.command('u1', 'CREATE MySent (USE (\\Sent))')).tagged,
    'u1 NO [USEATTR] Another mailbox has that special use',
  )
  assert.deepEqual(await untagged(client, 'LIST "" MySent'), [])
  await ok(client, 'DELETE Archive')
  assert.equal(
    (await client.command('u2', 'CREATE Old/Stuff (use (\\archive))')).tagged,
    'u2 OK CREATE completed',
  )
  assert.deepEqual(await untagged(client, 'LIST "" Old*'), [
    '* LIST (\\HasChildren) "/" "Old"',
    '* LIST (\\HasNoChildren \\Archive) "/" "Old/Stuff"',
  ])
  for (const [tag, params] of [
    ['u3', '(USE (\\All))'],
    ['u4', '(USE (\\Flagged))'],
    ['u5', '(USE (\\Sent \\Drafts))'],
    ['u6', '(USE (\\Important))'],
  ]) {
    assert.match((await client.command(`${tag}`, `CREATE X ${params}`)).tagged, /NO \[USEATTR\]/)
  }
  assert.equal(
    (await client.command('u7', 'CREATE Plain (USE ())')).tagged,
    'u7 OK CREATE completed',
  )
  assert.match((await client.command('u8', 'CREATE X (FOO (bar))')).tagged, /^u8 BAD/)
  assert.match((await client.command('u9', 'CREATE X (USE (Sent))')).tagged, /^u9 BAD/)
  assert.match((await client.command('u10', 'CREATE X (USE \\Sent)')).tagged, /^u10 BAD/)
  assert.deepEqual(await untagged(client, 'LIST "" X'), [])
})

test('DELETE: not INBOX, not with children, the selected mailbox closes; subscriptions stay', async (t) => {
  const { port, store } = await startImapServer(t)
  const client = await session(t, port, 'IMAP4rev2')
  assert.equal(
    (await client.command('d1', 'DELETE inbox')).tagged,
    'd1 NO [CANNOT] INBOX cannot be deleted',
  )
  assert.equal(
    (await client.command('d2', 'DELETE Nowhere')).tagged,
    'd2 NO [NONEXISTENT] No such mailbox',
  )
  await ok(client, 'CREATE Work/Old', 'SUBSCRIBE Work/Old')
  assert.match(
    (await client.command('d3', 'DELETE Work')).tagged,
    /^d3 NO \[HASCHILDREN\] /, // RFC 9051 §7.1
  )
  await deliver(store, 'Work/Old', 'kept until deleted')
  assert.ok((await untagged(client, 'SELECT Work/Old')).includes('* 1 EXISTS'))
  assert.deepEqual(await client.command('d4', 'DELETE Work/Old'), {
    untagged: ['* OK [CLOSED] The selected mailbox was deleted'],
    tagged: 'd4 OK DELETE completed',
  })
  // Back in the authenticated state.
  assert.match((await client.command('d5', 'FETCH 1 FLAGS')).tagged, /^d5 BAD/)
  assert.equal((await client.command('d6', 'DELETE Work')).tagged, 'd6 OK DELETE completed')
  // RFC 9051 §6.3.7: the subscription outlives the mailbox, and shows as \NonExistent.
  assert.deepEqual(await untagged(client, 'LIST (SUBSCRIBED) "" Work*'), [
    '* LIST (\\NonExistent \\Subscribed \\HasNoChildren) "/" "Work/Old"',
  ])
  // A new mailbox of the same name starts over, with a new UIDVALIDITY (RFC 9051 §6.3.4).
  await ok(client, 'CREATE Work/Old')
  assert.deepEqual(await untagged(client, 'STATUS Work/Old (MESSAGES UIDNEXT)'), [
    '* STATUS "Work/Old" (MESSAGES 0 UIDNEXT 1)',
  ])
})

test('DELETE of the selected mailbox in IMAP4rev1 goes back quietly', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port)
  await ok(client, 'CREATE Scratch', 'SELECT Scratch')
  assert.deepEqual(await client.command('d1', 'DELETE Scratch'), {
    untagged: [],
    tagged: 'd1 OK DELETE completed',
  })
  assert.match((await client.command('d2', 'CLOSE')).tagged, /^d2 BAD/)
})

test('RENAME: children follow, INBOX moves its messages, names refused with codes', async (t) => {
  const { port, store } = await startImapServer(t)
  const client = await session(t, port)
  await ok(client, 'CREATE Work/Projects/Alpha')
  const before = (await store.getMailboxById(await mailboxId(store, 'Work/Projects')))?.uidValidity
  assert.equal(
    (await client.command('r1', 'RENAME Work Play/Time')).tagged,
    'r1 OK RENAME completed',
  )
  assert.deepEqual(await untagged(client, 'LIST "" P*'), [
    '* LIST (\\HasChildren) "/" "Play"',
    '* LIST (\\HasChildren) "/" "Play/Time"',
    '* LIST (\\HasChildren) "/" "Play/Time/Projects"',
    '* LIST (\\HasNoChildren) "/" "Play/Time/Projects/Alpha"',
  ])
  assert.deepEqual(await untagged(client, 'LIST "" Work*'), [])
  // RFC 9051 §6.3.6: the renamed mailboxes keep their UIDVALIDITY.
  assert.deepEqual(await untagged(client, 'STATUS Play/Time/Projects (UIDVALIDITY)'), [
    `* STATUS "Play/Time/Projects" (UIDVALIDITY ${before})`,
  ])
  assert.equal(
    (await client.command('r2', 'RENAME Nowhere Somewhere')).tagged,
    'r2 NO [NONEXISTENT] No such mailbox',
  )
  assert.equal(
    (await client.command('r3', 'RENAME Play Sent')).tagged,
    'r3 NO [ALREADYEXISTS] Mailbox already exists',
  )
  assert.equal(
    (await client.command('r4', 'RENAME Play Play/Inner')).tagged,
    'r4 NO [CANNOT] A mailbox cannot be moved inside itself',
  )
  assert.match((await client.command('r5', 'RENAME Play "x%"')).tagged, /^r5 NO \[CANNOT\] /)
  assert.equal(
    (await client.command('r6', 'RENAME Play inbox')).tagged,
    'r6 NO [ALREADYEXISTS] Mailbox already exists',
  )
  assert.match((await client.command('r7', 'RENAME Play')).tagged, /^r7 BAD/)
  // Renaming INBOX moves its messages to the new mailbox; INBOX stays, empty.
  await deliver(store, 'INBOX', 'one')
  await deliver(store, 'INBOX', 'two')
  assert.equal(
    (await client.command('r8', 'RENAME inbox "Old Inbox"')).tagged,
    'r8 OK RENAME completed',
  )
  assert.deepEqual(await untagged(client, 'STATUS INBOX (MESSAGES)'), [
    '* STATUS "INBOX" (MESSAGES 0)',
  ])
  assert.deepEqual(await untagged(client, 'STATUS "Old Inbox" (MESSAGES)'), [
    '* STATUS "Old Inbox" (MESSAGES 2)',
  ])
})

test('RENAME of the selected INBOX: its messages leave it, as expunges', async (t) => {
  const { port, store } = await startImapServer(t)
  await deliver(store, 'INBOX', 'one')
  const client = await session(t, port)
  await ok(client, 'SELECT INBOX')
  const renamed = await client.command('r1', 'RENAME INBOX Saved')
  assert.equal(renamed.tagged, 'r1 OK RENAME completed')
  const noop = await client.command('n1', 'NOOP')
  assert.deepEqual([...renamed.untagged, ...noop.untagged], ['* 1 EXPUNGE'])
})

test('SUBSCRIBE, UNSUBSCRIBE and LSUB, with the "%" rule of RFC 3501 §6.3.9', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port)
  // The account starts with its INBOX and special-use mailboxes subscribed.
  assert.deepEqual(await client.command('s1', 'LSUB "" *'), {
    untagged: [
      '* LSUB () "/" "INBOX"',
      '* LSUB () "/" "Archive"',
      '* LSUB () "/" "Drafts"',
      '* LSUB () "/" "Junk"',
      '* LSUB () "/" "Sent"',
      '* LSUB () "/" "Trash"',
    ],
    tagged: 's1 OK LSUB completed',
  })
  await ok(client, 'CREATE Fruit/Apple', 'CREATE Fruit/Banana')
  assert.equal(
    (await client.command('s2', 'SUBSCRIBE Fruit/Banana')).tagged,
    's2 OK SUBSCRIBE completed',
  )
  await ok(client, 'SUBSCRIBE Fruit/Banana', 'SUBSCRIBE Fruit/Peach') // again; one that does not exist
  assert.deepEqual(await untagged(client, 'LSUB "" Fruit/*'), [
    '* LSUB () "/" "Fruit/Banana"',
    '* LSUB (\\Noselect) "/" "Fruit/Peach"',
  ])
  // "Fruit" is not subscribed: "%" shows it all the same, as \Noselect.
  assert.deepEqual(await untagged(client, 'LSUB "" F%'), ['* LSUB (\\Noselect) "/" "Fruit"'])
  assert.deepEqual(await untagged(client, 'LSUB "" Fruit'), [])
  assert.deepEqual(await untagged(client, 'LSUB Fruit/ %'), [
    '* LSUB () "/" "Fruit/Banana"',
    '* LSUB (\\Noselect) "/" "Fruit/Peach"',
  ])
  assert.deepEqual(await untagged(client, 'LSUB "" inbox'), ['* LSUB () "/" "INBOX"'])
  assert.equal(
    (await client.command('s3', 'UNSUBSCRIBE Fruit/Peach')).tagged,
    's3 OK UNSUBSCRIBE completed',
  )
  await ok(client, 'UNSUBSCRIBE Fruit/Peach', 'UNSUBSCRIBE Never')
  assert.deepEqual(await untagged(client, 'LSUB "" Fruit/*'), ['* LSUB () "/" "Fruit/Banana"'])
  assert.match((await client.command('s4', 'SUBSCRIBE "a//b"')).tagged, /^s4 NO \[CANNOT\] /)
  assert.match((await client.command('s5', 'SUBSCRIBE')).tagged, /^s5 BAD/)
  // Also in IMAP4rev2, which dropped LSUB (RFC 9051 Appendix E), as Dovecot keeps it.
  assert.match((await client.command('e1', 'ENABLE IMAP4rev2')).tagged, /OK/)
  assert.deepEqual(await untagged(client, 'LSUB "" Fruit/%'), ['* LSUB () "/" "Fruit/Banana"'])
})

/** The hierarchy of RFC 5258 §5 examples 1-3, with its subscriptions. */
async function food(client: ImapTestClient) {
  await ok(
    client,
    'CREATE Fruit/Apple',
    'CREATE Fruit/Banana',
    'CREATE Fruit/Peach',
    'CREATE Tofu',
    'CREATE Vegetable/Broccoli',
    'CREATE Vegetable/Corn',
    'SUBSCRIBE Fruit/Banana',
    'SUBSCRIBE Fruit/Peach',
    'SUBSCRIBE Vegetable',
    'SUBSCRIBE Vegetable/Broccoli',
    'DELETE Fruit/Peach',
    'UNSUBSCRIBE INBOX',
    'UNSUBSCRIBE Sent',
    'UNSUBSCRIBE Drafts',
    'UNSUBSCRIBE Trash',
    'UNSUBSCRIBE Junk',
    'UNSUBSCRIBE Archive',
  )
}

test('RFC 5258 §5 examples 1-3, 7: selection and return options, pattern lists', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port, 'IMAP4rev2')
  await food(client)
  // Example 1.
  assert.deepEqual(await untagged(client, 'LIST "" "%"'), [
    '* LIST (\\HasNoChildren) "/" "INBOX"',
    '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
    '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
    '* LIST (\\HasChildren) "/" "Fruit"',
    '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
    '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
    '* LIST (\\HasNoChildren) "/" "Tofu"',
    '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    '* LIST (\\HasChildren) "/" "Vegetable"',
  ])
  // Example 2: the SUBSCRIBED selection, a deleted mailbox as \NonExistent.
  assert.deepEqual(await untagged(client, 'LIST (SUBSCRIBED) "" "*"'), [
    '* LIST (\\Subscribed \\HasNoChildren) "/" "Fruit/Banana"',
    '* LIST (\\NonExistent \\Subscribed \\HasNoChildren) "/" "Fruit/Peach"',
    '* LIST (\\Subscribed \\HasChildren) "/" "Vegetable"',
    '* LIST (\\Subscribed \\HasNoChildren) "/" "Vegetable/Broccoli"',
  ])
  // Example 3: RETURN (CHILDREN) (the attributes come anyway).
  assert.deepEqual(await untagged(client, 'LIST "" "Ve%" RETURN (CHILDREN)'), [
    '* LIST (\\HasChildren) "/" "Vegetable"',
  ])
  // Example 5: RECURSIVEMATCH, CHILDINFO for parents of subscribed mailboxes.
  assert.deepEqual(await untagged(client, 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'), [
    '* LIST (\\HasChildren) "/" "Fruit" ("CHILDINFO" ("SUBSCRIBED"))',
    '* LIST (\\Subscribed \\HasChildren) "/" "Vegetable" ("CHILDINFO" ("SUBSCRIBED"))',
  ])
  assert.deepEqual(await untagged(client, 'LIST (SUBSCRIBED) "" "%"'), [
    '* LIST (\\Subscribed \\HasChildren) "/" "Vegetable"',
  ])
  // RETURN (SUBSCRIBED) without the selection.
  assert.deepEqual(await untagged(client, 'LIST "" "Fruit/%" RETURN (SUBSCRIBED)'), [
    '* LIST (\\HasNoChildren) "/" "Fruit/Apple"',
    '* LIST (\\Subscribed \\HasNoChildren) "/" "Fruit/Banana"',
  ])
  // Example 7: several patterns; a name matched twice is listed once. REMOTE changes nothing.
  assert.deepEqual(
    await untagged(client, 'LIST (REMOTE) "" ("INBOX" "Drafts" "Fruit/%" Fruit/*)'),
    [
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasNoChildren) "/" "Fruit/Apple"',
      '* LIST (\\HasNoChildren) "/" "Fruit/Banana"',
    ],
  )
  for (const [tag, args] of [
    ['b1', '(RECURSIVEMATCH) "" *'],
    ['b2', '(SPECIAL-USE RECURSIVEMATCH) "" *'],
    ['b3', '(FOO) "" *'],
    ['b4', '"" * RETURN (FOO)'],
    ['b5', '"" ()'],
    ['b6', '"" * RETURN (STATUS ())'],
    ['b7', '"" * RETURN (STATUS (FOO))'],
    ['b8', '(SUBSCRIBED) ""'],
  ]) {
    assert.match((await client.command(`${tag}`, `LIST ${args}`)).tagged, new RegExp(`^${tag} BAD`))
  }
})

test('RFC 6154: special-use attributes in every LIST, the SPECIAL-USE options', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port)
  await ok(client, 'CREATE Lists')
  // §5.1: the special-use mailboxes only.
  assert.deepEqual(await untagged(client, 'LIST (SPECIAL-USE) "" *'), DEFAULT_LIST.slice(1))
  assert.deepEqual(await untagged(client, 'LIST "" "%" RETURN (SPECIAL-USE)'), [
    ...DEFAULT_LIST.slice(0, 4),
    '* LIST (\\HasNoChildren) "/" "Lists"',
    ...DEFAULT_LIST.slice(4),
  ])
  assert.deepEqual(await untagged(client, 'LIST (SPECIAL-USE SUBSCRIBED) "" ("J*" "S*")'), [
    '* LIST (\\Subscribed \\HasNoChildren \\Junk) "/" "Junk"',
    '* LIST (\\Subscribed \\HasNoChildren \\Sent) "/" "Sent"',
  ])
})

test('LIST-STATUS (RFC 5819): STATUS after each selectable mailbox', async (t) => {
  const { port, store } = await startImapServer(t)
  await deliver(store, 'INBOX', 'one')
  await deliver(store, 'INBOX', 'two', ['\\Seen'])
  const client = await session(t, port)
  await ok(client, 'SUBSCRIBE Gone', 'CREATE Fruit/Apple')
  assert.deepEqual(
    await untagged(
      client,
      'LIST (SUBSCRIBED) "" ("INBOX" "Gone" "Fruit*") RETURN (STATUS (MESSAGES UNSEEN))',
    ),
    [
      '* LIST (\\Subscribed \\HasNoChildren) "/" "INBOX"',
      '* STATUS "INBOX" (MESSAGES 2 UNSEEN 1)',
      '* LIST (\\NonExistent \\Subscribed \\HasNoChildren) "/" "Gone"',
    ],
  )
  assert.deepEqual(await untagged(client, 'LIST "" "Fruit*" RETURN (STATUS (UIDNEXT SIZE))'), [
    '* LIST (\\HasChildren) "/" "Fruit"',
    '* STATUS "Fruit" (UIDNEXT 1 SIZE 0)',
    '* LIST (\\HasNoChildren) "/" "Fruit/Apple"',
    '* STATUS "Fruit/Apple" (UIDNEXT 1 SIZE 0)',
  ])
  // HIGHESTMODSEQ turns CONDSTORE on (RFC 7162 §3.1): FETCH then tells MODSEQ.
  assert.deepEqual(await untagged(client, 'LIST "" INBOX RETURN (STATUS (HIGHESTMODSEQ))'), [
    '* LIST (\\HasNoChildren) "/" "INBOX"',
    '* STATUS "INBOX" (HIGHESTMODSEQ 3)',
  ])
  await ok(client, 'SELECT INBOX')
  assert.match((await untagged(client, 'FETCH 1 FLAGS'))[0] ?? '', /MODSEQ \(\d+\)/)
})

test('STATUS: every item, in the order asked; unknown items BAD; INBOX in any case', async (t) => {
  const { port, store } = await startImapServer(t)
  await deliver(store, 'INBOX', 'one')
  await deliver(store, 'INBOX', 'two', ['\\Seen', '\\Deleted'])
  await deliver(store, 'INBOX', 'three', ['\\Seen'])
  const size = message('one').length
  const uidValidity = (await store.getMailboxById(await mailboxId(store, 'INBOX')))?.uidValidity
  const client = await session(t, port)
  assert.deepEqual(
    await client.command(
      's1',
      'STATUS inbox (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT APPENDLIMIT DELETED-STORAGE)',
    ),
    {
      untagged: [
        `* STATUS "INBOX" (MESSAGES 3 UIDNEXT 4 UIDVALIDITY ${uidValidity} UNSEEN 1 DELETED 1 SIZE ${size * 3 + 2} RECENT 0 APPENDLIMIT 10485760 DELETED-STORAGE ${message('two').length})`,
      ],
      tagged: 's1 OK STATUS completed',
    },
  )
  assert.deepEqual(await untagged(client, 'STATUS Sent (uidnext messages messages)'), [
    '* STATUS "Sent" (UIDNEXT 1 MESSAGES 0)',
  ])
  assert.equal(
    (await client.command('s2', 'STATUS Nowhere (MESSAGES)')).tagged,
    's2 NO [NONEXISTENT] No such mailbox',
  )
  assert.equal(
    (await client.command('s3', 'STATUS "a//b" (MESSAGES)')).tagged,
    's3 NO [NONEXISTENT] No such mailbox',
  )
  for (const [tag, args] of [
    ['b1', 'INBOX (MESSAGES FOO)'],
    ['b2', 'INBOX ()'],
    ['b3', 'INBOX'],
    ['b4', 'INBOX MESSAGES'],
    ['b5', 'INBOX (MESSAGES) x'],
    ['b6', 'INBOX (MAILBOXID)'],
  ]) {
    assert.match(
      (await client.command(`${tag}`, `STATUS ${args}`)).tagged,
      new RegExp(`^${tag} BAD`),
    )
  }
  // The selected mailbox: RECENT is what this session holds (RFC 3501 §6.3.10).
  const recent = (await untagged(client, 'SELECT INBOX')).find((line) => / RECENT$/.test(line))
  assert.deepEqual(await untagged(client, 'STATUS INBOX (RECENT HIGHESTMODSEQ)'), [
    `* STATUS "INBOX" (RECENT ${recent?.split(' ')[1]} HIGHESTMODSEQ 4)`,
  ])
  // And CONDSTORE is on from then on (RFC 7162 §3.1).
  assert.match((await untagged(client, 'FETCH 1 FLAGS'))[0] ?? '', /MODSEQ \(\d+\)/)
})

test('names: modified UTF-7 by default, UTF-8 after ENABLE UTF8=ACCEPT (RFC 6855)', async (t) => {
  const { port } = await startImapServer(t)
  const rev1 = await session(t, port)
  await ok(rev1, 'CREATE Entw&APw-rfe', 'CREATE "Caf&AOk-/Men&APw-"', 'SUBSCRIBE Entw&APw-rfe')
  assert.deepEqual(await untagged(rev1, 'LIST "" "Entw&APw-*"'), [
    '* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"',
  ])
  assert.deepEqual(await untagged(rev1, 'LIST "" Caf&AOk-/%'), [
    '* LIST (\\HasNoChildren) "/" "Caf&AOk-/Men&APw-"',
  ])
  assert.deepEqual(await untagged(rev1, 'LSUB "" Entw*'), ['* LSUB () "/" "Entw&APw-rfe"'])
  assert.deepEqual(await untagged(rev1, 'STATUS Entw&APw-rfe (MESSAGES)'), [
    '* STATUS "Entw&APw-rfe" (MESSAGES 0)',
  ])
  // 8-bit names are taken as UTF-8 even without UTF8=ACCEPT, as Dovecot does.
  await ok(rev1, 'CREATE "Gr\xc3\xbc\xc3\x9fe"')
  assert.deepEqual(await untagged(rev1, 'LIST "" Gr*'), [
    '* LIST (\\HasNoChildren) "/" "Gr&APwA3w-e"',
  ])
  const utf8 = await session(t, port, 'UTF8=ACCEPT')
  assert.deepEqual(await untagged(utf8, 'LIST "" Entw*'), [
    '* LIST (\\HasNoChildren) "/" {9}\r\nEntw\xc3\xbcrfe',
  ])
  assert.deepEqual(await untagged(utf8, 'LIST "" "Entw\xc3\xbc%"'), [
    '* LIST (\\HasNoChildren) "/" {9}\r\nEntw\xc3\xbcrfe',
  ])
  assert.deepEqual(await untagged(utf8, 'STATUS "Entw\xc3\xbcrfe" (UIDNEXT)'), [
    '* STATUS {9}\r\nEntw\xc3\xbcrfe (UIDNEXT 1)',
  ])
  // "&" is an ordinary character in UTF-8 names.
  await ok(utf8, 'CREATE "R&D"', 'CREATE "Entw\xc3\xbcrfe/Alt"')
  assert.deepEqual(await untagged(utf8, 'LIST "" "R&*"'), ['* LIST (\\HasNoChildren) "/" "R&D"'])
  assert.deepEqual(await untagged(rev1, 'LIST "" R*'), ['* LIST (\\HasNoChildren) "/" "R&-D"'])
  assert.deepEqual(await untagged(rev1, 'LIST Entw&APw-rfe/ %'), [
    '* LIST (\\HasNoChildren) "/" "Entw&APw-rfe/Alt"',
  ])
  await ok(utf8, 'DELETE "Entw\xc3\xbcrfe/Alt"', 'UNSUBSCRIBE "Entw\xc3\xbcrfe"')
  assert.deepEqual(await untagged(rev1, 'LSUB "" Entw*'), [])
})
