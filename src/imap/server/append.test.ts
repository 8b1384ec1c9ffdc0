import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { test } from 'node:test'
import { createDeflateRaw, createInflateRaw } from 'node:zlib'
import { ALICE, ImapTestClient, startImapServer } from '../../../test/support/imap.ts'
import { mailboxMessages } from '../../../test/support/mailbox.ts'

// APPEND with flags, dates and MULTIAPPEND (RFC 9051 §6.3.12, RFC 3502, RFC 4315 APPENDUID),
// IDLE (RFC 2177), and SEARCH with ESEARCH and SEARCHRES (RFC 9051 §6.4.4, RFC 4731, RFC 5182).

const mail = (subject: string, body = 'Hello there.') =>
  `From: bob@example.org\r\nSubject: ${subject}\r\nDate: Wed, 25 Nov 2026 08:00:00 +0100\r\n\r\n${body}\r\n`

async function session(t: TestContext, port: number, enable?: string) {
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.match(await client.login(), /^L1 OK/)
  if (enable !== undefined) await client.command('E1', `ENABLE ${enable}`)
  return client
}

/** Sends an APPEND with synchronizing literals (binary strings), waiting for each "+". */
async function appendSync(client: ImapTestClient, tag: string, head: string, messages: string[]) {
  let line = `${tag} ${head}`
  for (const message of messages) {
    client.write(`${line} {${message.length}}\r\n`)
    assert.match(await client.readLine(), /^\+ /)
    client.write(Buffer.from(message, 'latin1'))
    line = ''
  }
  client.write('\r\n')
  return client.response(tag)
}

test('APPEND: flags and date kept, APPENDUID, TRYCREATE, bytes stored exactly', async (t) => {
  const { port, store } = await startImapServer(t)
  const client = await session(t, port)
  const first = mail('one', 'caf\xc3\xa9 8-bit body')
  const answer = await appendSync(
    client,
    'a1',
    'APPEND INBOX (\\Seen $Label) "05-Nov-2026 09:30:00 +0200"',
    [first],
  )
  assert.match(answer.tagged, /^a1 OK \[APPENDUID \d+ 1\] APPEND completed$/)
  const stored = await mailboxMessages(store, ALICE.address)
  assert.equal(stored[0]?.toString('latin1'), first)
  await client.command('s1', 'SELECT INBOX')
  const fetched = await client.command('f1', 'FETCH 1 (FLAGS INTERNALDATE)')
  assert.equal(
    fetched.untagged[0],
    '* 1 FETCH (FLAGS (\\Seen $Label \\Recent) INTERNALDATE " 5-Nov-2026 07:30:00 +0000")',
  )
  // LITERAL+ and MULTIAPPEND: two messages in one command, one transaction, one APPENDUID set.
  const two = mail('two')
  const three = mail('three')
  client.write(
    `a2 APPEND INBOX {${two.length}+}\r\n${two} (\\Draft) {${three.length}+}\r\n${three}\r\n`,
  )
  const multi = await client.response('a2')
  assert.match(multi.tagged, /^a2 OK \[APPENDUID \d+ 2:3\] APPEND completed$/)
  assert.ok(multi.untagged.includes('* 3 EXISTS'), multi.untagged.join('\n'))
  assert.equal(
    (await client.command('a3', 'APPEND Nowhere {1+}\r\nx')).tagged,
    'a3 NO [TRYCREATE] No such mailbox',
  )
  assert.match((await client.command('a4', 'APPEND INBOX (\\Recent) {1+}\r\nx')).tagged, /^a4 BAD/)
  assert.match(
    (await client.command('a5', 'APPEND INBOX "31-Feb-2026 00:00:00 +0000" {1+}\r\nx')).tagged,
    /^a5 BAD/,
  )
  assert.equal(
    (await client.command('a6', 'APPEND INBOX {0+}\r\n')).tagged,
    'a6 NO An empty message cannot be appended',
  )
})

test('APPEND: a literal over APPENDLIMIT is refused before it is sent', async (t) => {
  const { port } = await startImapServer(t, { config: { maxMessageSize: 1000 } })
  const client = await session(t, port)
  client.write('a1 APPEND INBOX {1001}\r\n')
  assert.equal(await client.readLine(), 'a1 NO [TOOBIG] Literal larger than 1000 octets')
  assert.equal((await client.command('a2', 'NOOP')).tagged, 'a2 OK NOOP completed')
})

