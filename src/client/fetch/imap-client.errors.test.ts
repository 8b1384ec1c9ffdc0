// ImapClient against a scripted server: the paths a real server seldom takes (LOGIN with
// literals, LOGINDISABLED, no SASL-IR, no UIDPLUS, IDLE keepalives) and broken or hostile
// responses (literals and lines past the bounds, a connection cut mid-literal, garbage).
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type FakeSession, startFakeServer } from './fake-server.ts'
import { ImapClient } from './imap-client.ts'
import { MailClientError } from './mail-socket.ts'

/** A fake IMAP server that greets with `capabilities`, then runs `script`. */
function fakeImap(t: TestContext, capabilities: string, script: (s: FakeSession) => Promise<void>) {
  return startFakeServer(t, async (session) => {
    session.write(`* OK [CAPABILITY IMAP4rev1 ${capabilities}] fake ready\r\n`)
    await script(session)
  })
}

/** Reads a command that matches `pattern`; its tag. */
async function command(session: FakeSession, pattern: RegExp): Promise<string> {
  return (await session.expect(pattern)).split(' ')[0] ?? ''
}

/** LOGIN "user" "pass" answered OK, with the capabilities after login in the OK. */
async function login(session: FakeSession, capabilities = 'IDLE'): Promise<void> {
  const tag = await command(session, /^A\d+ LOGIN "user" "pass"$/)
  session.write(`${tag} OK [CAPABILITY IMAP4rev1 ${capabilities}] logged in\r\n`)
}

async function connect(t: TestContext, port: number, options: { maxMessageOctets?: number } = {}) {
  const client = await ImapClient.connect({ host: '127.0.0.1', port, security: 'none', ...options })
  t.after(() => client.close())
  await client.login('user', 'pass')
  return client
}

const isKind = (kind: string, pattern: RegExp) => (error: unknown) =>
  error instanceof MailClientError && error.kind === kind && pattern.test(error.message)

