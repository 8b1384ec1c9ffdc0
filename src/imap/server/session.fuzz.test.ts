import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { ImapTestClient, startImapServer } from '../../../test/support/imap.ts'

// Random command lines over a real socket, in the authenticated and selected states: whatever
// arrives, the session answers and stays usable (a NOOP after each line is answered OK), and
// the process does not crash. Commands that change the framing (IDLE, COMPRESS, STARTTLS,
// AUTHENTICATE, APPEND's literals) or end the session (LOGOUT) are left to their own tests.

const VERBS = [
  'SELECT',
  'EXAMINE',
  'FETCH',
  'UID',
  'STORE',
  'SEARCH',
  'SORT',
  'THREAD',
  'COPY',
  'MOVE',
  'EXPUNGE',
  'LIST',
  'LSUB',
  'STATUS',
  'CREATE',
  'DELETE',
  'RENAME',
  'SUBSCRIBE',
  'ENABLE',
  'CLOSE',
  'UNSELECT',
  'NOOP',
  'CAPABILITY',
  'ID',
  'NAMESPACE',
  'GETQUOTAROOT',
  'CHECK',
]
const WORDS = [
  '1',
  '*',
  '1:*',
  '$',
  '2,4:6',
  '0',
  '4294967296',
  'INBOX',
  'Trash',
  '"a b"',
  '""',
  'NIL',
  '(',
  ')',
  '(FLAGS)',
  'BODY[]',
  'BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.10>',
  'BINARY[1]',
  'ENVELOPE',
  'BODYSTRUCTURE',
  '+FLAGS',
  '(\\Seen)',
  '\\Deleted',
  'ALL',
  'OR',
  'NOT',
  'SUBJECT',
  'UNCHANGEDSINCE',
  '(CHANGEDSINCE 1)',
  'RETURN',
  '(MIN MAX)',
  'CHARSET',
  'UTF-8',
  'KOI8-R',
  'SINCE',
  '1-Jan-2026',
  'REFERENCES',
  '(REVERSE DATE)',
  '%',
  '*',
  'QRESYNC',
  'CONDSTORE',
  '(MESSAGES UNSEEN)',
  'FROM',
  '&AOk-',
  'Entw&APw-rfe',
  '\\',
  '"',
  '{3+}\r\nabc',
  '~{2+}\r\nab',
]
const BANNED = /\b(IDLE|COMPRESS|STARTTLS|AUTHENTICATE|LOGOUT|APPEND|DONE)\b/i

const line = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...VERBS),
      fc.array(fc.constantFrom(...WORDS), { maxLength: 6 }),
      fc.array(fc.constantFrom(' ', ''), { minLength: 7, maxLength: 7 }),
    )
    .map(
      ([verb, words, gaps]) => `${verb}${words.map((w, i) => `${gaps[i] || ' '}${w}`).join('')}`,
    ),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
)

test('random command lines are each answered, and the session stays usable', async (t) => {
  const { port } = await startImapServer(t, { config: { maxErrors: 1_000_000 } })
  const client = await ImapTestClient.connect(t, port)
  await client.readLine()
  assert.match(await client.login(), /^L1 OK/)
  await client.command('s0', 'CREATE Work')
  let count = 0
  await fc.assert(
    fc.asyncProperty(line, fc.boolean(), async (text, select) => {
      fc.pre(!BANNED.test(text) && !/\{\d+\}$/.test(text))
      count += 1
      if (select) await client.command('sel', 'SELECT INBOX')
      client.write(`f${count} ${text}\r\n`)
      const answer = await client.response(`f${count}`, 5000)
      assert.match(answer.tagged, new RegExp(`^f${count} (OK|NO|BAD) `))
      const noop = await client.command('zz', 'NOOP')
      assert.equal(noop.tagged, 'zz OK NOOP completed')
    }),
    { numRuns: 300 },
  )
  assert.ok(count > 100, `only ${count} lines were tried`)
})
