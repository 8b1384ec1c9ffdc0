// Issue 11, resource attack: hostile message shapes delivered to a real `postern serve` over SMTP
// and fetched back over IMAP (BODYSTRUCTURE, BODY[HEADER], BODY[]) and POP3 (RETR) while the
// probe keeps working: multipart nested ten thousand levels deep, and a header of a hundred
// thousand fields. The parser's bounds (src/mime/limits.ts) stop it descending or splitting, but
// the message must be accepted and stored whole, served back byte for byte, and the server must
// keep its memory and its event loop (the probe's bound) throughout.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ATTACKER,
  imapLogin,
  pop3Login,
  startResourceServer,
  underAttack,
} from './support/resources.ts'
import {
  readImapResponse,
  readPop3Body,
  readSmtpReply,
  WireClient,
} from './support/resources-wire.ts'
import { TORTURE_FORM, tortureCount } from './support/settings.ts'

const DEPTH = tortureCount(10_000, 100_000)
const FIELDS = tortureCount(100_000, 500_000)
/** How long the attacker's own requests may take (delivery, a FETCH of megabytes). */
const REQUEST_BOUND_MS = 60_000

/**
 * multipart/mixed inside multipart/mixed, `depth` times, around one text part. Boundaries end in
 * `suffix`: with none, "b6" is a prefix of "b60", and delimiters matched by prefix (as Dovecot
 * does) split the outer parts into thousands of pieces, which the part count bounds.
 */
function nestedMessage(depth: number, suffix: string): string {
  const parts: string[] = [
    'From: <deep@remote.test>\r\n',
    `To: <${ATTACKER.address}>\r\n`,
    `Subject: ${depth} levels of multipart\r\n`,
    'MIME-Version: 1.0\r\n',
  ]
  for (let level = 0; level < depth; level += 1) {
    const boundary = `b${level}${suffix}`
    parts.push(`Content-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n--${boundary}\r\n`)
  }
  parts.push('Content-Type: text/plain; charset=us-ascii\r\n\r\nThe bottom.\r\n')
  for (let level = depth - 1; level >= 0; level -= 1) parts.push(`--b${level}${suffix}--\r\n`)
  return parts.join('')
}

/** A header of `fields` fields (besides From, To and Subject) and a one-line body. */
function wideHeaderMessage(fields: number): string {
  const lines = [
    'From: <wide@remote.test>\r\n',
    `To: <${ATTACKER.address}>\r\n`,
    `Subject: ${fields} header fields\r\n`,
  ]
  for (let i = 0; i < fields; i += 1) lines.push(`X-F${i}: ${i}\r\n`)
  return `${lines.join('')}\r\nA body after a long header.\r\n`
}

/** Delivers `message` to the attacker's INBOX over SMTP; returns the final reply. */
async function deliver(port: number, message: string): Promise<string> {
  const client = await WireClient.connect(port)
  try {
    assert.match(await readSmtpReply(client, REQUEST_BOUND_MS), /^220 /)
    for (const command of [
      'EHLO attacker.example.org',
      'MAIL FROM:<attacker@remote.test>',
      `RCPT TO:<${ATTACKER.address}>`,
    ]) {
      await client.write(`${command}\r\n`)
      assert.match(await readSmtpReply(client, REQUEST_BOUND_MS), /^250[ -]/, command)
    }
    await client.write('DATA\r\n')
    assert.match(await readSmtpReply(client, REQUEST_BOUND_MS), /^354 /)
    // No line of these messages begins with ".", so there is nothing to dot-stuff.
    await client.write(`${message}.\r\n`)
    return await readSmtpReply(client, REQUEST_BOUND_MS)
  } finally {
    client.destroy()
  }
}

/** The octets of the literal that follows `item` (as "BODY[] {n}") in a FETCH response line. */
function literalOf(line: string, item: string): string {
  const announced = `${item} {`
  const at = line.indexOf(announced)
  assert.ok(at >= 0, `${item} in ${line.slice(0, 100)}`)
  const match = /^(\d+)\}\r\n/.exec(line.slice(at + announced.length, at + announced.length + 20))
  assert.ok(match !== null, `a literal after ${item}`)
  const start = at + announced.length + match[0].length
  return line.slice(start, start + Number(match[1]))
}