test('IDLE: a delivery is reported at once, expunges too; DONE ends it', async (t) => {
  const { port, store } = await startImapServer(t)
  const client = await session(t, port, 'IMAP4rev2')
  const other = await session(t, port)
  await other.command('p1', `APPEND INBOX {${mail('x').length}+}\r\n${mail('x')}`)
  await client.command('s1', 'SELECT INBOX')
  await other.command('s2', 'SELECT INBOX')
  client.write('i1 IDLE\r\n')
  assert.equal(await client.readLine(), '+ idling')
  const account = await store.getAccount(ALICE.address)
  const inbox = account && (await store.getMailbox(account.id, 'INBOX'))
  const started = Date.now()
  await store.deliver({ bytes: Buffer.from(mail('y')) }, [{ mailboxId: inbox?.id ?? 0 }])
  assert.equal(await client.readLine(1000), '* 2 EXISTS')
  const latency = Date.now() - started
  assert.ok(latency < 1000, `EXISTS after ${latency} ms`)
  await other.command('p2', 'STORE 1 +FLAGS (\\Deleted)')
  assert.equal(await client.readLine(), '* 1 FETCH (FLAGS (\\Deleted))')
  await other.command('p3', 'EXPUNGE')
  assert.equal(await client.readLine(), '* 1 EXPUNGE')
  client.write('DONE\r\n')
  assert.equal(await client.readLine(), 'i1 OK IDLE terminated')
  client.write('i2 IDLE\r\n')
  assert.equal(await client.readLine(), '+ idling')
  client.write('NOPE\r\n')
  assert.equal(await client.readLine(), 'i2 BAD Expected DONE to end IDLE')
})

test('SEARCH: flags, sizes, dates, text, OR/NOT, UID; ESEARCH and SAVE', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port)
  const messages = [
    mail('apple pie', 'Bake at 180.'),
    mail('banana', 'Quokka facts.'),
    mail('cherry'),
  ]
  for (const [index, message] of messages.entries()) {
    const flags = index === 1 ? '(\\Flagged) ' : ''
    await client.command(`a${index}`, `APPEND INBOX ${flags}{${message.length}+}\r\n${message}`)
  }
  await client.command('s1', 'SELECT INBOX')
  const ask = async (tag: string, criteria: string) =>
    (await client.command(tag, criteria)).untagged.filter((line) => /SEARCH/.test(line))
  assert.deepEqual(await ask('q1', 'SEARCH FLAGGED'), ['* SEARCH 2'])
  assert.deepEqual(await ask('q2', 'SEARCH OR SUBJECT apple BODY quokka'), ['* SEARCH 1 2'])
  assert.deepEqual(await ask('q3', 'SEARCH NOT (FLAGGED) SINCE 1-Jan-2000'), ['* SEARCH 1 3'])
  assert.deepEqual(await ask('q4', 'UID SEARCH 2:* UNFLAGGED'), ['* SEARCH 3'])
  assert.deepEqual(await ask('q5', 'SEARCH CHARSET UTF-8 TEXT "QUOKKA"'), ['* SEARCH 2'])
  assert.deepEqual(await ask('q6', `SEARCH LARGER ${messages[2]?.length ?? 0}`), ['* SEARCH 1 2'])
  assert.deepEqual(await ask('q7', 'SEARCH RETURN (MIN MAX COUNT) ALL'), [
    '* ESEARCH (TAG "q7") MIN 1 MAX 3 COUNT 3',
  ])
  assert.deepEqual(await ask('q8', 'SEARCH RETURN (SAVE) SUBJECT banana'), [])
  assert.deepEqual((await client.command('q9', 'FETCH $ UID')).untagged, ['* 2 FETCH (UID 2)'])
  assert.equal(
    (await client.command('q10', 'SEARCH CHARSET KOI8-X ALL')).tagged,
    'q10 NO [BADCHARSET (UTF-8 US-ASCII)] Unknown charset',
  )
  assert.match((await client.command('q11', 'SEARCH FROBNICATE')).tagged, /^q11 BAD/)
})

