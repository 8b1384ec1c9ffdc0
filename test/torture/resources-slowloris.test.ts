// Issue 11, resource attack: slowloris against a real `postern serve` while the probe keeps
// working. Connections trickle one octet a second into a command line (SMTP, IMAP, POP3) or an
// SMTP DATA body and never finish it; every octet is activity, so an idle timer alone never
// fires. The server's timeouts must end them all the same, each with its protocol's goodbye.
//
// POP3's timeout cannot be shorter than RFC 1939 §3's ten minutes (config minimum), so the short
// form only checks that those connections hurt no one; the long form waits for their end too.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  ATTACKER,
  PROBE_BOUND_MS,
  seededRandom,
  startResourceServer,
  underAttack,
} from './support/resources.ts'
import { readSmtpReply, WireClient } from './support/resources-wire.ts'
import { TORTURE_FORM, TORTURE_SEED, tortureCount } from './support/settings.ts'

/** Slow connections of each kind. */
const COUNT = tortureCount(10, 100)
/** The SMTP timeout (timeout_ms); IMAP and POP3 run at their configurable minimums. */
const SMTP_TIMEOUT_MS = tortureCount(5_000, 60_000)
const IMAP_TIMEOUT_MS = 60_000
const POP3_TIMEOUT_MS = 600_000
/** The long form waits out POP3's ten minutes. */
const TEST_TIMEOUT_MS = tortureCount(120_000, 20 * 60_000)
/** How late after its timeout a connection may end (thousands of timers, a busy machine). */
const SLACK_MS = 10_000

interface Slow {
  kind: string
  client: WireClient
  /** When it began to trickle. */
  startedAt: number
  timeoutMs: number
  goodbye: RegExp
  /** The goodbye is only awaited in the long form (POP3's ten minutes). */
  isAwaited: boolean
}

/** Sends one octet a second from `text` (cycled) until the connection closes. */
function trickle(client: WireClient, text: string, random: () => number): void {
  let i = 0
  // The connections do not tick in step, as real ones would not.
  const tick = () => {
    if (client.isClosed) return
    void client.write(text[i % text.length] ?? 'x')
    i += 1
    setTimeout(tick, 900 + Math.floor(random() * 200))
  }
  setTimeout(tick, Math.floor(random() * 1000))
}

