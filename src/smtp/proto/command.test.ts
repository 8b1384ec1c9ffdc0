import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type CommandParse, parseCommand, type SmtpCommand, type SmtpVerb } from './command.ts'
import type { SmtpPath } from './path.ts'

function parse(line: string | Buffer): CommandParse {
  return parseCommand(typeof line === 'string' ? Buffer.from(line, 'utf8') : line)
}

function accepted(line: string | Buffer): SmtpCommand {
  const result = parse(line)
  assert.ok(result.kind === 'command', `${show(line)} was refused: ${JSON.stringify(result)}`)
  return result.command
}

function show(line: string | Buffer): string {
  return typeof line === 'string' ? JSON.stringify(line) : `<${line.toString('hex')}>`
}

test('parseCommand reads each verb, in any case', () => {
  const cases: [string, SmtpCommand][] = [
    ['EHLO mx.example', { verb: 'EHLO', domain: 'mx.example' }],
    ['ehlo mx.example', { verb: 'EHLO', domain: 'mx.example' }],
    ['HeLo mx.example', { verb: 'HELO', domain: 'mx.example' }],
    ['EHLO [192.0.2.1]', { verb: 'EHLO', domain: '[192.0.2.1]' }],
    // Only the first word is kept; junk host names are tolerated as Postfix and Exim do.
    ['EHLO  mx.example  trailing words', { verb: 'EHLO', domain: 'mx.example' }],
    ['EHLO bad_name!', { verb: 'EHLO', domain: 'bad_name!' }],
    ['DATA', { verb: 'DATA' }],
    ['data', { verb: 'DATA' }],
    ['DATA ', { verb: 'DATA' }],
    ['RSET', { verb: 'RSET' }],
    ['rSeT', { verb: 'RSET' }],
    ['QUIT', { verb: 'QUIT' }],
    ['quit', { verb: 'QUIT' }],
    ['STARTTLS', { verb: 'STARTTLS' }],
    ['StartTls', { verb: 'STARTTLS' }],
    ['NOOP', { verb: 'NOOP' }],
    ['noop', { verb: 'NOOP' }],
    ['NOOP anything at all: <>', { verb: 'NOOP' }],
    ['HELP', { verb: 'HELP', topic: '' }],
    ['help MAIL', { verb: 'HELP', topic: 'MAIL' }],
    ['HELP  a b  ', { verb: 'HELP', topic: 'a b' }],
    ['VRFY postmaster', { verb: 'VRFY', argument: 'postmaster' }],
    ['vrfy  Some One  ', { verb: 'VRFY', argument: 'Some One' }],
    ['EXPN staff', { verb: 'EXPN', argument: 'staff' }],
    ['BDAT 0', { verb: 'BDAT', size: 0, isLast: false }],
    ['BDAT 1000 LAST', { verb: 'BDAT', size: 1000, isLast: true }],
    ['bdat 5 last', { verb: 'BDAT', size: 5, isLast: true }],
    ['BDAT 7 Last', { verb: 'BDAT', size: 7, isLast: true }],
    ['BDAT 0 LAST', { verb: 'BDAT', size: 0, isLast: true }],
    // 15 digits is the most the parser takes: still a safe integer.
    ['BDAT 999999999999999', { verb: 'BDAT', size: 999_999_999_999_999, isLast: false }],
    ['BDAT 000000000000001 LAST', { verb: 'BDAT', size: 1, isLast: true }],
    ['AUTH PLAIN', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: null }],
    ['auth plain AGEAYg==', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AGEAYg==' }],
    ['AUTH PLAIN =', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: '=' }],
    [
      'AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05SdjlxeXhkYUIy',
      {
        verb: 'AUTH',
        mechanism: 'SCRAM-SHA-256',
        initialResponse: 'biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05SdjlxeXhkYUIy',
      },
    ],
    ['AUTH x_y-1', { verb: 'AUTH', mechanism: 'X_Y-1', initialResponse: null }],
    [`AUTH ${'M'.repeat(20)}`, { verb: 'AUTH', mechanism: 'M'.repeat(20), initialResponse: null }],
  ]
  for (const [line, expected] of cases) {
    assert.deepEqual(accepted(line), expected, show(line))
  }
})