test('LOGIN quotes what it can and sends the rest as literals, after "+" without LITERAL+', async (t) => {
  const { port, sessions } = await fakeImap(t, '', async (session) => {
    const tag = await command(session, /^A1 LOGIN "us\\"er\\\\" \{6\}$/)
    session.write('+ go ahead\r\n')
    assert.equal((await session.readBytes(6)).toString('utf8'), 'pässw')
    await session.expect(/^$/)
    session.write(`${tag} OK logged in\r\n`)
    const next = await command(session, /^A2 CAPABILITY$/)
    session.write(`* CAPABILITY IMAP4rev1 IDLE\r\n${next} OK done\r\n`)
  })
  const client = await ImapClient.connect({ host: '127.0.0.1', port, security: 'none' })
  t.after(() => client.close())
  await client.login('us"er\\', 'pässw')
  assert.deepEqual([...client.capabilities], ['IMAP4REV1', 'IDLE'])
  assert.equal(sessions[0]?.lines.length, 3)
})

test('with LITERAL+ the literal goes at once; LOGINDISABLED without PLAIN sends nothing', async (t) => {
  const { port } = await fakeImap(t, 'LITERAL+', async (session) => {
    const tag = await command(session, /^A1 LOGIN "user" \{4\+\}$/)
    assert.equal((await session.readBytes(4)).toString('latin1'), 'a\r\nb')
    await session.expect(/^$/)
    session.write(`${tag} NO [AUTHENTICATIONFAILED] nope\r\n`)
  })
  const client = await ImapClient.connect({ host: '127.0.0.1', port, security: 'none' })
  t.after(() => client.close())
  await assert.rejects(
    client.login('user', 'a\r\nb'),
    isKind('auth', /NO \[AUTHENTICATIONFAILED\] nope/),
  )

  const disabled = await fakeImap(t, 'LOGINDISABLED AUTH=SCRAM-SHA-256', async () => {})
  const refused = await ImapClient.connect({
    host: '127.0.0.1',
    port: disabled.port,
    security: 'none',
  })
  t.after(() => refused.close())
  await assert.rejects(refused.login('user', 'pass'), isKind('auth', /LOGINDISABLED/))
  assert.deepEqual(disabled.sessions[0]?.lines, [])
})

test('AUTHENTICATE PLAIN without SASL-IR sends the response after the "+"', async (t) => {
  const expected = Buffer.from('\0user\0pass').toString('base64')
  const { port } = await fakeImap(t, 'AUTH=PLAIN', async (session) => {
    const tag = await command(session, /^A1 AUTHENTICATE PLAIN$/)
    session.write('+ \r\n')
    await session.expect(new RegExp(`^${expected}$`))
    session.write(`${tag} OK [CAPABILITY IMAP4rev1 UIDPLUS] welcome\r\n`)
  })
  const client = await ImapClient.connect({ host: '127.0.0.1', port, security: 'none' })
  t.after(() => client.close())
  await client.login('user', 'pass')
  assert.ok(client.capabilities.has('UIDPLUS'))
})

test('starttls without STARTTLS is kind tls; a BYE greeting is kind connect', async (t) => {
  const { port, sessions } = await fakeImap(t, 'AUTH=PLAIN', async () => {})
  await assert.rejects(
    ImapClient.connect({ host: '127.0.0.1', port, security: 'starttls' }),
    isKind('tls', /does not offer STARTTLS/),
  )
  assert.deepEqual(sessions[0]?.lines, [])
  const bye = await startFakeServer(t, async (session) => {
    session.write('* BYE too many connections\r\n')
  })
  await assert.rejects(
    ImapClient.connect({ host: '127.0.0.1', port: bye.port, security: 'none' }),
    isKind('connect', /too many connections/),
  )
})

test('a literal announced past maxMessageOctets is kind protocol, before it is read', async (t) => {
  const { port } = await fakeImap(t, '', async (session) => {
    await login(session)
    const tag = await command(session, /^A\d+ UID FETCH 5 \(BODY\.PEEK\[\]\)$/)
    session.write(`* 1 FETCH (UID 5 BODY[] {5000}\r\n${'x'.repeat(5000)})\r\n${tag} OK\r\n`)
  })
  const client = await connect(t, port, { maxMessageOctets: 1000 })
  await assert.rejects(client.fetchMessage(5), isKind('protocol', /literal of 5000 octets/))
})

test('a response line over 64 KiB is kind protocol; so is a cut one, kind closed', async (t) => {
  const { port } = await fakeImap(t, '', async (session) => {
    await login(session)
    await command(session, /^A\d+ UID FETCH 1:\* \(UID RFC822\.SIZE\)$/)
    session.write(`* 1 FETCH (UID 1 RFC822.SIZE 10 X-JUNK "${'j'.repeat(70_000)}")\r\n`)
  })
  const client = await connect(t, port)
  await assert.rejects(client.listMessages(), isKind('protocol', /longer than 65538 octets/))

  const cut = await fakeImap(t, '', async (session) => {
    await login(session)
    await command(session, /^A\d+ UID FETCH 5 /)
    session.write('* 1 FETCH (UID 5 BODY[] {100}\r\nSubject: half\r\n')
    session.end()
  })
  const second = await connect(t, cut.port)
  await assert.rejects(second.fetchMessage(5), isKind('closed', /UID FETCH/))
})

for (const [name, response] of [
  ['an unterminated quoted string', '* 1 FETCH (UID 5 BODY[] "abc)'],
  ['a list never closed', '* 1 FETCH (UID 5 BODY[] ((NIL)'],
  ['a bad tag', '{x} OK'],
  ['a tagged response without a status', 'A2 WHATEVER'],
  ['another command tag', 'A77 OK done'],
  ['a stray continuation', '+ more please'],
] as const) {
  test(`garbage is kind protocol: ${name}`, async (t) => {
    const { port } = await fakeImap(t, '', async (session) => {
      await login(session)
      await command(session, /^A2 UID FETCH 5 /)
      session.write(`${response}\r\n`)
      await session.readLine()
    })
    const client = await connect(t, port)
    await assert.rejects(client.fetchMessage(5), isKind('protocol', /./))
  })
}

test('a NO is kind no with its text; a status text ending in {5} is not a literal', async (t) => {
  const { port } = await fakeImap(t, '', async (session) => {
    await login(session)
    const tag = await command(session, /^A2 UID FETCH 5 /)
    session.write(`${tag} NO [SERVERBUG] could not read {5}\r\n`)
    const next = await command(session, /^A3 UID FETCH 6 /)
    session.write(`* 9 FETCH (FLAGS (\\Seen))\r\n${next} OK nothing\r\n`)
  })
  const client = await connect(t, port)
  await assert.rejects(
    client.fetchMessage(5),
    isKind('no', /UID FETCH failed: NO \[SERVERBUG\] could not read \{5\}/),
  )
  await assert.rejects(client.fetchMessage(6), isKind('no', /no message with UID 6/))
})

test('select: modified UTF-7, unrelated untagged responses tolerated, UIDVALIDITY required', async (t) => {
  const { port } = await fakeImap(t, '', async (session) => {
    await login(session)
    let tag = await command(session, /^A2 SELECT "Entw&APw-rfe"$/)
    session.write('* 2 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [ALERT] hello\r\n')
    session.write('* FLAGS (\\Seen \\Deleted)\r\n* LIST () "/" x\r\n')
    session.write(`${tag} OK [READ-WRITE] done\r\n`)
    tag = await command(session, /^A3 UID FETCH 1:\* \(UID RFC822\.SIZE\)$/)
    session.write('* 2 FETCH (RFC822.SIZE 20 UID 9)\r\n* 1 FETCH (UID 3 RFC822.SIZE 10)\r\n')
    session.write(`* 1 FETCH (FLAGS (\\Seen))\r\n* 3 EXISTS\r\n${tag} OK done\r\n`)
    tag = await command(session, /^A4 SELECT "INBOX"$/)
    session.write(`* 0 EXISTS\r\n${tag} OK done\r\n`)
  })
  const client = await connect(t, port)
  assert.deepEqual(await client.select('Entwürfe'), { uidValidity: 42, uidNext: null, exists: 2 })
  assert.deepEqual(await client.listMessages(), [
    { uid: 3, size: 10 },
    { uid: 9, size: 20 },
  ])
  assert.equal(client.exists, 3)
  await assert.rejects(client.select('INBOX'), isKind('protocol', /no UIDVALIDITY/))
})

test('without UIDPLUS deleteMessages stores \\Deleted and sends EXPUNGE', async (t) => {
  const { port, sessions } = await fakeImap(t, '', async (session) => {
    await login(session)
    const tag = await command(session, /^A2 UID STORE 1:3,7 \+FLAGS\.SILENT \(\\Deleted\)$/)
    session.write(`${tag} OK stored\r\n`)
    const next = await command(session, /^A3 EXPUNGE$/)
    session.write(`* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n${next} OK expunged\r\n`)
  })
  const client = await connect(t, port)
  await client.deleteMessages([7, 2, 1, 3, 2])
  assert.equal(sessions[0]?.lines.length, 3)
})

test('idle: IDLE not announced is kind protocol; keepalives and a shrinking count do not wake it', async (t) => {
  const { port, sessions } = await fakeImap(t, '', async (session) => {
    await login(session, 'IMAP4rev1 IDLE')
    let tag = await command(session, /^A2 SELECT "INBOX"$/)
    session.write(`* 5 EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n${tag} OK done\r\n`)
    tag = await command(session, /^A3 IDLE$/)
    session.write('+ idling\r\n* OK Still here\r\n* 4 EXPUNGE\r\n* 4 EXISTS\r\n+ still\r\n')
    await session.expect(/^DONE$/)
    session.write(`${tag} OK IDLE terminated\r\n`)
    tag = await command(session, /^A4 IDLE$/)
    // One more expunged and one new: the count is back where it was, but there is new mail.
    session.write('+ idling\r\n* 1 EXPUNGE\r\n* 4 EXISTS\r\n')
    await session.expect(/^DONE$/)
    session.write(`* 5 EXISTS\r\n${tag} OK IDLE terminated\r\n`)
  })
  const client = await connect(t, port)
  await client.select('INBOX')
  assert.equal(await client.idle(300), 'timeout')
  assert.equal(client.exists, 4)
  assert.equal(await client.idle(10_000), 'exists')
  assert.equal(client.exists, 5)
  assert.deepEqual(sessions[0]?.lines.slice(2), ['A3 IDLE', 'DONE', 'A4 IDLE', 'DONE'])

  const without = await fakeImap(t, '', async (session) => login(session, 'UIDPLUS'))
  const plain = await connect(t, without.port)
  await assert.rejects(plain.idle(1000), isKind('protocol', /does not support IDLE/))
})
