import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseCommand, parseLineCount, parseMessageNumber } from './command.ts'
import { err, multiline, ok } from './response.ts'

const parse = (text: string) => parseCommand(Buffer.from(text, 'utf8'))

test('commands: keyword in any case, arguments split at spaces', () => {
  assert.deepEqual(parse('stat'), { kind: 'command', command: { verb: 'STAT', args: [] } })
  assert.deepEqual(parse('Top 1 10'), {
    kind: 'command',
    command: { verb: 'TOP', args: ['1', '10'] },
  })
  assert.deepEqual(parse('LIST  2 '), { kind: 'command', command: { verb: 'LIST', args: ['2'] } })
  assert.deepEqual(parse('USER alice@example.test'), {
    kind: 'command',
    command: { verb: 'USER', args: ['alice@example.test'] },
  })
})

test('PASS keeps the whole rest of the line, spaces and UTF-8 included', () => {
  assert.deepEqual(parse('PASS  two words  '), {
    kind: 'command',
    command: { verb: 'PASS', args: [' two words  '] },
  })
  assert.deepEqual(parse('PASS pässwörd'), {
    kind: 'command',
    command: { verb: 'PASS', args: ['pässwörd'] },
  })
})

test('unknown and empty commands are errors that show nothing unsafe', () => {
  assert.deepEqual(parse(''), { kind: 'error', message: 'Empty command' })
  assert.deepEqual(parse('XTND 1'), { kind: 'error', message: 'Unknown command XTND' })
  const long = parseCommand(Buffer.from(`A\x01${'B'.repeat(40)}`, 'latin1'))
  assert.deepEqual(long, { kind: 'error', message: `Unknown command A?${'B'.repeat(14)}...` })
})

test('message numbers and line counts', () => {
  assert.equal(parseMessageNumber('1'), 1)
  assert.equal(parseMessageNumber('0'), null)
  assert.equal(parseMessageNumber('-1'), null)
  assert.equal(parseMessageNumber('1x'), null)
  assert.equal(parseMessageNumber('9'.repeat(16)), null)
  assert.equal(parseMessageNumber(undefined), null)
  assert.equal(parseLineCount('0'), 0)
  assert.equal(parseLineCount('x'), null)
})

test('responses: status lines, codes, multi-line dot-stuffing, control characters neutralised', () => {
  assert.equal(ok(''), '+OK\r\n')
  assert.equal(ok('2 320'), '+OK 2 320\r\n')
  assert.equal(err('no such message', 'SYS/PERM'), '-ERR [SYS/PERM] no such message\r\n')
  assert.equal(err('bad\r\nINJECT'), '-ERR bad??INJECT\r\n')
  assert.equal(
    multiline('Capability list follows', ['TOP', '.x']),
    '+OK Capability list follows\r\nTOP\r\n..x\r\n.\r\n',
  )
  assert.equal(Buffer.byteLength(err('x'.repeat(1000))), 512)
})

test('a keyword is ASCII letters: non-ASCII letters that upper-case to a verb are not one', () => {
  // Found by test/torture/fuzz-pop3.test.ts: "LıST" was read as LIST and "ſTAT" as STAT,
  // because String#toUpperCase folds "ı" to "I" and "ſ" to "S" (RFC 2449 §3: ASCII keywords).
  for (const line of [
    'L\u0131ST',
    '\u017fTAT',
    'U\u017fER alice@example.test',
    '\u017fTLS',
    'QU\u0131T',
  ]) {
    const parsed = parse(line)
    assert.equal(parsed.kind, 'error', line)
    assert.match((parsed as { message: string }).message, /^Unknown command /)
  }
  assert.deepEqual(parse('list 1'), { kind: 'command', command: { verb: 'LIST', args: ['1'] } })
})
