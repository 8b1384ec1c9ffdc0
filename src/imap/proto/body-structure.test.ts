import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bodyStructure, parseMessage, readEnvelope } from '../../mime/index.ts'
import { formatBodyStructure, formatEnvelope } from './body-structure.ts'
import { formatHumanString } from './string.ts'

const envelopeOf = (text: string) => {
  const bytes = Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1')
  return formatEnvelope(readEnvelope(bytes, parseMessage(bytes).root))
}

test('ENVELOPE defaults Sender and Reply-To to From, and shows groups with their markers', () => {
  assert.equal(
    envelopeOf(
      'From: Ann <ann@example.com>\nTo: Team: bob@example.org, "C D" <cd@example.net>;\nSubject: hi\n\n',
    ),
    '(NIL "hi" (("Ann" NIL "ann" "example.com")) (("Ann" NIL "ann" "example.com")) (("Ann" NIL "ann" "example.com")) ((NIL NIL "Team" NIL)(NIL NIL "bob" "example.org")("C D" NIL "cd" "example.net")(NIL NIL NIL NIL)) NIL NIL NIL NIL)',
  )
})

test('ENVELOPE never sends a NIL host for a mailbox: that would read as a group marker', () => {
  assert.match(
    envelopeOf('From: root\nTo: <>\n\n'),
    /\(\(NIL NIL "root" "MISSING_DOMAIN"\)\) .* \(\(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"\)\)/,
  )
})

test('ENVELOPE takes the last of repeated fields and unfolds dates', () => {
  assert.match(
    envelopeOf('Date: garbage\nDate: Mon, 1 Jan 2024\n  10:00:00 +0000\n\n'),
    /^\("Mon, 1 Jan 2024 {2}10:00:00 \+0000" /,
  )
})

test('a subject or name that needs cleaning goes as a literal of the cleaned text', () => {
  assert.equal(formatHumanString('plain words'), '"plain words"')
  assert.equal(formatHumanString('folded\r\n\tline'), '{11}\r\nfolded line')
  assert.equal(formatHumanString('say "hi"'), '{8}\r\nsay "hi"')
  assert.equal(formatHumanString('  '), '""')
  assert.equal(formatHumanString('nul\u0000'), '{4}\r\nnul\u0080')
})

test('BODY leaves out extension data; BODYSTRUCTURE has it; an empty multipart shows one empty part', () => {
  const bytes = Buffer.from(
    'Content-Type: multipart/mixed; boundary=never\r\nContent-Language: en, de\r\n\r\nno parts\r\n',
  )
  const structure = bodyStructure(parseMessage(bytes))
  const empty = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0'
  assert.equal(formatBodyStructure(structure, false), `(${empty}) "mixed")`)
  assert.equal(
    formatBodyStructure(structure, true),
    `(${empty} NIL NIL NIL NIL) "mixed" ("boundary" "never") NIL ("en" "de") NIL)`,
  )
})
