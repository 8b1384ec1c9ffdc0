import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { formatBodyStructure, formatEnvelope } from '../../src/imap/proto/index.ts'
import { bodyStructure, parseMessage, readEnvelope } from '../../src/mime/index.ts'
import { startDovecot } from '../support/dovecot.ts'
import { REPO_ROOT } from '../support/postern-process.ts'
import { fetchItems, stringValue } from './imap-response-items.ts'

const CORPUS = path.join(REPO_ROOT, 'test/fixtures/mime')

/**
 * Where we answer differently from Dovecot on purpose. Each entry pins our own output, so the
 * test still fails if it changes, and says why we differ.
 */
const DEVIATIONS: Record<string, { why: string; ours: Record<string, string> }> = {
  'utf8-headers-message-global.eml': {
    why: 'RFC 9051 §7.5.2 (media-message) describes message/global with its envelope and body, as message/rfc822; Dovecot 2.3 (IMAP4rev1) shows it as a basic part',
    ours: {
      BODY: '(("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 61 1)("message" "global" NIL NIL NIL "7bit" 380 ("Tue, 26 Mar 2024 23:10:00 +0900" {39}\r\nRe: æ¥æ¬èªã®ä»¶å â æ³¨æç¢ºèª (({17}\r\næ³¨æã·ã¹ãã NIL {6}\r\næ³¨æ {9}\r\nä¾ã.jp)) (({17}\r\næ³¨æã·ã¹ãã NIL {6}\r\næ³¨æ {9}\r\nä¾ã.jp)) (({17}\r\næ³¨æã·ã¹ãã NIL {6}\r\næ³¨æ {9}\r\nä¾ã.jp)) (({15}\r\nZoÃ« ÃngstrÃ¶m NIL {4}\r\nzoÃ« {15}\r\nbÃ¼cher.example)) NIL NIL NIL {23}\r\n<ç¢ºèª.2024@ä¾ã.jp>) ("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 68 1) 10) "mixed")',
      BODYSTRUCTURE:
        '(("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 61 1 NIL NIL NIL NIL)("message" "global" NIL NIL NIL "7bit" 380 ("Tue, 26 Mar 2024 23:10:00 +0900" {39}\r\nRe: æ¥æ¬èªã®ä»¶å â æ³¨æç¢ºèª (({17}\r\næ³¨æã·ã¹ãã NIL {6}\r\næ³¨æ {9}\r\nä¾ã.jp)) (({17}\r\næ³¨æã·ã¹ãã NIL {6}\r\næ³¨æ {9}\r\nä¾ã.jp)) (({17}\r\næ³¨æã·ã¹ãã NIL {6}\r\næ³¨æ {9}\r\nä¾ã.jp)) (({15}\r\nZoÃ« ÃngstrÃ¶m NIL {4}\r\nzoÃ« {15}\r\nbÃ¼cher.example)) NIL NIL NIL {23}\r\n<ç¢ºèª.2024@ä¾ã.jp>) ("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 68 1 NIL NIL NIL NIL) 10 NIL ("attachment" ("filename" {18}\r\nBestÃ¤tigung.u8msg)) NIL NIL) "mixed" ("boundary" "utf8-global-7f6e5d4c") NIL NIL NIL)',
    },
  },
  'broken-content-type-no-subtype.eml': {
    why: 'RFC 2045 §5.2 recommends treating a syntactically invalid Content-Type ("text", "image", "/plain", "text/") as the default text/plain; Dovecot shows "" "" or "image" ""',
    ours: {
      BODY: '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 28 0)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 29 0)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 28 0)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 27 0)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 25 0) "mixed")',
      BODYSTRUCTURE:
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 28 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 29 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 28 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 27 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 25 0 NIL NIL NIL NIL) "mixed" ("boundary" "nosub") NIL NIL NIL)',
    },
  },
  'address-missing-brackets.eml': {
    why: 'Dovecot stops reading an address list at its first syntax error and shows MISSING_* for the rest; we recover every address that can be read (sales@example.com, cc@example.com, alice@example.com…)',
    ours: {
      ENVELOPE:
        '("Sat, 6 Apr 2024 14:00:00 +0000" "Broken address syntax" (("John Smith" NIL "john.smith" "example.com")) ((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) (("extra words" NIL "reply" "example.com")) (("Sales" NIL "sales" "example.com")(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")(NIL NIL "MISSING_MAILBOX" "example.org")(NIL NIL "bob" "MISSING_DOMAIN")(NIL NIL "nobody" "MISSING_DOMAIN")) (("Unterminated" NIL "cc" "example.com")("Alice" NIL "alice" "example.com")) NIL NIL "<no-brackets.1@example.com>")',
    },
  },
  'address-obsolete-routes.eml': {
    why: 'an empty element of an address list (RFC 5322 §4.4 obs-addr-list) is ignored, not shown as a MISSING_MAILBOX placeholder',
    ours: {
      ENVELOPE:
        '("Sat, 6 Apr 2024 12:00:00 +0000" "Obsolete routes and spacing" (("Mary Smith" "@node.test,@relay.example" "mary" "example.net")) (("Mary Smith" "@node.test,@relay.example" "mary" "example.net")) (("Mary Smith" "@node.test,@relay.example" "mary" "example.net")) ((NIL "@a.example.com,@b.example.com" "user" "example.org")("John Doe" NIL "jdoe" "machine.example")) (("Mary Smith" NIL "mary" "example.net")(NIL NIL "jdoe" "test.example")) NIL NIL "<obs-route.1@example.net>")',
    },
  },
}