test('slowloris connections (one octet a second) are ended by the timeouts', {
  timeout: TEST_TIMEOUT_MS,
}, async (t) => {
  t.diagnostic(
    `${COUNT} connections of each kind (${TORTURE_FORM} form); SMTP timeout ${SMTP_TIMEOUT_MS} ms`,
  )
  const server = await startResourceServer(
    t,
    [
      // All of them come from 127.0.0.1, beside the probe: the per-address limit (50 by
      // default, its own defence, tested on its own) would refuse the long form's hundreds
      // before the timeouts this test is about had anything to end.
      `[limits]\nmax_connections_per_ip = ${4 * COUNT + 50}\n`,
      `[smtp]\ntimeout_ms = ${SMTP_TIMEOUT_MS}\n`,
      `[imap]\ntimeout_ms = ${IMAP_TIMEOUT_MS}\n`,
      `[pop3]\ntimeout_ms = ${POP3_TIMEOUT_MS}\n`,
    ].join('\n'),
  )
  const { ports } = server.postern
  const random = seededRandom(TORTURE_SEED)
  const slow: Slow[] = []
  t.after(() => {
    for (const connection of slow) connection.client.destroy()
  })

  await underAttack(t, server, 'slowloris', async () => {
    for (let i = 0; i < COUNT; i += 1) {
      // A command line that never ends.
      const smtpLine = await WireClient.connect(ports.smtp)
      assert.match(await smtpLine.readLine(PROBE_BOUND_MS), /^220 /)
      await smtpLine.write('EHLO ')
      slow.push({
        kind: 'smtp command line',
        client: smtpLine,
        startedAt: Date.now(),
        timeoutMs: SMTP_TIMEOUT_MS,
        goodbye: /^421 4\.4\.2 /,
        isAwaited: true,
      })
      trickle(smtpLine, 'slow.example.org.', random)

      // A message body that never ends.
      const smtpData = await WireClient.connect(ports.smtp)
      assert.match(await readSmtpReply(smtpData, PROBE_BOUND_MS), /^220 /)
      for (const [command, code] of [
        ['EHLO slow.example.org', '250'],
        ['MAIL FROM:<slow@remote.test>', '250'],
        [`RCPT TO:<${ATTACKER.address}>`, '250'],
        ['DATA', '354'],
      ] as const) {
        await smtpData.write(`${command}\r\n`)
        const reply = await readSmtpReply(smtpData, PROBE_BOUND_MS)
        assert.ok(reply.startsWith(code), `${command}: ${reply}`)
      }
      slow.push({
        kind: 'smtp DATA body',
        client: smtpData,
        startedAt: Date.now(),
        timeoutMs: SMTP_TIMEOUT_MS,
        goodbye: /^421 4\.4\.2 /,
        isAwaited: true,
      })
      trickle(smtpData, 'Subject: slow\r\n\r\nA line of a body that takes its time.\r\n', random)

      const imap = await WireClient.connect(ports.imap)
      assert.match(await imap.readLine(PROBE_BOUND_MS), /^\* OK/)
      await imap.write('a1 LOGIN ')
      slow.push({
        kind: 'imap command line',
        client: imap,
        startedAt: Date.now(),
        timeoutMs: IMAP_TIMEOUT_MS,
        goodbye: /^\* BYE /,
        isAwaited: true,
      })
      trickle(imap, 'mallory', random)

      const pop3 = await WireClient.connect(ports.pop3)
      assert.match(await pop3.readLine(PROBE_BOUND_MS), /^\+OK/)
      await pop3.write('USER ')
      slow.push({
        kind: 'pop3 command line',
        client: pop3,
        startedAt: Date.now(),
        timeoutMs: POP3_TIMEOUT_MS,
        goodbye: /^-ERR /,
        isAwaited: TORTURE_FORM === 'long',
      })
      trickle(pop3, 'mallory', random)
    }

    // The probe runs while they trickle, until every awaited one should have been ended.
    const awaited = slow.filter((connection) => connection.isAwaited)
    const deadline = Math.max(...awaited.map((c) => c.startedAt + c.timeoutMs + SLACK_MS))
    while (Date.now() < deadline && awaited.some((connection) => !connection.client.isClosed)) {
      await sleep(500)
    }
  })

  const lifetimes = new Map<string, number[]>()
  let stillOpen = 0
  for (const connection of slow) {
    const { client, kind } = connection
    if (!connection.isAwaited) {
      assert.ok(!client.isClosed, `${kind}: still open, its ten minutes are not over`)
      stillOpen += 1
      continue
    }
    assert.ok(client.isClosed, `${kind}: still open after ${connection.timeoutMs} ms`)
    const lived = (client.closedAt ?? 0) - connection.startedAt
    assert.ok(
      lived <= connection.timeoutMs + SLACK_MS,
      `${kind}: ended after ${lived} ms, its timeout is ${connection.timeoutMs} ms`,
    )
    assert.match(client.unread.split('\r\n')[0] ?? '', connection.goodbye, `${kind}'s goodbye`)
    lifetimes.set(kind, [...(lifetimes.get(kind) ?? []), lived / 1000])
  }
  for (const [kind, seconds] of lifetimes) {
    const range = [Math.min(...seconds), Math.max(...seconds)].map((s) => s.toFixed(1))
    t.diagnostic(`${kind}: ended after ${range.join('–')} s`)
  }
  if (stillOpen > 0) {
    t.diagnostic(`${stillOpen} slow pop3 connections still open, as they may be for ten minutes`)
  }
})
