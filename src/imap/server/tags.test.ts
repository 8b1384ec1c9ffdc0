import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ImapTestClient, startImapServer } from '../../../test/support/imap.ts'

// Which tag a response completes (RFC 9051 §2.2.1, §7.1.5). Found by the torture suite's IMAP
// fuzzer (test/torture/fuzz-imap.test.ts): a command whose first word held a character no tag
// may have was answered under the part before that character, "nz~ BAD" for "nz~\u00fcm.10 …",
// which completes a command tagged "nz~" that the client may have in flight.

test('a first word that is no tag is answered with an untagged BAD, not under its prefix', async (t) => {
  const { port } = await startImapServer(t)
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  for (const line of [
    'nz~\xfcm.10 NOOP',
    'a+b NOOP',
    'a(b NOOP',
    'a{3} NOOP',
    'a"b NOOP',
    'a%b NOOP',
  ]) {
    client.write(Buffer.from(`${line}\r\n`, 'latin1'))
    assert.equal(await client.readLine(), '* BAD Missing or invalid tag', line)
  }
  // A tag alone on its line is a tag, and the command after it is what is missing.
  assert.equal((await client.command('x1', '')).tagged, 'x1 BAD expected an atom')
  client.write('x2\r\n')
  assert.equal(await client.readLine(), 'x2 BAD expected a space')
  // Tags may hold "]" and other ASTRING-CHARs.
  assert.equal((await client.command('a]b.~1', 'NOOP')).tagged, 'a]b.~1 OK NOOP completed')
})
