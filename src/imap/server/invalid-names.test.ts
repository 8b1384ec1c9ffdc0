import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ImapTestClient, startImapServer } from '../../../test/support/imap.ts'

// Mailbox names no mailbox can have ("a//b", "../x", "x*", a control character), in every
// command that takes a mailbox name: an ordinary NO, with the rest of the command still parsed
// (BAD for a syntax error after the name). Found by the torture suite's IMAP fuzzer
// (test/torture/fuzz-imap.test.ts): APPEND, COPY, MOVE and GETQUOTAROOT let the store's
// InvalidNameError escape, which the session logs as a server bug and answers
// "NO [UNAVAILABLE] Temporary server error", telling the client to try again later.

const BAD_NAMES = ['"a//b"', '"../x"', '"x*"', '"fz/"', '{4}\r\nx/..']

async function loggedIn(t: Parameters<typeof startImapServer>[0]) {
  // Every refusal counts toward the session's error limit; this test makes many on purpose.
  const { port, store } = await startImapServer(t, { config: { maxErrors: 1000 } })
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.match(await client.login(), /^L1 OK /)
  return { client, store }
}

/** Sends a command as written, waiting for "+" after a first line that ends in a literal {n}. */
async function send(client: ImapTestClient, tag: string, text: string) {
  const [first, ...rest] = text.split('\r\n')
  if (rest.length === 0 || first?.endsWith('+}')) return client.command(tag, text)
  client.write(Buffer.from(`${tag} ${first}\r\n`, 'latin1'))
  assert.equal(await client.readLine(), '+ Ready for literal data')
  client.write(Buffer.from(`${rest.join('\r\n')}\r\n`, 'latin1'))
  return client.response(tag)
}

test('APPEND, COPY, MOVE and GETQUOTAROOT answer a name no mailbox can have with NO', async (t) => {
  const { client } = await loggedIn(t)
  assert.match(
    (await client.command('a0', 'APPEND INBOX {14+}\r\nSubject: x\r\n\r\n')).tagged,
    /^a0 OK \[APPENDUID /,
  )
  assert.match((await client.command('s0', 'SELECT INBOX')).tagged, /^s0 OK /)
  for (const [index, name] of BAD_NAMES.entries()) {
    const append = await send(client, `a${index}`, `APPEND ${name} {14+}\r\nSubject: y\r\n\r\n`)
    assert.match(append.tagged, new RegExp(`^a${index} NO \\[CANNOT\\] `), name)
    for (const verb of ['COPY', 'MOVE', 'UID COPY', 'UID MOVE']) {
      const copy = await send(client, `c${index}`, `${verb} 1 ${name}`)
      assert.match(copy.tagged, new RegExp(`^c${index} NO \\[CANNOT\\] `), `${verb} ${name}`)
    }
    const quota = await send(client, `q${index}`, `GETQUOTAROOT ${name}`)
    assert.equal(quota.tagged, `q${index} NO [NONEXISTENT] No such mailbox`, name)
    // The text names what was wrong without control characters.
    for (const line of [append.tagged, quota.tagged]) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them is the point
      assert.doesNotMatch(line, /[\u0000-\u001f\u007f]/)
    }
  }
  // Whatever the name, a syntax error later in the command is still BAD.
  assert.match((await client.command('b1', 'COPY 1 "a//b" extra')).tagged, /^b1 BAD /)
  assert.match((await client.command('b2', 'APPEND "a//b" (\\Seen')).tagged, /^b2 BAD /)
  assert.match((await client.command('b3', 'GETQUOTAROOT "../x" x')).tagged, /^b3 BAD /)
  // The session is fine and the message is where it was.
  const fetch = await client.command('f1', 'FETCH 1:* (FLAGS)')
  assert.equal(fetch.untagged.length, 1)
  assert.match(fetch.tagged, /^f1 OK /)
})

test('a name with a control character is refused without echoing the character', async (t) => {
  const { client } = await loggedIn(t)
  // In UTF-8 names (RFC 6855) a control character reaches the store's rules, whose message
  // quotes the name.
  assert.match((await client.command('e1', 'ENABLE UTF8=ACCEPT')).tagged, /^e1 OK /)
  const created = await send(client, 'c1', 'CREATE {3}\r\na\x00b')
  const appended = await send(client, 'a1', 'APPEND {3}\r\na\x01b {14+}\r\nSubject: y\r\n\r\n')
  for (const line of [created.tagged, appended.tagged]) {
    assert.match(line, /^[ac]1 NO \[CANNOT\] /)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them is the point
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f]/)
  }
})
