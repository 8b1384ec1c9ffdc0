import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startFakeSmtp } from '../../../test/support/fake-smtp.ts'
import { getFreePorts } from '../../../test/support/free-port.ts'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import type { SubmissionSettings } from '../config.ts'
import { Spool } from '../spool.ts'
import { attemptEntry, retryDelayMs } from './spool-runner.ts'

const MESSAGE = Buffer.from('From: a@example.test\r\nSubject: s\r\n\r\nbody\r\n')

function settings(port: number, spoolDir: string): SubmissionSettings {
  return {
    host: '127.0.0.1',
    port,
    security: 'none',
    user: null,
    password: null,
    ca: null,
    timeoutMs: 5000,
    from: 'a@example.test',
    helo: 'client.example.test',
    spoolDir,
    qualifyDomain: null,
    retryMaxMs: 60 * 60_000,
    lifetimeMs: 24 * 60 * 60_000,
  }
}

test('retries back off from a minute, doubling, within ±20 %, up to the maximum', () => {
  assert.equal(
    retryDelayMs(1, 3_600_000, () => 0.5),
    60_000,
  )
  assert.equal(
    retryDelayMs(2, 3_600_000, () => 0.5),
    120_000,
  )
  assert.equal(
    retryDelayMs(4, 3_600_000, () => 0.5),
    480_000,
  )
  assert.equal(
    retryDelayMs(30, 3_600_000, () => 0.5),
    3_600_000,
  )
  assert.equal(
    retryDelayMs(1, 3_600_000, () => 0),
    48_000,
  )
  assert.equal(
    retryDelayMs(1, 3_600_000, () => 0.999_999),
    72_000,
  )
})

test('one attempt with a mixed answer: sent, retried later, and set aside, each once', async (t) => {
  const dir = makeTempDir(t, 'postern-spool-runner-')
  const fake = await startFakeSmtp(t, {
    host: '127.0.0.1',
    port: (await getFreePorts(1))[0] ?? 0,
    onRcpt: (address) =>
      address.startsWith('later')
        ? '450 4.2.1 mailbox busy'
        : address.startsWith('never')
          ? '550 5.1.1 no such user'
          : '250 2.1.5 ok',
  })
  const spool = await Spool.open(dir)
  const entry = await spool.add(
    {
      sender: 'a@example.test',
      recipients: ['now@example.test', 'later@example.test', 'never@example.test'],
    },
    MESSAGE,
  )
  const now = Date.now()
  const result = await attemptEntry(
    spool,
    settings(fake.port, dir),
    entry.id,
    () => {},
    () => now,
  )
  assert.equal(result?.state, 'queued')
  assert.match(result?.summary ?? '', /sent to now@example\.test/)
  assert.match(result?.summary ?? '', /refused: never@example\.test: 550 5\.1\.1/)
  assert.equal(fake.transactions.length, 1)
  assert.deepEqual(fake.transactions[0]?.to, ['now@example.test'])

  const [queued, ...others] = await spool.list()
  assert.deepEqual(others, [])
  assert.deepEqual(queued?.recipients, ['later@example.test'])
  assert.equal(queued?.attempts, 1)
  assert.match(queued?.lastError ?? '', /450 4\.2\.1/)
  assert.ok((queued?.nextAttemptAt ?? 0) >= now + 48_000)
  const failed = await spool.listFailed()
  assert.deepEqual(
    failed.map((f) => f.recipients),
    [['never@example.test']],
  )
  // Another process holding it: a second attempt on a claimed id does nothing.
  const claimed = await spool.claim(queued?.id ?? '')
  assert.ok(claimed)
  assert.equal(
    await attemptEntry(spool, settings(fake.port, dir), queued?.id ?? '', () => {}),
    null,
  )
})

test('past its lifetime a still-deferred entry is set aside with the last reason', async (t) => {
  const dir = makeTempDir(t, 'postern-spool-runner-')
  const fake = await startFakeSmtp(t, {
    host: '127.0.0.1',
    port: (await getFreePorts(1))[0] ?? 0,
    onRcpt: () => '451 4.3.0 try again',
  })
  const spool = await Spool.open(dir)
  const queuedAt = Date.now() - 25 * 60 * 60_000
  const entry = await spool.add(
    { sender: 'a@example.test', recipients: ['b@example.test'] },
    MESSAGE,
    queuedAt,
  )
  const result = await attemptEntry(spool, settings(fake.port, dir), entry.id, () => {})
  assert.equal(result?.state, 'failed')
  assert.deepEqual(await spool.list(), [])
  const [failed] = await spool.listFailed()
  assert.match(failed?.reason ?? '', /gave up after 1\.0 days; last: 451 4\.3\.0 try again/)
})

test('an unreachable server leaves the entry queued with the connection error', async (t) => {
  const dir = makeTempDir(t, 'postern-spool-runner-')
  const [closed = 0] = await getFreePorts(1)
  const spool = await Spool.open(dir)
  const entry = await spool.add({ sender: '', recipients: ['b@example.test'] }, MESSAGE)
  const result = await attemptEntry(spool, settings(closed, dir), entry.id, () => {})
  assert.equal(result?.state, 'queued')
  const [queued] = await spool.list()
  assert.match(queued?.lastError ?? '', /ECONNREFUSED|connect/i)
})
