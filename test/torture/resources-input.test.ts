// Issue 11, resource attacks on input bounds, against a real `postern serve` while the probe keeps
// working: an IMAP APPEND announcing a 1 GiB literal (synchronizing and not), and a line that
// never ends on SMTP, IMAP and POP3. Each must be refused at its bound with the protocol's error,
// the server's memory must not follow the attacker's volume, and the session must go on (or be
// closed cleanly, for the literal that cannot be skipped).

import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ATTACKER,
  imapLogin,
  PROBE_BOUND_MS,
  RSS_HEADROOM_MIB,
  seededRandom,
  startResourceServer,
  underAttack,
} from './support/resources.ts'
import { readImapResponse, readSmtpReply, WireClient } from './support/resources-wire.ts'
import { TORTURE_SEED, tortureCount } from './support/settings.ts'

const GIB = 1024 * 1024 * 1024
const MIB = 1024 * 1024

test('an IMAP APPEND announcing a 1 GiB literal is refused at once and nothing is buffered', async (t) => {
  const server = await startResourceServer(t)
  const { imap } = server.postern.ports
  await underAttack(t, server, 'IMAP 1 GiB literal', async () => {
    // Synchronizing, logged in: a tagged NO [TOOBIG] instead of "+", and the session goes on.
    const client = await imapLogin(imap, ATTACKER)
    await client.write(`a1 APPEND INBOX {${GIB}}\r\n`)
    const refused = await readImapResponse(client, 'a1', PROBE_BOUND_MS)
    assert.deepEqual(refused.untagged, [], 'no "+ Ready" went out')
    assert.match(refused.tagged, /^a1 NO \[TOOBIG\]/)
    await client.write('a2 NOOP\r\n')
    assert.match((await readImapResponse(client, 'a2', PROBE_BOUND_MS)).tagged, /^a2 OK/)
    client.destroy()

    // Synchronizing, before login: any literal there is a short string, so the same refusal.
    const anonymous = await WireClient.connect(imap)
    assert.match(await anonymous.readLine(PROBE_BOUND_MS), /^\* OK/)
    await anonymous.write(`b1 APPEND INBOX {${GIB}}\r\n`)
    const early = await readImapResponse(anonymous, 'b1', PROBE_BOUND_MS)
    assert.deepEqual(early.untagged, [])
    assert.match(early.tagged, /^b1 (NO \[TOOBIG\]|BAD)/)
    anonymous.destroy()

    // Non-synchronizing (RFC 7888 LITERAL+): the octets are already coming and cannot be told
    // apart from commands once skipped, so the server says BYE at once and closes; the
    // attacker streams as fast as it can meanwhile, and none of it may pile up in the server.
    const streamer = await imapLogin(imap, ATTACKER)
    const announced = Date.now()
    await streamer.write(`c1 APPEND INBOX {${GIB}+}\r\n`)
    const junk = Buffer.alloc(MIB, 'x')
    let sent = 0
    let byeAfterMs = -1
    const bye = streamer.readLine(PROBE_BOUND_MS).finally(() => {
      byeAfterMs = Date.now() - announced
    })
    const streaming = (async () => {
      while (byeAfterMs < 0 && sent < GIB && (await streamer.write(junk))) sent += junk.length
    })()
    assert.match(await bye, /^\* BYE \[TOOBIG\]/)
    assert.ok(byeAfterMs <= PROBE_BOUND_MS, `the BYE came after ${byeAfterMs} ms`)
    // The server closes even though the attacker neither reads nor stops (a few seconds for
    // the goodbye to drain, src/net CLOSE_TIMEOUT_MS).
    await streamer.closed(10_000)
    await streaming
    t.diagnostic(`LITERAL+ of 1 GiB: BYE after ${byeAfterMs} ms, ${sent / MIB} MiB written`)
  })
})

test('a line that never ends is refused at its bound on SMTP, IMAP and POP3, memory flat', async (t) => {
  const server = await startResourceServer(t)
  const { ports } = server.postern
  // More than the memory bound, so a server that held the line could not pass.
  const total = tortureCount(RSS_HEADROOM_MIB + 64, 2048) * MIB
  const random = seededRandom(TORTURE_SEED)
  // Printable octets, no LF: one chunk, written again and again.
  const chunk = Buffer.alloc(MIB)
  for (let i = 0; i < chunk.length; i += 1) chunk[i] = 0x21 + Math.floor(random() * 94)

  const protocols = [
    {
      name: 'smtp',
      greeting: /^220 /,
      error: /^500 5\.5\.2 Line too long/,
      next: 'NOOP',
      nextAnswer: /^250 /,
    },
    {
      name: 'imap',
      greeting: /^\* OK/,
      error: /^\* BAD Command line longer than/,
      next: 'n1 NOOP',
      nextAnswer: /^n1 OK/,
    },
    {
      name: 'pop3',
      greeting: /^\+OK/,
      error: /^-ERR Line too long/,
      next: 'CAPA',
      nextAnswer: /^\+OK/,
    },
  ] as const
  for (const protocol of protocols) {
    await underAttack(t, server, `never-ending ${protocol.name} line`, async () => {
      const client = await WireClient.connect(ports[protocol.name])
      assert.match(await client.readLine(PROBE_BOUND_MS), protocol.greeting)
      let sent = 0
      let sentAtError = -1
      const error = client.readLine(60_000)
      void error.then(
        () => {
          sentAtError = sent
        },
        () => {},
      )
      while (sent < total) {
        assert.ok(await client.write(chunk), `the server closed the ${protocol.name} connection`)
        sent += chunk.length
      }
      const answer = await error
      assert.match(answer, protocol.error)
      // The error went out when the bound was passed, not when the line ended: by then the
      // attacker had written a small part of its stream (socket buffers hold a few MiB).
      assert.ok(
        sentAtError >= 0 && sentAtError <= 64 * MIB,
        `the error came after ${sentAtError / MIB} MiB`,
      )
      // The rest of the line was skipped, not kept: the session reads on after its end.
      await client.write(`\r\n${protocol.next}\r\n`)
      const after =
        protocol.name === 'smtp'
          ? await readSmtpReply(client, PROBE_BOUND_MS)
          : await client.readLine(PROBE_BOUND_MS)
      assert.match(after, protocol.nextAnswer)
      t.diagnostic(
        `${protocol.name}: error after ${(sentAtError / MIB).toFixed(0)} MiB of ${total / MIB} MiB`,
      )
      client.destroy()
    })
  }
})
