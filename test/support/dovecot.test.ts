import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { startDovecot } from './dovecot.ts'

const CORPUS = path.join(import.meta.dirname, '../fixtures/mime')
const FILES = [
  'plain-us-ascii.eml',
  'outlook-mixed-related-alternative.eml',
  'forwarded-rfc822-multipart.eml',
]

test('Dovecot answers FETCH for appended corpus messages with their sizes, envelopes and literals', async (t) => {
  const dovecot = await startDovecot(t)
  const messages = FILES.map((name) => readFileSync(path.join(CORPUS, name)))

  const responses = await dovecot.imapFetch(
    messages,
    'RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[1.MIME]',
  )

  assert.equal(responses.length, FILES.length)
  for (const [index, response] of responses.entries()) {
    const name = FILES[index]
    assert.match(response, /^\(UID \d+ /, `${name}: ${response.slice(0, 80)}`)
    assert.equal(Number(/ RFC822\.SIZE (\d+) /.exec(response)?.[1]), messages[index]?.length, name)
    assert.match(response, / ENVELOPE \(/, name)
    assert.match(response, / BODYSTRUCTURE \(/, name)
    // The BODY[1.MIME] literal is inline: exactly n octets after "{n}" CRLF, then the closing ")".
    const literal = / BODY\[1\.MIME\] \{(\d+)\}\r\n/.exec(response)
    assert.ok(literal, `${name}: no BODY[1.MIME] literal in ${response.slice(-200)}`)
    const end = literal.index + literal[0].length + Number(literal[1])
    assert.equal(response.slice(end), ')', name)
    assert.match(response.slice(end - 2, end), /\r\n$/, name)
  }
  // Same order as appended: the forwarded message's envelope has its own subject.
  assert.match(responses[2] ?? '', /ENVELOPE \("Fri, 29 Mar 2024 17:22:04 \+0530" "Fwd: Invoice/)
})

test('a second Dovecot in the same process listens on its own port and takes literals', async (t) => {
  const [first, second] = await Promise.all([startDovecot(t), startDovecot(t)])
  assert.notEqual(first.port, second.port)

  assert.match(await second.imapCommand('CAPABILITY'), /^\* CAPABILITY IMAP4rev1 .*\r\nP\d+ OK /)
  assert.match(await second.imapCommand('CREATE {7}\r\nArchive'), /^P\d+ OK /)
  assert.match(await second.imapCommand('LIST "" "*"'), /^\* LIST \([^)]*\) "." Archive\r\n/m)
  assert.doesNotMatch(await first.imapCommand('LIST "" "*"'), /Archive/)

  // Lines inside a literal that look like responses must not end the FETCH early.
  const text = 'P4 OK looks like the tagged reply\r\n* 2 FETCH (UID 9)\r\n{3}\r\n'
  const [response] = await first.imapFetch(
    [Buffer.from(`Subject: literal trap\r\n\r\n${text}`)],
    'BODY.PEEK[TEXT]',
  )
  assert.match(response ?? '', /^\(UID \d+ BODY\[TEXT\] \{\d+\}\r\n/)
  assert.ok(response?.endsWith(`${text})`), response)
})
