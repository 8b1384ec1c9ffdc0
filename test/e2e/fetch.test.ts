// The whole model from the user's side: `postern sendmail` submits to Postern, Postern stores
// the message in the recipient's mailbox, and `postern fetch` (separate processes, as a user
// runs them) brings it down over POP3 or IMAP into a Maildir or mbox, byte for byte (line ends
// made LF, as local mail files have them; Received fields aside).
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import {
  BOB,
  type ClientHome,
  type MailServer,
  makeClientHome,
  sendmail,
  startMailServer,
  submissionToml,
} from '../support/mail-client.ts'
import { eventually } from '../support/postern-node.ts'
import { runPostern, spawnPostern } from '../support/postern-process.ts'

function message(n: number): string {
  return [
    'From: Alice <alice@example.test>',
    `To: ${BOB.address}`,
    `Subject: number ${n}`,
    'Date: Thu, 26 Nov 2026 12:00:00 +0000',
    `Message-ID: <fetch-${n}@example.test>`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Message ${n}, with 8-bit text: caf\u00e9.`,
    'From the start of a line (mbox quotes it).',
    '.a line with a leading dot',
    '',
  ].join('\n')
}

function fetchToml(server: MailServer, protocol: 'pop3' | 'imap', sink: string) {
  const port = protocol === 'pop3' ? server.ports.pop3s : server.ports.imaps
  return [
    '[fetch]',
    `protocol = "${protocol}"`,
    'host = "127.0.0.1"',
    `port = ${port}`,
    'security = "tls"',
    `user = "${BOB.address}"`,
    `password = "${BOB.password}"`,
    `ca_file = "${server.caFile}"`,
    sink,
    '',
  ].join('\n')
}

function fetch(home: ClientHome, args: readonly string[] = []) {
  return runPostern(['fetch', ...args], { env: home.env, timeoutMs: 60_000 })
}

/** The Maildir's messages (new/), oldest first, as text. */
function maildirMessages(dir: string): string[] {
  const folder = path.join(dir, 'new')
  if (!existsSync(folder)) return []
  return readdirSync(folder)
    .sort()
    .map((name) => readFileSync(path.join(folder, name), 'utf8'))
}

function withoutReceived(text: string): string {
  return text.replace(/^((Return-Path|Delivered-To|Received):.*\n([ \t].*\n)*)+/, '')
}

async function submit(home: ClientHome, count: number, from = 1) {
  for (let n = from; n < from + count; n += 1) {
    const result = await sendmail(home, ['-i', BOB.address], message(n))
    assert.equal(result.code, 0, result.stderr)
  }
}

test('sendmail, then fetch over POP3 into a Maildir: the same bytes, deleted on the server', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  const maildir = path.join(home.dir, 'Maildir')
  home.writeConfig(
    submissionToml(server, home) + fetchToml(server, 'pop3', `maildir = "${maildir}"`),
  )
  await submit(home, 3)
  const result = await fetch(home, ['-v'])
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stderr, /3 message\(s\).*3 deleted on the server/)
  const fetched = maildirMessages(maildir).map(withoutReceived).sort()
  assert.deepEqual(fetched, [message(1), message(2), message(3)])
  assert.deepEqual(await server.inbox(BOB.address), [])
  // Nothing left: a second run fetches nothing and writes nothing.
  assert.equal((await fetch(home)).code, 0)
  assert.equal(maildirMessages(maildir).length, 3)
})

test('fetch over IMAP into an mbox with --keep: each message once, the server keeps them', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  const mbox = path.join(home.dir, 'mail.mbox')
  home.writeConfig(submissionToml(server, home) + fetchToml(server, 'imap', `mbox = "${mbox}"`))
  await submit(home, 2)
  assert.equal((await fetch(home, ['--keep'])).code, 0)
  assert.equal((await fetch(home, ['--keep'])).code, 0)
  await submit(home, 1, 3)
  assert.equal((await fetch(home, ['--keep'])).code, 0)
  const text = readFileSync(mbox, 'utf8')
  const parts = text.split(/^From \S+ .*\n/m).filter((part) => part !== '')
  assert.equal(parts.length, 3, text)
  parts.forEach((part, index) => {
    // mboxrd: "From " at a line start is quoted with ">", and a blank line ends each message.
    const unquoted = part.replace(/^>(>*From )/gm, '$1').replace(/\n$/, '')
    assert.equal(withoutReceived(unquoted), message(index + 1))
  })
  assert.equal((await server.inbox(BOB.address)).length, 3)
})

test('fetch over IMAP without --keep deletes after the local write', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  const maildir = path.join(home.dir, 'Maildir')
  home.writeConfig(
    submissionToml(server, home) + fetchToml(server, 'imap', `maildir = "${maildir}"`),
  )
  await submit(home, 2)
  const result = await fetch(home)
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.stderr, '', 'quiet when not on a terminal')
  assert.equal(maildirMessages(maildir).length, 2)
  assert.deepEqual(await server.inbox(BOB.address), [])
})

test('fetch --idle brings new mail down as it arrives, and stops on SIGTERM', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  const maildir = path.join(home.dir, 'Maildir')
  home.writeConfig(
    submissionToml(server, home) + fetchToml(server, 'imap', `maildir = "${maildir}"`),
  )
  const watcher = spawnPostern(['fetch', '--idle', '-v'], { env: home.env })
  t.after(() => watcher.kill('SIGKILL'))
  // The first pass (an empty mailbox) is reported before IDLE starts.
  await eventually(async () => (/0 message\(s\)/.test(watcher.stderr()) ? true : undefined))
  await submit(home, 1)
  await eventually(async () => (maildirMessages(maildir).length === 1 ? true : undefined), 20_000)
  assert.equal(withoutReceived(maildirMessages(maildir)[0] ?? ''), message(1))
  watcher.kill('SIGTERM')
  const exit = await watcher.exit
  assert.equal(exit.code, 0, watcher.stderr())
})

test('fetch errors: a wrong password, an untrusted certificate, --idle over POP3', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  home.writeConfig(
    fetchToml(server, 'imap', `maildir = "${path.join(home.dir, 'M')}"`).replace(
      BOB.password,
      'wrong',
    ),
  )
  const wrong = await fetch(home)
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /postern fetch: .*(AUTHENTICATIONFAILED|authentication|LOGIN)/i)
  home.writeConfig(
    fetchToml(server, 'pop3', `maildir = "${path.join(home.dir, 'M')}"`).replace(
      /ca_file = .*\n/,
      '',
    ),
  )
  const untrusted = await fetch(home)
  assert.equal(untrusted.code, 1)
  assert.match(untrusted.stderr, /certificate/i)
  home.writeConfig(fetchToml(server, 'pop3', `maildir = "${path.join(home.dir, 'M')}"`))
  const idle = await fetch(home, ['--idle'])
  assert.equal(idle.code, 1)
  assert.match(idle.stderr, /--idle needs IMAP/)
})
