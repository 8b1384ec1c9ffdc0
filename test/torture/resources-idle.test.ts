// Issue 11, resource attack: thousands of connections opened against a real `postern serve` and
// left idle, spread over SMTP, IMAP and POP3, while the probe keeps working. All of them must be
// admitted (the limits are raised for the test) and greeted, the probe must keep its bound with
// them open, and the idle timeouts must end them, each with its protocol's goodbye.
//
// POP3's timeout cannot be shorter than RFC 1939 §3's ten minutes (config minimum), so the short
// form checks that those connections are still open and served no harm; the long form waits for
// their end too.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  openFilesLimit,
  seededRandom,
  startResourceServer,
  underAttack,
} from './support/resources.ts'
import { readSmtpReply, WireClient } from './support/resources-wire.ts'
import { TORTURE_FORM, TORTURE_SEED, tortureCount } from './support/settings.ts'

const CONNECTIONS = tortureCount(2000, 5000)
const SMTP_TIMEOUT_MS = tortureCount(20_000, 300_000)
const IMAP_TIMEOUT_MS = 60_000
const POP3_TIMEOUT_MS = 600_000
/** How late after its timeout a connection may end: thousands end at about the same time. */
const SLACK_MS = 15_000
/** The long form waits out POP3's ten minutes. */
const TEST_TIMEOUT_MS = tortureCount(120_000, 20 * 60_000)
/** Connections opened at the same time. */
const OPENING_BATCH = 100

interface Idle {
  protocol: 'smtp' | 'imap' | 'pop3'
  client: WireClient
  greetedAt: number
  timeoutMs: number
  goodbye: RegExp
  isAwaited: boolean
}

const PROTOCOLS = [
  { name: 'smtp', greeting: /^220 /, timeoutMs: SMTP_TIMEOUT_MS, goodbye: /^421 4\.4\.2 / },
  { name: 'imap', greeting: /^\* OK/, timeoutMs: IMAP_TIMEOUT_MS, goodbye: /^\* BYE / },
  { name: 'pop3', greeting: /^\+OK/, timeoutMs: POP3_TIMEOUT_MS, goodbye: /^-ERR / },
] as const

test(`${CONNECTIONS} idle connections leave the probe served and end at their timeouts`, {
  timeout: TEST_TIMEOUT_MS,
}, async (t) => {
  // Each connection is a descriptor in this process and one in the server's.
  const needed = CONNECTIONS + 500
  assert.ok(
    openFilesLimit('self') >= needed,
    `ulimit -n is ${openFilesLimit('self')}; raise it to at least ${needed} for this test`,
  )
  t.diagnostic(
    `${CONNECTIONS} connections (${TORTURE_FORM} form), SMTP timeout ${SMTP_TIMEOUT_MS} ms`,
  )
  const server = await startResourceServer(
    t,
    [
      `[limits]\nmax_connections = ${needed}\nmax_connections_per_ip = ${needed}\n`,
      `[smtp]\ntimeout_ms = ${SMTP_TIMEOUT_MS}\n`,
      `[imap]\ntimeout_ms = ${IMAP_TIMEOUT_MS}\n`,
      `[pop3]\ntimeout_ms = ${POP3_TIMEOUT_MS}\n`,
    ].join('\n'),
  )
  assert.ok(openFilesLimit(server.pid) >= needed, 'the server may open as many descriptors')
  const { ports } = server.postern
  const random = seededRandom(TORTURE_SEED)
  const idle: Idle[] = []
  t.after(() => {
    for (const connection of idle) connection.client.destroy()
  })

  await underAttack(t, server, `${CONNECTIONS} idle connections`, async () => {
    const openedAt = Date.now()
    const open = async () => {
      const protocol = PROTOCOLS[Math.floor(random() * PROTOCOLS.length)] ?? PROTOCOLS[0]
      const client = await WireClient.connect(ports[protocol.name], { maxBuffered: 4096 })
      const greeting =
        protocol.name === 'smtp'
          ? await readSmtpReply(client, 30_000)
          : await client.readLine(30_000)
      assert.match(greeting, protocol.greeting, `${protocol.name} greeting`)
      idle.push({
        protocol: protocol.name,
        client,
        greetedAt: Date.now(),
        timeoutMs: protocol.timeoutMs,
        goodbye: protocol.goodbye,
        isAwaited: protocol.name !== 'pop3' || TORTURE_FORM === 'long',
      })
    }
    for (let opened = 0; opened < CONNECTIONS; opened += OPENING_BATCH) {
      await Promise.all(Array.from({ length: Math.min(OPENING_BATCH, CONNECTIONS - opened) }, open))
    }
    const openingMs = Date.now() - openedAt
    t.diagnostic(`${idle.length} connections open and greeted in ${openingMs} ms`)
    assert.equal(idle.length, CONNECTIONS)

    // All of them open at once while the probe runs, then each ends at its timeout.
    await sleep(3000)
    const early = idle.filter((connection) => connection.client.isClosed)
    assert.deepEqual(
      early.map((connection) => connection.protocol),
      [],
      'no connection ended before its timeout',
    )
    const awaited = idle.filter((connection) => connection.isAwaited)
    const deadline = Math.max(...awaited.map((c) => c.greetedAt + c.timeoutMs + SLACK_MS))
    while (Date.now() < deadline && awaited.some((connection) => !connection.client.isClosed)) {
      await sleep(500)
    }
  })

  const lifetimes = new Map<string, number[]>()
  let stillOpen = 0
  for (const connection of idle) {
    const { client, protocol } = connection
    if (!connection.isAwaited) {
      assert.ok(!client.isClosed, `${protocol}: still open, its ten minutes are not over`)
      stillOpen += 1
      continue
    }
    assert.ok(client.isClosed, `${protocol}: still open after ${connection.timeoutMs} ms`)
    const lived = (client.closedAt ?? 0) - connection.greetedAt
    assert.ok(
      lived >= connection.timeoutMs - 1000 && lived <= connection.timeoutMs + SLACK_MS,
      `${protocol}: ended after ${lived} ms, its timeout is ${connection.timeoutMs} ms`,
    )
    assert.match(client.unread, connection.goodbye, `${protocol}'s goodbye`)
    lifetimes.set(protocol, [...(lifetimes.get(protocol) ?? []), lived / 1000])
  }
  for (const [protocol, seconds] of lifetimes) {
    const range = [Math.min(...seconds), Math.max(...seconds)].map((s) => s.toFixed(1))
    t.diagnostic(`${seconds.length} idle ${protocol} connections ended after ${range.join('–')} s`)
  }
  if (stillOpen > 0) {
    t.diagnostic(`${stillOpen} idle pop3 connections still open, as they may be for ten minutes`)
  }
})