test('parseCommand refuses bad arguments with 501 and unknown verbs with 500', () => {
  const cases: [string, SmtpVerb | null, number, string][] = [
    ['', null, 500, '5.5.2'],
    ['FOO', null, 500, '5.5.2'],
    ['FOO bar', null, 500, '5.5.2'],
    [' DATA', null, 500, '5.5.2'],
    ['MAILFROM:<a@example.com>', null, 500, '5.5.2'],
    // Only SP separates the verb (RFC 5321 §4.1.1); a tab makes it an unknown word.
    ['DATA\t', null, 500, '5.5.2'],
    ['DATA\r', null, 500, '5.5.2'],
    ['EHLO', 'EHLO', 501, '5.5.4'],
    ['EHLO ', 'EHLO', 501, '5.5.4'],
    ['HELO    ', 'HELO', 501, '5.5.4'],
    ['DATA x', 'DATA', 501, '5.5.4'],
    ['data  now', 'DATA', 501, '5.5.4'],
    ['RSET now', 'RSET', 501, '5.5.4'],
    ['QUIT please', 'QUIT', 501, '5.5.4'],
    ['STARTTLS x', 'STARTTLS', 501, '5.5.4'],
    ['VRFY', 'VRFY', 501, '5.5.4'],
    ['VRFY   ', 'VRFY', 501, '5.5.4'],
    ['EXPN', 'EXPN', 501, '5.5.4'],
    ['BDAT', 'BDAT', 501, '5.5.4'],
    ['BDAT ', 'BDAT', 501, '5.5.4'],
    ['BDAT x', 'BDAT', 501, '5.5.4'],
    ['BDAT -1', 'BDAT', 501, '5.5.4'],
    ['BDAT +1', 'BDAT', 501, '5.5.4'],
    ['BDAT 1.5', 'BDAT', 501, '5.5.4'],
    ['BDAT 1e3', 'BDAT', 501, '5.5.4'],
    ['BDAT 10 ', 'BDAT', 501, '5.5.4'],
    ['BDAT  10', 'BDAT', 501, '5.5.4'],
    ['BDAT 10  LAST', 'BDAT', 501, '5.5.4'],
    ['BDAT 10 LAST extra', 'BDAT', 501, '5.5.4'],
    ['BDAT 10 FIRST', 'BDAT', 501, '5.5.4'],
    ['BDAT LAST', 'BDAT', 501, '5.5.4'],
    // Past 15 digits the size is no longer a safe integer; leading zeros count too.
    ['BDAT 1000000000000000', 'BDAT', 501, '5.5.4'],
    ['BDAT 0000000000000001', 'BDAT', 501, '5.5.4'],
    ['BDAT 99999999999999999999999999999999 LAST', 'BDAT', 501, '5.5.4'],
    ['BDAT \u0661\u0662', 'BDAT', 501, '5.5.4'],
    ['AUTH', 'AUTH', 501, '5.5.4'],
    ['AUTH ', 'AUTH', 501, '5.5.4'],
    ['AUTH PLAIN ', 'AUTH', 501, '5.5.4'],
    ['AUTH PLAIN a b', 'AUTH', 501, '5.5.4'],
    ['AUTH  PLAIN', 'AUTH', 501, '5.5.4'],
    ['AUTH P*AIN', 'AUTH', 501, '5.5.4'],
    [`AUTH ${'M'.repeat(21)}`, 'AUTH', 501, '5.5.4'],
    ['MAIL', 'MAIL', 501, '5.5.4'],
    ['MAIL ', 'MAIL', 501, '5.5.4'],
    ['MAIL TO:<a@example.com>', 'MAIL', 501, '5.5.4'],
    ['MAIL FROM<a@example.com>', 'MAIL', 501, '5.5.4'],
    ['MAIL  FROM:<a@example.com>', 'MAIL', 501, '5.5.4'],
    ['RCPT', 'RCPT', 501, '5.5.4'],
    ['RCPT FROM:<a@example.com>', 'RCPT', 501, '5.5.4'],
    ['RCPT TO <a@example.com>', 'RCPT', 501, '5.5.4'],
    // A bad path is 5.1.7 (sender) or 5.1.3 (recipient), RFC 3463.
    ['MAIL FROM:a@example.com', 'MAIL', 501, '5.1.7'],
    ['MAIL FROM:<a@example.com', 'MAIL', 501, '5.1.7'],
    ['MAIL FROM:<a@example.com>SIZE=1', 'MAIL', 501, '5.1.7'],
    ['MAIL FROM:', 'MAIL', 501, '5.1.7'],
    ['MAIL FROM:<Postmaster>', 'MAIL', 501, '5.1.7'],
    ['RCPT TO:a@example.com', 'RCPT', 501, '5.1.3'],
    ['RCPT TO:<>', 'RCPT', 501, '5.1.3'],
    ['RCPT TO:<a@example.com', 'RCPT', 501, '5.1.3'],
    ['RCPT TO:', 'RCPT', 501, '5.1.3'],
    // Non-ASCII letters that upper-case to ASCII ones ("ı" → "I", "ſ" → "S") are not verbs.
    ['MA\u0131L FROM:<a@example.com>', null, 500, '5.5.2'],
    ['\u0131\u0131 x', null, 500, '5.5.2'],
    ['\u017Ftarttls', null, 500, '5.5.2'],
    ['R\u017FET', null, 500, '5.5.2'],
    ['QU\u0131T', null, 500, '5.5.2'],
  ]
  for (const [line, verb, code, status] of cases) {
    const result = parse(line)
    assert.ok(result.kind === 'error', `${show(line)} was accepted: ${JSON.stringify(result)}`)
    assert.equal(result.verb, verb, show(line))
    assert.equal(result.reply.code, code, show(line))
    assert.equal(result.reply.status, status, show(line))
    assert.ok(result.reply.lines.length > 0 && result.reply.lines[0] !== '', show(line))
  }
})

