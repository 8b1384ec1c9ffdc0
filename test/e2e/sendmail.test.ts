// `postern sendmail` as programs run it: a separate process, the message on standard input,
// against a real Postern submission server (STARTTLS or implicit TLS, AUTH, the certificate
// checked against the config's ca_file), and its spool when the server is down or refuses.
import assert from 'node:assert/strict'
import { chmodSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { startFakeSmtp } from '../support/fake-smtp.ts'
import { getFreePorts } from '../support/free-port.ts'
import {
  ALICE,
  BOB,
  makeClientHome,
  sendmail,
  startMailServer,
  submissionToml,
} from '../support/mail-client.ts'
import { eventually } from '../support/postern-node.ts'
import { spawnPostern } from '../support/postern-process.ts'

const MESSAGE = [
  'From: Alice <alice@example.test>',
  'To: bob@example.test',
  'Subject: from a script',
  'Date: Thu, 26 Nov 2026 12:00:00 +0000',
  'Message-ID: <script-1@example.test>',
  '',
  'Hello Bob,',
  '.leading dot and a line with only a dot next:',
  '.',
  'not the end with -i',
  '',
].join('\n')

/** The stored message without the trace fields the server put on top (RFC 5321 §4.4). */
function withoutReceived(message: Buffer): string {
  return message
    .toString('latin1')
    .replace(/^((Return-Path|Delivered-To|Received):.*\r\n([ \t].*\r\n)*)+/, '')
}

test('sendmail -i submits over STARTTLS with AUTH; the message arrives byte for byte', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  home.writeConfig(submissionToml(server, home))
  const result = await sendmail(home, ['-i', BOB.address], MESSAGE)
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.stderr, '')
  const [stored, ...more] = await server.inbox(BOB.address)
  assert.equal(more.length, 0)
  assert.ok(stored)
  assert.equal(withoutReceived(stored), MESSAGE.replaceAll('\n', '\r\n'))
})

test('implicit TLS (465); without -i a lone dot ends the message; -v narrates', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  home.writeConfig(
    submissionToml(server, home, { port: server.ports.submissions, security: 'tls' }),
  )
  const result = await sendmail(home, ['-v', BOB.address], MESSAGE)
  assert.equal(result.code, 0, result.stderr)
  assert.match(result.stderr, /authenticated as alice@example\.test/)
  assert.match(result.stderr, /DATA: 250/)
  const [stored] = await server.inbox(BOB.address)
  assert.ok(stored)
  assert.match(withoutReceived(stored), /\r\nnot the end|only a dot next:\r\n$/)
  assert.doesNotMatch(stored.toString(), /not the end with -i/)
})

test('-t takes To, Cc and Bcc, removes Bcc, adds Date and Message-ID', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  home.writeConfig(submissionToml(server, home))
  const input = `To: ${BOB.address}\nBcc: ${ALICE.address}\nSubject: t\n\nbody\n`
  const result = await sendmail(home, ['-t', '-i', '-F', 'Alice A.'], input)
  assert.equal(result.code, 0, result.stderr)
  for (const address of [BOB.address, ALICE.address]) {
    const [stored] = await server.inbox(address)
    assert.ok(stored, address)
    const text = withoutReceived(stored)
    const header = text.slice(0, text.indexOf('\r\n\r\n'))
    assert.doesNotMatch(header, /^Bcc:/im)
    assert.match(header, /^From: "Alice A\." <alice@example\.test>$/m)
    assert.match(header, /^Date: /m)
    assert.match(header, /^Message-ID: <[0-9a-z]+@example\.test>$/m)
    assert.ok(text.endsWith('\r\n\r\nbody\r\n'))
  }
})

test('server down: spooled (exit 0), listed, then --flush delivers it exactly once', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  const [closedPort = 0] = await getFreePorts(1)
  home.writeConfig(submissionToml(server, home, { port: closedPort }))
  const queued = await sendmail(home, ['-i', BOB.address], MESSAGE)
  assert.equal(queued.code, 0, queued.stderr)
  assert.match(queued.stderr, /queued as \S+ for 1 recipient\(s\)/)
  const listing = await sendmail(home, ['--queue'])
  assert.equal(listing.code, 0)
  assert.match(listing.stdout, /queued .* attempts 1/)
  assert.match(listing.stdout, /to <bob@example\.test>/)
  assert.match(listing.stdout, /last error: .*ECONNREFUSED|last error: .*connect/i)
  // Still down: the flush leaves it queued and says so (EX_TEMPFAIL).
  assert.equal((await sendmail(home, ['--flush'])).code, 75)
  assert.deepEqual(await server.inbox(BOB.address), [])

  home.writeConfig(submissionToml(server, home))
  const flushed = await sendmail(home, ['--flush'])
  assert.equal(flushed.code, 0, flushed.stdout + flushed.stderr)
  assert.match(flushed.stdout, /1 sent, 0 still queued, 0 refused/)
  assert.equal((await sendmail(home, ['--flush'])).stdout.trim(), 'the spool is empty')
  const inbox = await server.inbox(BOB.address)
  assert.equal(inbox.length, 1)
  assert.equal(withoutReceived(inbox[0] ?? Buffer.alloc(0)), MESSAGE.replaceAll('\n', '\r\n'))
})

