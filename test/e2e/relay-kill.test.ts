import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { SmtpClient } from '../../src/smtp/client/index.ts'
import { startFakeSmtp } from '../support/fake-smtp.ts'
import { getFreePorts } from '../support/free-port.ts'
import { runPostern, startPostern } from '../support/postern-process.ts'

// The queue under SIGKILL: a stream of submissions to a remote domain while `postern serve`
// relays them to a sink and is killed at random moments. After the last restart every message
// that got 250 at submission reaches the sink at least once, whole. Duplicates are allowed: a kill
// after the sink's 250 and before Postern recorded it sends the message again (README, "At least
// once, never lost").

const KILLS = 20
const PASSWORD = 'relay-kill-pw'

test('SIGKILL during outbound delivery loses no accepted message', async (t) => {
  const [sinkPort = 0] = await getFreePorts(1)
  const sink = await startFakeSmtp(t, { host: '127.0.0.1', port: sinkPort })
  const extraToml = [
    '[queue]',
    'poll_ms = 50',
    'lease_ms = 1000',
    'retry_min_ms = 1000',
    '[relay]',
    'command_timeout_ms = 2000',
    '[relay.smart_host]',
    `address = "127.0.0.1:${sinkPort}"`,
    'tls = "opportunistic"',
  ].join('\n')
  let server = await startPostern(t, { extraToml })
  const { dir, configPath } = server
  for (const args of [
    ['domain', 'add', 'example.test'],
    ['user', 'add', 'alice@example.test', '--password', PASSWORD],
  ]) {
    const result = await runPostern([...args, '--config', configPath])
    assert.equal(result.code, 0, result.stderr)
  }

  const acknowledged = new Map<string, number>()
  let next = 0
  const submitter = async (port: number) => {
    let client: SmtpClient
    try {
      client = await SmtpClient.connect({
        host: '127.0.0.1',
        port,
        tls: { rejectUnauthorized: false },
      })
      await client.hello('load.test')
      await client.startTls()
      await client.hello('load.test')
      await client.authenticate('alice@example.test', PASSWORD)
    } catch {
      return
    }
    for (;;) {
      const subject = `relay-kill-${next}`
      next += 1
      const body = `${'y'.repeat(70)}\r\n`.repeat(1 + (next % 50))
      const bytes = Buffer.from(
        `From: alice@example.test\r\nTo: r@sink.test\r\nSubject: ${subject}\r\n\r\n${body}`,
      )
      try {
        const sent = await client.send(
          { sender: 'alice@example.test', recipients: [{ address: 'r@sink.test' }] },
          {
            size: bytes.length,
            chunks: async function* () {
              yield bytes
            },
          },
        )
        if (sent.data?.code === 250) acknowledged.set(subject, body.length)
      } catch {
        client.close()
        return
      }
    }
  }

  for (let round = 0; round < KILLS; round += 1) {
    const submitting = [submitter(server.ports.submission), submitter(server.ports.submission)]
    await sleep(200 + Math.floor(Math.random() * 400))
    await server.stop('SIGKILL')
    await Promise.all(submitting)
    server = await startPostern(t, { dir, extraToml })
  }
  // The last run drains the queue.
  for (let i = 0; ; i += 1) {
    const list = await runPostern(['queue', 'list', '--config', configPath])
    if (list.stdout.includes('the queue is empty')) break
    assert.ok(i < 120, `the queue did not drain:\n${list.stdout}`)
    await sleep(250)
  }
  await server.stop('SIGTERM')

  const received = new Map<string, number>()
  for (const transaction of sink.transactions) {
    const text = transaction.data.toString('latin1')
    const subject = /\r\nSubject: (relay-kill-\d+)\r\n/.exec(text)?.[1]
    assert.ok(subject, 'every relayed message is whole, with its header')
    const bodyLength = text.length - text.indexOf('\r\n\r\n') - 4
    const expected = acknowledged.get(subject)
    if (expected !== undefined) assert.equal(bodyLength, expected, `${subject} arrived whole`)
    received.set(subject, (received.get(subject) ?? 0) + 1)
  }
  const lost = [...acknowledged.keys()].filter((subject) => !received.has(subject))
  assert.deepEqual(lost, [], 'every acknowledged message reached the sink')
  const duplicates = [...received.values()].filter((count) => count > 1).length
  t.diagnostic(
    `${acknowledged.size} acknowledged, ${sink.transactions.length} relayed, ${duplicates} sent twice after a kill`,
  )
  assert.ok(acknowledged.size > KILLS, 'the load kept going across the kills')
})