test('parseCommand refuses a line that is not UTF-8 before looking at the verb', () => {
  const lines = [
    Buffer.from([0xff]),
    Buffer.from('MAIL FROM:<\xe9@example.com>', 'latin1'),
    Buffer.from([0x4e, 0x4f, 0x4f, 0x50, 0x20, 0xc3, 0x28]), // NOOP, then a broken sequence
    Buffer.from([0x45, 0x48, 0x4c, 0x4f, 0x20, 0xc0, 0xaf]), // overlong "/"
    Buffer.from([0x56, 0x52, 0x46, 0x59, 0x20, 0xed, 0xa0, 0x80]), // UTF-16 surrogate
    Buffer.from([0x44, 0x41, 0x54, 0x41, 0x20, 0xe2, 0x82]), // truncated sequence
  ]
  for (const line of lines) {
    const result = parse(line)
    assert.ok(result.kind === 'error', show(line))
    assert.equal(result.verb, null, show(line))
    assert.equal(result.reply.code, 500, show(line))
    assert.equal(result.reply.status, '5.5.2', show(line))
  }
})

test('parseCommand reads MAIL FROM and RCPT TO paths, with or without a space after the colon', () => {
  type Expected = {
    verb: 'MAIL' | 'RCPT'
    mailbox: string | null
    route?: string[]
    isPostmaster?: boolean
    params?: string
  }
  const cases: [string, Expected][] = [
    ['MAIL FROM:<a@example.com>', { verb: 'MAIL', mailbox: 'a@example.com' }],
    ['mail from:<a@example.com>', { verb: 'MAIL', mailbox: 'a@example.com' }],
    ['Mail From:<a@example.com>', { verb: 'MAIL', mailbox: 'a@example.com' }],
    ['MAIL FROM: <a@example.com>', { verb: 'MAIL', mailbox: 'a@example.com' }],
    ['MAIL FROM:   <a@example.com>', { verb: 'MAIL', mailbox: 'a@example.com' }],
    ['MAIL FROM:<>', { verb: 'MAIL', mailbox: null }],
    ['MAIL FROM: <> SIZE=100', { verb: 'MAIL', mailbox: null, params: ' SIZE=100' }],
    [
      'MAIL FROM:<a@example.com> BODY=8BITMIME SMTPUTF8',
      { verb: 'MAIL', mailbox: 'a@example.com', params: ' BODY=8BITMIME SMTPUTF8' },
    ],
    ['MAIL FROM:<"a b"@example.com>', { verb: 'MAIL', mailbox: '"a b"@example.com' }],
    ['MAIL FROM:<"a>b"@example.com>', { verb: 'MAIL', mailbox: '"a>b"@example.com' }],
    ['RCPT TO:<b@example.com>', { verb: 'RCPT', mailbox: 'b@example.com' }],
    ['rcpt to: <b@example.com>', { verb: 'RCPT', mailbox: 'b@example.com' }],
    [
      'RCPT TO:<b@example.com> NOTIFY=NEVER',
      { verb: 'RCPT', mailbox: 'b@example.com', params: ' NOTIFY=NEVER' },
    ],
    ['RCPT TO:<Postmaster>', { verb: 'RCPT', mailbox: 'Postmaster', isPostmaster: true }],
    ['rcpt to:<postmaster>', { verb: 'RCPT', mailbox: 'postmaster', isPostmaster: true }],
    ['RCPT TO:<POSTMASTER>', { verb: 'RCPT', mailbox: 'POSTMASTER', isPostmaster: true }],
    ['RCPT TO:<postmaster@example.com>', { verb: 'RCPT', mailbox: 'postmaster@example.com' }],
    [
      'RCPT TO:<@a.example,@b.example:user@c.example>',
      { verb: 'RCPT', mailbox: 'user@c.example', route: ['a.example', 'b.example'] },
    ],
    [
      'MAIL FROM:<@relay.example:user@c.example>',
      { verb: 'MAIL', mailbox: 'user@c.example', route: ['relay.example'] },
    ],
    ['RCPT TO:<jörg@bücher.example>', { verb: 'RCPT', mailbox: 'jörg@bücher.example' }],
  ]
  for (const [line, expected] of cases) {
    const command = accepted(line)
    assert.ok(command.verb === 'MAIL' || command.verb === 'RCPT', show(line))
    const path: SmtpPath = command.path
    assert.equal(command.verb, expected.verb, show(line))
    assert.equal(path.mailbox?.text ?? null, expected.mailbox, show(line))
    assert.deepEqual(path.route, expected.route ?? [], show(line))
    assert.equal(path.isPostmaster, expected.isPostmaster ?? false, show(line))
    assert.equal(command.params, expected.params ?? '', show(line))
  }
  const utf8 = accepted('RCPT TO:<jörg@bücher.example>')
  assert.ok(utf8.verb === 'RCPT')
  assert.equal(utf8.path.mailbox?.hasNonAscii, true)
})