test('SEARCH in IMAP4rev2 answers ESEARCH', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port, 'IMAP4rev2')
  await client.command('a1', `APPEND INBOX {${mail('x').length}+}\r\n${mail('x')}`)
  await client.command('s1', 'SELECT INBOX')
  assert.deepEqual((await client.command('q1', 'UID SEARCH ALL')).untagged, [
    '* ESEARCH (TAG "q1") UID ALL 1',
  ])
})

test('SORT and THREAD over the wire (RFC 5256): criteria, REVERSE, UID forms, both algorithms', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port)
  const messages = [
    'From: carol@example.org\r\nSubject: Re: lunch\r\nDate: Tue, 24 Nov 2026 12:00:00 +0000\r\nMessage-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nReferences: <a@x>\r\n\r\nyes\r\n',
    'From: alice@example.org\r\nSubject: lunch\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\nMessage-ID: <a@x>\r\n\r\nlunch?\r\n',
    'From: bob@example.org\r\nSubject: budget\r\nDate: Wed, 25 Nov 2026 12:00:00 +0000\r\nMessage-ID: <c@x>\r\n\r\nnumbers, numbers and more numbers\r\n',
  ]
  for (const [index, message] of messages.entries()) {
    await client.command(`a${index}`, `APPEND INBOX {${message.length}+}\r\n${message}`)
  }
  await client.command('s1', 'SELECT INBOX')
  const line = async (tag: string, text: string) =>
    (await client.command(tag, text)).untagged.find((l) => /^\* (SORT|THREAD)/.test(l))
  assert.equal(await line('o1', 'SORT (DATE) UTF-8 ALL'), '* SORT 2 1 3')
  assert.equal(await line('o2', 'SORT (REVERSE SIZE) US-ASCII ALL'), '* SORT 1 3 2')
  assert.equal(await line('o3', 'SORT (SUBJECT FROM) UTF-8 ALL'), '* SORT 3 2 1')
  assert.equal(await line('o4', 'UID SORT (FROM) UTF-8 NOT FROM bob'), '* SORT 2 1')
  assert.equal(await line('o5', 'THREAD REFERENCES UTF-8 ALL'), '* THREAD (2 1)(3)')
  assert.equal(await line('o6', 'THREAD ORDEREDSUBJECT UTF-8 ALL'), '* THREAD (2 1)(3)')
  assert.match((await client.command('o7', 'SORT (WEIGHT) UTF-8 ALL')).tagged, /^o7 BAD/)
  assert.match((await client.command('o8', 'THREAD SPAGHETTI UTF-8 ALL')).tagged, /^o8 BAD/)
  assert.equal(
    (await client.command('o9', 'SORT (DATE) KOI8-X ALL')).tagged,
    'o9 NO [BADCHARSET (UTF-8 US-ASCII)] Unknown charset',
  )
})

test('QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA, SETQUOTA refused, APPEND past it [OVERQUOTA]', async (t) => {
  const { port, store } = await startImapServer(t)
  const client = await session(t, port)
  const root = await client.command('q1', 'GETQUOTAROOT INBOX')
  assert.deepEqual(root.untagged, ['* QUOTAROOT "INBOX" ""', '* QUOTA "" ()'])
  await store.setQuota(ALICE.address, { storage: 4096, messages: 2 })
  const one = mail('one')
  await client.command('a1', `APPEND INBOX {${one.length}+}\r\n${one}`)
  assert.deepEqual((await client.command('q2', 'GETQUOTA ""')).untagged, [
    '* QUOTA "" (STORAGE 1 4 MESSAGE 1 2)',
  ])
  const big = mail('big', 'x'.repeat(5000))
  assert.equal(
    (await client.command('a2', `APPEND INBOX {${big.length}+}\r\n${big}`)).tagged,
    'a2 NO [OVERQUOTA] Quota exceeded',
  )
  assert.equal(
    (
      await client.command(
        'a3',
        `APPEND INBOX {${one.length}+}\r\n${one} {${one.length}+}\r\n${one}`,
      )
    ).tagged,
    'a3 NO [OVERQUOTA] Quota exceeded',
  )
  assert.equal(
    (await client.command('q3', 'GETQUOTA "other"')).tagged,
    'q3 NO [NONEXISTENT] No such quota root',
  )
  assert.equal(
    (await client.command('q4', 'SETQUOTA "" (STORAGE 100)')).tagged,
    'q4 NO [NOPERM] Quotas are set by the server administrator',
  )
  assert.match((await client.command('q5', 'SETQUOTA "" (STORAGE)')).tagged, /^q5 BAD/)
})