/** How deep parentheses nest in an IMAP response, outside quoted strings and literals. */
function nestingDepth(line: string): number {
  let depth = 0
  let deepest = 0
  let isQuoted = false
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i]
    if (isQuoted) {
      if (char === '\\') i += 1
      else if (char === '"') isQuoted = false
    } else if (char === '"') {
      isQuoted = true
    } else if (char === '(') {
      depth += 1
      deepest = Math.max(deepest, depth)
    } else if (char === ')') {
      depth -= 1
      assert.ok(depth >= 0, 'parentheses balance')
    }
  }
  assert.equal(depth, 0, 'parentheses balance')
  return deepest
}

test(`multipart nested ${DEPTH} deep and a header of ${FIELDS} fields are stored whole and served`, async (t) => {
  t.diagnostic(`${DEPTH} levels, ${FIELDS} fields (${TORTURE_FORM} form)`)
  const server = await startResourceServer(t)
  const { ports } = server.postern
  const messages = [
    { name: `multipart ${DEPTH} levels deep`, message: nestedMessage(DEPTH, 'z') },
    {
      name: `multipart ${DEPTH} levels deep, boundaries prefixes of each other`,
      message: nestedMessage(DEPTH, ''),
    },
    { name: `header of ${FIELDS} fields`, message: wideHeaderMessage(FIELDS) },
  ]
  for (const [index, { name, message }] of messages.entries()) {
    const number = index + 1
    await t.test(name, (t) =>
      underAttack(t, server, name, async () => {
        let started = Date.now()
        const reply = await deliver(ports.smtp, message)
        assert.match(reply, /^250 /, 'accepted: the bounds stop the parser, not the message')
        t.diagnostic(
          `${(message.length / 1024).toFixed(0)} KiB delivered in ${Date.now() - started} ms`,
        )

        const imap = await imapLogin(ports.imap, ATTACKER)
        await imap.write('s1 SELECT INBOX\r\n')
        const selected = await readImapResponse(imap, 's1', REQUEST_BOUND_MS)
        assert.match(selected.tagged, /^s1 OK/)
        assert.ok(selected.untagged.includes(`* ${number} EXISTS`), selected.untagged.join('\n'))

        started = Date.now()
        await imap.write(`f1 FETCH ${number} (BODYSTRUCTURE)\r\n`)
        const structure = await readImapResponse(imap, 'f1', REQUEST_BOUND_MS)
        assert.match(structure.tagged, /^f1 OK/)
        const structureLine = structure.untagged.find((line) =>
          line.startsWith(`* ${number} FETCH`),
        )
        assert.ok(structureLine !== undefined, 'a BODYSTRUCTURE came')
        const depth = nestingDepth(structureLine)
        t.diagnostic(
          `BODYSTRUCTURE: ${structureLine.length} octets, ${depth} parentheses deep, ${Date.now() - started} ms`,
        )

        started = Date.now()
        await imap.write(`f2 FETCH ${number} (BODY.PEEK[HEADER] BODY.PEEK[])\r\n`)
        const fetched = await readImapResponse(imap, 'f2', REQUEST_BOUND_MS)
        assert.match(fetched.tagged, /^f2 OK/)
        const fetchLine =
          fetched.untagged.find((line) => line.startsWith(`* ${number} FETCH`)) ?? ''
        // Stored whole: what comes back ends with what was sent, after the trace fields the
        // server put in front (Return-Path, Received, Delivered-To).
        assert.ok(literalOf(fetchLine, 'BODY[]').endsWith(message), 'BODY[] is the message as sent')
        const header = message.slice(0, message.indexOf('\r\n\r\n') + 4)
        assert.ok(literalOf(fetchLine, 'BODY[HEADER]').endsWith(header), 'BODY[HEADER] is whole')
        t.diagnostic(
          `BODY[HEADER] and BODY[]: ${fetchLine.length} octets, ${Date.now() - started} ms`,
        )
        imap.destroy()

        started = Date.now()
        const pop3 = await pop3Login(ports.pop3, ATTACKER)
        await pop3.write(`RETR ${number}\r\n`)
        assert.match(await pop3.readLine(REQUEST_BOUND_MS), /^\+OK/)
        const retrieved = await readPop3Body(pop3, REQUEST_BOUND_MS)
        assert.ok(retrieved.endsWith(message), 'RETR gives the message as sent')
        t.diagnostic(`RETR: ${retrieved.length} octets, ${Date.now() - started} ms`)
        await pop3.write('QUIT\r\n')
        assert.match(await pop3.readLine(REQUEST_BOUND_MS), /^\+OK/)
        pop3.destroy()
      }),
    )
  }
})