// Dovecot is the oracle for what ENVELOPE, BODY and BODYSTRUCTURE say about real-world and
// broken mail: each corpus message is APPENDed to a private Dovecot, FETCHed, and compared with
// our output for the same stored bytes, octet for octet.
test('ENVELOPE, BODY and BODYSTRUCTURE of the corpus match Dovecot', async (t) => {
  const files = readdirSync(CORPUS)
    .filter((name) => name.endsWith('.eml'))
    .sort()
  assert.ok(files.length >= 45, `the corpus has ${files.length} messages`)
  for (const [file, deviation] of Object.entries(DEVIATIONS)) {
    assert.ok(
      files.includes(file) && Object.keys(deviation.ours).length > 0,
      `DEVIATIONS entry ${file} pins nothing`,
    )
  }
  const dovecot = await startDovecot(t)
  const messages = files.map((name) => readFileSync(path.join(CORPUS, name)))
  const responses = await dovecot.imapFetch(messages, 'ENVELOPE BODY BODYSTRUCTURE BODY.PEEK[]')
  const mismatches: string[] = []
  responses.forEach((response, i) => {
    const items = fetchItems(response)
    // Dovecot stores bare LF as CRLF (and shows NUL as 0x80); compare on what it stored.
    const stored = Buffer.from(stringValue(items.get('BODY[]') ?? ''), 'latin1')
    const parsed = parseMessage(stored)
    const structure = bodyStructure(parsed)
    const ours = {
      ENVELOPE: formatEnvelope(readEnvelope(stored, parsed.root)),
      BODY: formatBodyStructure(structure, false),
      BODYSTRUCTURE: formatBodyStructure(structure, true),
    }
    for (const [item, value] of Object.entries(ours)) {
      const pinned = DEVIATIONS[files[i] ?? '']?.ours[item]
      const isDeviation = pinned !== undefined
      const expected = isDeviation ? pinned : items.get(item)
      if (isDeviation && value === items.get(item)) {
        mismatches.push(`${files[i]} ${item}: now matches Dovecot, remove it from DEVIATIONS`)
      } else if (value !== expected) {
        mismatches.push(
          `${files[i]} ${item}\n  dovecot: ${JSON.stringify(expected)}\n  postern: ${JSON.stringify(value)}`,
        )
      }
    }
  })
  assert.equal(mismatches.length, 0, `${mismatches.length} mismatches:\n${mismatches.join('\n')}`)
})
