import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { type CommandParse, parseCommand, type SmtpVerb } from './command.ts'
import { MAX_DOMAIN_OCTETS, MAX_LOCAL_PART_OCTETS, MAX_PATH_OCTETS } from './limits.ts'

const VERBS: readonly SmtpVerb[] = [
  'EHLO',
  'HELO',
  'MAIL',
  'RCPT',
  'DATA',
  'RSET',
  'QUIT',
  'STARTTLS',
  'NOOP',
  'HELP',
  'VRFY',
  'EXPN',
  'BDAT',
  'AUTH',
]

/** What any answer of parseCommand must look like, whatever the line. */
function checkParse(line: Buffer): CommandParse {
  const result = parseCommand(line)
  if (result.kind === 'error') {
    const { reply } = result
    assert.ok(reply.code >= 500 && reply.code <= 599, `code ${reply.code}`)
    assert.match(reply.status ?? 'none', /^5\.\d{1,3}\.\d{1,3}$/)
    assert.ok(reply.lines.length > 0)
    for (const text of reply.lines) assert.equal(typeof text, 'string')
    assert.ok(result.verb === null || VERBS.includes(result.verb))
    return result
  }
  const { command } = result
  assert.ok(VERBS.includes(command.verb))
  // The verb is the line's first word, in ASCII letters.
  const word = line.toString('utf8').split(' ')[0] ?? ''
  assert.equal(word.toUpperCase(), command.verb)
  assert.match(word, /^[A-Za-z]+$/)
  switch (command.verb) {
    case 'MAIL':
    case 'RCPT': {
      const { path } = command
      assert.ok(path.mailbox !== null || command.verb === 'MAIL', 'only MAIL takes <>')
      assert.ok(!path.isPostmaster || command.verb === 'RCPT', 'only RCPT takes <Postmaster>')
      assert.ok(command.params === '' || command.params.startsWith(' '))
      if (path.mailbox !== null) {
        const { mailbox } = path
        assert.ok(Buffer.byteLength(mailbox.localPart) <= MAX_LOCAL_PART_OCTETS)
        assert.ok(Buffer.byteLength(mailbox.domain) <= MAX_DOMAIN_OCTETS)
        assert.ok(Buffer.byteLength(mailbox.text) + 2 <= MAX_PATH_OCTETS)
        assert.equal(mailbox.hasNonAscii, Buffer.byteLength(mailbox.text) !== mailbox.text.length)
        assert.ok(path.isPostmaster || mailbox.domain !== '')
      }
      break
    }
    case 'BDAT':
      assert.ok(Number.isSafeInteger(command.size) && command.size >= 0)
      break
    case 'AUTH':
      assert.match(command.mechanism, /^[A-Z0-9_-]{1,20}$/)
      assert.ok(command.initialResponse === null || !/\s/.test(command.initialResponse))
      break
    case 'EHLO':
    case 'HELO':
      assert.ok(command.domain !== '' && !command.domain.includes(' '))
      break
    default:
      break
  }
  return result
}

test('parseCommand never throws on arbitrary octets', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      checkParse(Buffer.from(bytes))
    }),
    { numRuns: 3000 },
  )
})

test('parseCommand never throws on arbitrary UTF-8 and ASCII lines', () => {
  const ascii = fc.string({ unit: 'binary-ascii', maxLength: 200 })
  const utf8 = fc.string({ unit: 'binary', maxLength: 120 })
  fc.assert(
    fc.property(fc.oneof(ascii, utf8), (text) => {
      checkParse(Buffer.from(text, 'utf8'))
    }),
    { numRuns: 1500 },
  )
})

// Pieces of real command lines, so random ones reach the path and argument grammar.
const FRAGMENTS = [
  ' ',
  '<',
  '>',
  '<>',
  '@',
  '"',
  '\\',
  ':',
  ',',
  '.',
  '[',
  ']',
  '=',
  'a',
  'Z',
  '0',
  '9',
  '-',
  '_',
  'é',
  '😀',
  'ı',
  'ſ',
  '\x00',
  '\r',
  '\t',
  'FROM:',
  'TO:',
  'LAST',
  'postmaster',
  'example.com',
  'IPv6:',
  '::1',
  '192.0.2.1',
  'SIZE=10',
  'PLAIN',
  '999999999999999',
]
const tail = fc.string({ unit: fc.constantFrom(...FRAGMENTS), maxLength: 40 })
const verb = fc.oneof(
  fc.constantFrom(...VERBS),
  fc.constantFrom(...VERBS).map((name) => name.toLowerCase()),
  fc.constantFrom('MAIL FROM:<', 'RCPT TO:<', 'mail from: <', 'RCPT TO:<@', 'BDAT ', 'AUTH '),
)

test('parseCommand never throws on verbs followed by grammar soup', () => {
  fc.assert(
    fc.property(verb, fc.constantFrom('', ' '), tail, (name, separator, rest) => {
      checkParse(Buffer.from(`${name}${separator}${rest}`, 'utf8'))
    }),
    { numRuns: 4000 },
  )
})

test('parseCommand takes MAIL FROM and RCPT TO of any path it could have produced', () => {
  const local = fc.string({
    unit: fc.constantFrom('a', 'b', '.', '+', '-', 'é', '"', '\\', ' ', '@'),
    minLength: 1,
    maxLength: 20,
  })
  const domain = fc.constantFrom('example.com', 'bücher.example', '[192.0.2.1]', '[IPv6:::1]')
  fc.assert(
    fc.property(local, domain, fc.boolean(), (localPart, host, isRcpt) => {
      const quoted = `"${localPart.replace(/(["\\])/g, '\\$1')}"`
      const line = `${isRcpt ? 'RCPT TO' : 'MAIL FROM'}:<${quoted}@${host}> X=1`
      const result = checkParse(Buffer.from(line, 'utf8'))
      assert.ok(result.kind === 'command', line)
      assert.ok(result.command.verb === 'MAIL' || result.command.verb === 'RCPT')
      assert.equal(result.command.path.mailbox?.localPart, localPart)
      assert.equal(result.command.path.mailbox?.domain, host)
      assert.equal(result.command.params, ' X=1')
    }),
    { numRuns: 1000 },
  )
})
