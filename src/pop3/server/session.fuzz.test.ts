import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { ALICE, Pop3TestClient, startPop3Server } from '../../../test/support/pop3.ts'

// Random and mutated command lines over a real socket: every line gets exactly one single-line
// answer, +OK or -ERR, the session stays usable, and nothing in the maildrop changes.

const STATEFUL = /^(QUIT|STLS|AUTH|CAPA|PASS|APOP)\b/i

/** Lines without CR or LF: random octets, or a verb with random arguments. */
const line = fc.oneof(
  fc
    .uint8Array({ maxLength: 300 })
    .map((bytes) =>
      Buffer.from(bytes.filter((byte) => byte !== 0x0a && byte !== 0x0d)).toString('latin1'),
    ),
  fc
    .tuple(
      fc.constantFrom('STAT', 'LIST', 'UIDL', 'RETR', 'TOP', 'DELE', 'RSET', 'NOOP', 'USER', 'x'),
      fc.array(fc.oneof(fc.constantFrom('0', '1', '2', '-1', '99999999999', ''), fc.string()), {
        minLength: 1,
        maxLength: 3,
      }),
    )
    .map(([verb, args]) => `${verb} ${args.join(' ')}`.replace(/[\r\n]/g, ' ')),
)

test('AUTHORIZATION: any line gets one -ERR or +OK line, and login still works after', async (t) => {
  const server = await startPop3Server(t, '[pop3]\nmax_errors = 1000\n')
  await server.deliver(['Subject: kept\r\n\r\nkept\r\n'])
  await fc.assert(
    fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 20 }), async (lines) => {
      const sent = lines.filter((text) => !STATEFUL.test(text.trimStart()))
      const client = await Pop3TestClient.connect(t, server.ports.pop3)
      await client.read()
      client.write(sent.map((text) => `${text}\r\n`).join(''))
      for (const _ of sent) assert.match((await client.read()).status, /^(\+OK|-ERR)/)
      await client.command(`USER ${ALICE.address}`)
      assert.match((await client.command(`PASS ${ALICE.password}`)).status, /has 1 messages/)
      await client.command('QUIT')
      await client.closed()
    }),
    { numRuns: 40 },
  )
})

test('TRANSACTION: single-line commands with any arguments, then RSET and QUIT keep everything', async (t) => {
  const server = await startPop3Server(t, '[pop3]\nmax_errors = 1000\n')
  await server.deliver(['Subject: 1\r\n\r\none\r\n', 'Subject: 2\r\n\r\ntwo\r\n'])
  const inbox = await server.inboxOf(ALICE.address)
  // Lines that would start a multi-line answer (LIST, UIDL, RETR, TOP with good arguments) are
  // left out: their answers have their own tests.
  const single = line.filter((text) => {
    const [verb = '', ...args] = text
      .trimStart()
      .split(' ')
      .filter((part) => part !== '')
    if (STATEFUL.test(verb)) return false
    if (/^(LIST|UIDL)$/i.test(verb)) return args.length > 0
    return !/^(RETR|TOP)$/i.test(verb)
  })
  await fc.assert(
    fc.asyncProperty(fc.array(single, { minLength: 1, maxLength: 20 }), async (lines) => {
      const client = await Pop3TestClient.connect(t, server.ports.pop3)
      assert.ok((await client.login()).isOk)
      client.write(lines.map((text) => `${text}\r\n`).join(''))
      for (const _ of lines) assert.match((await client.read()).status, /^(\+OK|-ERR)/)
      assert.ok((await client.command('RSET')).isOk)
      assert.match((await client.command('QUIT')).status, /\(2 messages left\)$/)
      await client.closed()
    }),
    { numRuns: 40 },
  )
  assert.equal((await server.store.getMailboxStatus(inbox)).messages, 2)
})