test('COMPRESS=DEFLATE (RFC 4978): the OK in plain, then both directions deflated', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port)
  const body = mail('squeeze', 'z'.repeat(20_000))
  await client.command('a1', `APPEND INBOX {${body.length}+}\r\n${body}`)
  client.write('c1 COMPRESS DEFLATE\r\n')
  assert.equal(await client.readLine(), 'c1 OK DEFLATE active')
  const socket = client.socket
  socket.removeAllListeners('data')
  const deflate = createDeflateRaw()
  const inflate = createInflateRaw()
  deflate.pipe(socket)
  // The test client's socket decodes to latin1 strings, which map back to the octets exactly.
  socket.on('data', (chunk: string | Buffer) =>
    inflate.write(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk),
  )
  let received = Buffer.alloc(0)
  let onData = () => {}
  inflate.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk])
    onData()
  })
  const send = (text: string) => {
    deflate.write(text)
    deflate.flush()
  }
  const until = (marker: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${marker}: ${received}`)), 5000)
      onData = () => {
        if (!received.toString('latin1').includes(marker)) return
        clearTimeout(timer)
        resolve(received.toString('latin1'))
      }
      onData()
    })
  send('c2 SELECT INBOX\r\nc3 FETCH 1 BODY.PEEK[]\r\n')
  const text = await until('c3 OK')
  assert.ok(text.includes('* 1 EXISTS'))
  assert.ok(text.includes(`BODY[] {${body.length}}\r\n${body})`))
  send('c4 COMPRESS DEFLATE\r\n')
  assert.match(await until('c4 '), /c4 NO \[COMPRESSIONACTIVE\]/)
  send('c5 LOGOUT\r\n')
  await until('c5 OK')
})

test('COMPRESS: input that does not inflate closes the connection, and the server goes on', async (t) => {
  const { port } = await startImapServer(t)
  const client = await session(t, port)
  client.write('c1 COMPRESS DEFLATE\r\n')
  assert.equal(await client.readLine(), 'c1 OK DEFLATE active')
  client.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x13, 0x37]))
  await client.closed()
  const next = await session(t, port)
  assert.equal((await next.command('n1', 'NOOP')).tagged, 'n1 OK NOOP completed')
})

test('UTF8=ACCEPT (RFC 6855): APPEND UTF8 (literal8), UTF-8 mailbox names both ways', async (t) => {
  const { port, store } = await startImapServer(t)
  const client = await session(t, port, 'UTF8=ACCEPT')
  const octets = Buffer.from('From: bob@example.org\r\nSubject: Grüße\r\n\r\nSchöne Grüße\r\n')
  const text = octets.toString('latin1')
  const name = Buffer.from('Entwürfe', 'utf8').toString('latin1')
  assert.match((await client.command('c1', `CREATE {${name.length}+}\r\n${name}`)).tagged, /^c1 OK/)
  const appended = await client.command(
    'a1',
    `APPEND {${name.length}+}\r\n${name} UTF8 (~{${text.length}+}\r\n${text})`,
  )
  assert.match(appended.tagged, /^a1 OK \[APPENDUID \d+ 1\]/)
  const stored = await mailboxMessages(store, ALICE.address, 'Entwürfe')
  assert.deepEqual(stored, [octets])
  const listed = await client.command('l1', 'LIST "" "Entw*"')
  assert.deepEqual(listed.untagged, [`* LIST (\\HasNoChildren) "/" {${name.length}}\r\n${name}`])
  const other = await session(t, port)
  const legacy = await other.command('l2', 'LIST "" "Entw*"')
  assert.deepEqual(legacy.untagged, ['* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"'])
})