test('a 5xx is reported, the message kept in failed/, and the exit code says so', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  home.writeConfig(submissionToml(server, home))
  const result = await sendmail(home, ['-i', 'nobody@example.test', BOB.address], MESSAGE)
  assert.equal(result.code, 67, result.stderr) // EX_NOUSER
  assert.match(result.stderr, /refused for nobody@example\.test: 550 5\.1\.1/)
  assert.match(result.stderr, /kept in .*failed/)
  assert.equal((await server.inbox(BOB.address)).length, 1)
  const failed = readdirSync(path.join(home.spoolDir, 'failed'))
  assert.equal(failed.length, 1)
  const kept = readFileSync(path.join(home.spoolDir, 'failed', failed[0] ?? ''))
  assert.ok(kept.includes(Buffer.from(MESSAGE.replaceAll('\n', '\r\n'))))
  const listing = await sendmail(home, ['--queue'])
  assert.match(listing.stdout, /failed .*\n.*nobody@example\.test.*\n {4}reason: .*550 5\.1\.1/)
})

test('a flusher killed after the server took the message: sent again (at least once)', async (t) => {
  const home = makeClientHome(t)
  let flusherPid = 0
  const fake = await startFakeSmtp(t, {
    host: '127.0.0.1',
    port: (await getFreePorts(1))[0] ?? 0,
    onData: () => {
      // The message is received; the flusher dies before it reads the 250.
      if (flusherPid !== 0) process.kill(flusherPid, 'SIGKILL')
      flusherPid = 0
      return '250 2.0.0 queued'
    },
  })
  home.writeConfig(
    [
      '[submission]',
      'host = "127.0.0.1"',
      `port = ${fake.port}`,
      'security = "none"',
      `spool = "${home.spoolDir}"`,
      `from = "${ALICE.address}"`,
      '',
    ].join('\n'),
  )
  assert.equal((await sendmail(home, ['-odq', '-i', BOB.address], MESSAGE)).code, 0)
  const flusher = spawnPostern(['sendmail', '--flush'], { env: home.env })
  flusherPid = flusher.pid
  const killed = await flusher.exit
  assert.equal(killed.signal, 'SIGKILL')
  assert.equal(fake.transactions.length, 1)
  // The entry was left in sending/ by a dead process: the next flush sends it again.
  const again = await sendmail(home, ['--flush'])
  assert.equal(again.code, 0, again.stdout + again.stderr)
  assert.equal(fake.transactions.length, 2)
  assert.deepEqual(fake.transactions[0]?.data, fake.transactions[1]?.data)
  assert.equal((await sendmail(home, ['--flush'])).stdout.trim(), 'the spool is empty')
})

test('--daemon sends what is spooled as it arrives and stops on SIGTERM', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  home.writeConfig(submissionToml(server, home))
  const daemon = spawnPostern(['sendmail', '--daemon'], { env: home.env })
  t.after(() => daemon.kill('SIGKILL'))
  assert.equal((await sendmail(home, ['-odq', '-i', BOB.address], MESSAGE)).code, 0)
  await eventually(
    async () => ((await server.inbox(BOB.address)).length === 1 ? true : undefined),
    20_000,
  )
  daemon.kill('SIGTERM')
  const exit = await daemon.exit
  assert.equal(exit.code, 0, daemon.stderr())
  assert.match(daemon.stderr(), /sent to bob@example\.test/)
})

test('config problems: a password readable by others, no server, a bad sender', async (t) => {
  const server = await startMailServer(t)
  const home = makeClientHome(t)
  home.writeConfig(submissionToml(server, home))
  chmodSync(home.configPath, 0o644)
  const open = await sendmail(home, [BOB.address], MESSAGE)
  assert.equal(open.code, 78) // EX_CONFIG
  assert.match(open.stderr, /can be read by others \(mode 644\).*chmod 600/)
  home.writeConfig('')
  const none = await sendmail(home, [BOB.address], MESSAGE)
  assert.equal(none.code, 78)
  assert.match(none.stderr, /no submission server/)
  home.writeConfig(submissionToml(server, home))
  assert.equal((await sendmail(home, ['-f', 'not an address', BOB.address], MESSAGE)).code, 64)
  assert.equal((await sendmail(home, [], MESSAGE)).code, 64)
  assert.equal((await sendmail(home, ['-X'], MESSAGE)).code, 64)
})
