// `postern sendmail` against a submission server nobody on the team wrote: Debian's Postfix on
// loopback, delivering into a Maildir. The message that arrives is the one that was sent (line
// ends LF in Postfix's Maildir; Return-Path, Delivered-To and Received added by Postfix aside),
// and Postfix refusing a recipient (550) comes back as EX_NOUSER with the message set aside.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { makeClientHome, sendmail } from '../support/mail-client.ts'
import { eventually } from '../support/postern-node.ts'
import { postfixUnavailable, startPostfix } from '../support/postfix.ts'

const MESSAGE = [
  'From: Carol <carol@laptop.test>',
  'To: dave@pf.test',
  'Subject: through Postfix',
  'Date: Thu, 26 Nov 2026 12:00:00 +0000',
  'Message-ID: <to-postfix@laptop.test>',
  '',
  'Hello Postfix,',
  '.a leading dot',
  '',
].join('\n')

test('postern sendmail submits to Postfix; a refusal is reported and kept', {
  skip: postfixUnavailable() ?? false,
}, async (t) => {
  const postfix = await startPostfix({
    mode: 'maildir',
    domain: 'pf.test',
    users: ['dave@pf.test'],
    hostname: 'mx.pf.test',
  })
  t.after(() => postfix.stop())
  const home = makeClientHome(t)
  // Postfix here takes mail from loopback without AUTH or TLS, as a local relay does.
  home.writeConfig(
    [
      '[submission]',
      'host = "127.0.0.1"',
      `port = ${postfix.port}`,
      'security = "none"',
      'from = "carol@laptop.test"',
      `spool = "${home.spoolDir}"`,
      '',
    ].join('\n'),
  )
  const sent = await sendmail(home, ['-i', 'dave@pf.test'], MESSAGE)
  assert.equal(sent.code, 0, sent.stderr)
  const [file] = await eventually(
    async () => {
      const files = postfix.deliveredFiles()
      return files.length > 0 ? files : undefined
    },
    20_000,
    `delivery into Postfix's Maildir\n${postfix.logTail()}`,
  )
  const delivered = readFileSync(file ?? '', 'utf8').replaceAll('\r\n', '\n')
  const fromOurs = delivered.slice(delivered.indexOf('From: Carol'))
  assert.equal(fromOurs, MESSAGE)
  assert.match(delivered, /^Return-Path: <carol@laptop\.test>$/m)

  const refused = await sendmail(home, ['-i', 'nobody@pf.test'], MESSAGE)
  assert.equal(refused.code, 67, refused.stderr) // EX_NOUSER
  assert.match(refused.stderr, /refused for nobody@pf\.test: 550 5\.1\.1/)
  assert.equal(readdirSync(path.join(home.spoolDir, 'failed')).length, 1)
})
