import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadConfig } from '../../src/config/index.ts'
import { openStore } from '../../src/server/index.ts'
import { silentLogger } from '../../src/util/index.ts'
import { mailboxMessages } from '../support/mailbox.ts'
import { runPostern, startPostern } from '../support/postern-process.ts'
import { SmtpTestClient } from '../support/smtp.ts'

// DESIGN.md invariant 1 under SIGKILL: several clients send while `postern serve` is killed at
// random moments and restarted. Every message that got 250 must be in the mailbox afterwards,
// exactly once; a message that did not get 250 may be there (the kill came after the commit
// and before the reply) but never twice, and nothing half-written may be visible.

const KILLS = 12
const CLIENTS = 4

test('SIGKILL at random moments loses no acknowledged message and duplicates none', async (t) => {
  let server = await startPostern(t)
  const { dir, configPath } = server
  for (const args of [
    ['domain', 'add', 'example.test'],
    ['user', 'add', 'alice@example.test', '--password', 'kill-test-pw'],
  ]) {
    const result = await runPostern([...args, '--config', configPath])
    assert.equal(result.code, 0, result.stderr)
  }

  const acknowledged = new Set<string>()
  const attempted = new Set<string>()
  let next = 0
  const sender = async (port: number) => {
    let client: SmtpTestClient
    try {
      client = await SmtpTestClient.connect(t, port)
      if ((await client.read()).code !== 220) return
      await client.ehlo()
    } catch {
      return
    }
    for (;;) {
      const subject = `kill-${next}`
      next += 1
      attempted.add(subject)
      try {
        // Messages of varying size, so the kill lands in blob writes too.
        const body = `${'x'.repeat(70)}\r\n`.repeat(1 + (next % 200))
        const reply = await client.send(
          'load@remote.test',
          ['alice@example.test'],
          `Subject: ${subject}\r\n\r\n${body}`,
        )
        if (reply.code === 250) acknowledged.add(subject)
      } catch {
        return
      }
    }
  }

  for (let round = 0; round < KILLS; round += 1) {
    const port = server.ports.smtp
    const senders = Array.from({ length: CLIENTS }, () => sender(port))
    await sleep(150 + Math.floor(Math.random() * 500))
    await server.stop('SIGKILL')
    await Promise.all(senders)
    server = await startPostern(t, { dir })
  }
  await server.stop('SIGTERM')

  const config = loadConfig({ path: configPath })
  const store = await openStore(config, silentLogger, { isShortLived: true })
  try {
    const messages = await mailboxMessages(store, 'alice@example.test')
    const counts = new Map<string, number>()
    for (const message of messages) {
      const subject = /\r\nSubject: (kill-\d+)\r\n/.exec(message.toString('latin1'))?.[1]
      assert.ok(subject, 'every stored message is whole, with its header')
      // Whole means whole: the body is the size that subject's number gave it.
      const n = Number(subject.slice(5)) + 1
      assert.ok(
        message
          .toString('latin1')
          .endsWith(`\r\n\r\n${`${'x'.repeat(70)}\r\n`.repeat(1 + (n % 200))}`),
      )
      counts.set(subject, (counts.get(subject) ?? 0) + 1)
    }
    for (const subject of acknowledged) {
      assert.equal(counts.get(subject), 1, `${subject} was acknowledged, so it is stored once`)
    }
    for (const [subject, count] of counts) {
      assert.equal(count, 1, `${subject} stored ${count} times`)
      assert.ok(attempted.has(subject))
    }
    assert.ok(acknowledged.size >= KILLS, `only ${acknowledged.size} messages were acknowledged`)
    t.diagnostic(
      `${KILLS} kills, ${acknowledged.size} acknowledged, ${messages.length} stored, ${attempted.size} attempted`,
    )
  } finally {
    await store.close()
  }
})
