// Issue 11, resource attack: a flood of tiny pipelined commands (NOOP) on SMTP, IMAP and POP3
// against a real `postern serve` while the probe keeps working. The session limit
// (`max_commands`) must end each flood with the protocol's error after exactly that many
// commands; the answers must flow while the flood is still being written (a server that held
// them until the client paused would buffer without bound); memory stays bounded.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ATTACKER,
  PROBE_BOUND_MS,
  pop3Login,
  startResourceServer,
  underAttack,
} from './support/resources.ts'
import { WireClient } from './support/resources-wire.ts'
import { TORTURE_FORM, tortureCount } from './support/settings.ts'

/**
 * Commands the attacker sends on each protocol: a million, which the server serves in a few
 * seconds, so the short form needs no smaller count; ten million in the long form.
 */
const FLOOD = tortureCount(1_000_000, 10_000_000)
/** The server's max_commands: the flood passes it half-way. */
const MAX_COMMANDS = FLOOD / 2
/** Commands per write: the attacker writes as fast as the socket takes them. */
const BATCH = 2000

interface FloodResult {
  answered: number
  last: string
  written: number
  /** When the first answer arrived and when the server closed, in ms from the first write. */
  firstAnswerMs: number
  closedMs: number
}

/**
 * Writes `count` copies of `command` in batches while counting the answers that match `ok`;
 * stops writing when the server closes. Returns once the server has closed the connection.
 */
async function flood(
  client: WireClient,
  command: string,
  count: number,
  ok: RegExp,
): Promise<FloodResult> {
  const result: FloodResult = { answered: 0, last: '', written: 0, firstAnswerMs: -1, closedMs: -1 }
  const started = Date.now()
  const count_ = () => {
    for (const line of client.takeLines()) {
      if (ok.test(line)) {
        result.answered += 1
        if (result.firstAnswerMs < 0) result.firstAnswerMs = Date.now() - started
      } else {
        result.last = line
      }
    }
  }
  client.socket.on('data', count_)
  const batch = Buffer.from(command.repeat(BATCH), 'latin1')
  while (result.written < count && (await client.write(batch))) result.written += BATCH
  await client.closed(120_000)
  result.closedMs = Date.now() - started
  count_()
  client.socket.off('data', count_)
  return result
}

/**
 * The answers went out as the commands were served, not in one piece at the end: a server that
 * holds every answer while more commands are waiting buffers as much as the flood is long.
 */
function assertAnswersFlowed(result: FloodResult): void {
  assert.ok(
    result.firstAnswerMs >= 0 && result.firstAnswerMs < result.closedMs / 2,
    `the first answer came after ${result.firstAnswerMs} ms of ${result.closedMs} ms`,
  )
}

test(`a flood of ${FLOOD} pipelined NOOPs is cut by max_commands on SMTP, IMAP and POP3`, async (t) => {
  t.diagnostic(
    `${FLOOD} commands per protocol (${TORTURE_FORM} form), max_commands ${MAX_COMMANDS}`,
  )
  const server = await startResourceServer(
    t,
    [
      `[smtp]\nmax_commands = ${MAX_COMMANDS}\n`,
      `[imap]\nmax_commands = ${MAX_COMMANDS}\n`,
      `[pop3]\nmax_commands = ${MAX_COMMANDS}\n`,
    ].join('\n'),
  )
  const { ports } = server.postern

  await t.test('SMTP', (t) =>
    underAttack(t, server, `${FLOOD} pipelined SMTP NOOPs`, async () => {
      const client = await WireClient.connect(ports.smtp, { maxBuffered: 1024 * 1024 })
      assert.match(await client.readLine(PROBE_BOUND_MS), /^220 /)
      const result = await flood(client, 'NOOP\r\n', FLOOD, /^250 /)
      t.diagnostic(`smtp: ${JSON.stringify(result)}`)
      assert.equal(result.answered, MAX_COMMANDS)
      assert.match(result.last, /^421 4\.7\.0 .*Too many commands/)
      assertAnswersFlowed(result)
    }),
  )

  await t.test('IMAP', (t) =>
    underAttack(t, server, `${FLOOD} pipelined IMAP NOOPs`, async () => {
      const client = await WireClient.connect(ports.imap, { maxBuffered: 1024 * 1024 })
      assert.match(await client.readLine(PROBE_BOUND_MS), /^\* OK/)
      const result = await flood(client, 'a NOOP\r\n', FLOOD, /^a OK /)
      t.diagnostic(`imap: ${JSON.stringify(result)}`)
      assert.equal(result.answered, MAX_COMMANDS)
      assert.match(result.last, /^\* BYE Too many commands/)
      assertAnswersFlowed(result)
    }),
  )

  await t.test('POP3', (t) =>
    underAttack(t, server, `${FLOOD} pipelined POP3 NOOPs`, async () => {
      // NOOP is a TRANSACTION-state command (RFC 1939 §5): log in first (USER and PASS count).
      const client = await pop3Login(ports.pop3, ATTACKER)
      const result = await flood(client, 'NOOP\r\n', FLOOD, /^\+OK/)
      t.diagnostic(`pop3: ${JSON.stringify(result)}`)
      assert.equal(result.answered, MAX_COMMANDS - 2)
      assert.match(result.last, /^-ERR Too many commands/)
      assertAnswersFlowed(result)
    }),
  )
})
