// Tests for the sendmail spool in one process: the entry file format, add/list/claim/complete/
// retryLater/fail/remove, claims that race, corrupt entries, recovery of claims whose process
// died, and tmp/ cleanup. spool-processes.test.ts has the ones with child processes.
import assert from 'node:assert/strict'
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { type ClaimedEntry, Spool, UNREADABLE_REASON } from './spool.ts'

const MESSAGE = Buffer.from('From: a@example.org\r\nSubject: hi\r\n\r\nline\r\n.\r\n\x00\xff\r\n')

async function openSpool(t: TestContext): Promise<Spool> {
  return Spool.open(path.join(makeTempDir(t, 'postern-spool-'), 'spool'))
}

function names(spool: Spool, sub: string): string[] {
  return readdirSync(path.join(spool.dir, sub)).sort()
}

async function claimOrFail(spool: Spool, id: string): Promise<ClaimedEntry> {
  const claimed = await spool.claim(id)
  assert.ok(claimed, `${id} can be claimed`)
  return claimed
}

test('open creates the spool folders with mode 0700', async (t) => {
  const spool = await openSpool(t)
  for (const sub of ['', 'tmp', 'queue', 'sending', 'failed']) {
    assert.equal(statSync(path.join(spool.dir, sub)).mode & 0o777, 0o700, sub)
  }
})

test('add writes one file: a JSON header line, then the message exactly', async (t) => {
  const spool = await openSpool(t)
  const entry = await spool.add(
    { sender: 'a@example.org', recipients: ['b@x', 'c@y'] },
    MESSAGE,
    5000,
  )
  assert.deepEqual(names(spool, 'queue'), [`${entry.id}.msg`])
  assert.deepEqual(names(spool, 'tmp'), [])
  const content = readFileSync(path.join(spool.dir, 'queue', `${entry.id}.msg`))
  const newline = content.indexOf(10)
  assert.deepEqual(JSON.parse(content.subarray(0, newline).toString()), {
    version: 1,
    id: entry.id,
    sender: 'a@example.org',
    recipients: ['b@x', 'c@y'],
    queuedAt: 5000,
    attempts: 0,
    nextAttemptAt: 5000,
    lastError: null,
  })
  assert.deepEqual(content.subarray(newline + 1), MESSAGE)
  assert.equal(entry.state, 'queued')
  assert.equal(entry.size, MESSAGE.length)
  assert.equal(statSync(path.join(spool.dir, 'queue', `${entry.id}.msg`)).mode & 0o777, 0o600)
  await assert.rejects(spool.add({ sender: '', recipients: [] }, MESSAGE), RangeError)
})

test('ids are unique and sort by time; list is oldest first and due filters by time', async (t) => {
  const spool = await openSpool(t)
  const envelope = { sender: '', recipients: ['r@x'] }
  // Many in the same milliseconds, the times out of order.
  const times = Array.from({ length: 200 }, (_, index) => 1_700_000_000_000 + ((index * 7) % 5))
  const added = await Promise.all(times.map((now) => spool.add(envelope, MESSAGE, now)))
  assert.equal(new Set(added.map((entry) => entry.id)).size, 200)
  const byId = [...added].sort((a, b) => (a.id < b.id ? -1 : 1)).map((entry) => entry.queuedAt)
  assert.deepEqual(
    byId,
    [...times].sort((a, b) => a - b),
    'ids sort as their times do',
  )
  const list = await spool.list()
  assert.equal(list.length, 200)
  assert.deepEqual(
    list.map((entry) => entry.queuedAt),
    [...times].sort((a, b) => a - b),
  )

  const other = await openSpool(t)
  const late = await other.add({ sender: '', recipients: ['r@x'] }, MESSAGE, 3000)
  const early = await other.add({ sender: '', recipients: ['r@x'] }, MESSAGE, 1000)
  assert.deepEqual(
    (await other.list()).map((entry) => entry.id),
    [early.id, late.id],
  )
  assert.deepEqual(
    (await other.due(2000)).map((entry) => entry.id),
    [early.id],
  )
  assert.equal((await other.due(3000)).length, 2)
})

test('claim, complete: the entry moves to sending/ with its message, then is gone', async (t) => {
  const spool = await openSpool(t)
  const entry = await spool.add({ sender: 's@x', recipients: ['r@x'] }, MESSAGE)
  const claimed = await claimOrFail(spool, entry.id)
  assert.deepEqual(claimed.message, MESSAGE)
  assert.deepEqual(claimed.recipients, ['r@x'])
  assert.equal(claimed.sender, 's@x')
  assert.deepEqual(names(spool, 'queue'), [])
  assert.deepEqual(names(spool, 'sending'), [`${entry.id}.${process.pid}.msg`])
  const list = await spool.list()
  assert.deepEqual(
    list.map((listed) => [listed.id, listed.state, listed.size]),
    [[entry.id, 'sending', MESSAGE.length]],
  )
  assert.deepEqual(await spool.due(Date.now() + 1000), [], 'an entry being sent is not due')
  assert.equal(await spool.claim(entry.id), null, 'a claimed entry cannot be claimed again')
  assert.equal(await spool.claim('no-such-id'), null)
  assert.equal(await spool.claim('../queue/x'), null)
  assert.equal(await spool.remove(entry.id), false, 'an entry being sent is not removed')
  await spool.complete(claimed)
  assert.deepEqual(names(spool, 'sending'), [])
  assert.deepEqual(await spool.list(), [])
})

test('retryLater puts the entry back with the attempt counted and the recipients left', async (t) => {
  const spool = await openSpool(t)
  const entry = await spool.add({ sender: 's@x', recipients: ['a@x', 'b@x', 'c@x'] }, MESSAGE, 1000)
  const claimed = await claimOrFail(spool, entry.id)
  await spool.retryLater(claimed, {
    error: '451 try later',
    nextAttemptAt: 61_000,
    recipients: ['b@x'],
  })
  assert.deepEqual(names(spool, 'sending'), [])
  assert.deepEqual(names(spool, 'tmp'), [])
  const [listed] = await spool.list()
  assert.ok(listed)
  assert.equal(listed.id, entry.id)
  assert.equal(listed.state, 'queued')
  assert.equal(listed.attempts, 1)
  assert.equal(listed.lastError, '451 try later')
  assert.equal(listed.nextAttemptAt, 61_000)
  assert.equal(listed.queuedAt, 1000)
  assert.deepEqual(listed.recipients, ['b@x'])
  assert.deepEqual(await spool.due(60_999), [])
  assert.equal((await spool.due(61_000)).length, 1)

  const again = await claimOrFail(spool, entry.id)
  assert.deepEqual(again.message, MESSAGE, 'the message is untouched by the rewrite')
  await spool.retryLater(again, { error: 'connection refused', nextAttemptAt: 99_000 })
  const [relisted] = await spool.list()
  assert.equal(relisted?.attempts, 2)
  assert.deepEqual(relisted?.recipients, ['b@x'])
  const last = await claimOrFail(spool, entry.id)
  await assert.rejects(spool.retryLater(last, { error: 'x', nextAttemptAt: 0, recipients: [] }))
})

test('fail keeps the entry in failed/ with the reason, until remove', async (t) => {
  const spool = await openSpool(t)
  const entry = await spool.add({ sender: 's@x', recipients: ['a@x', 'b@x'] }, MESSAGE, 1000)
  const kept = await spool.add({ sender: 's@x', recipients: ['k@x'] }, MESSAGE, 2000)
  const claimed = await claimOrFail(spool, entry.id)
  await spool.fail(claimed, { reason: '550 no such user', recipients: ['b@x'] }, 7000)
  assert.deepEqual(names(spool, 'failed'), [`${entry.id}.msg`])
  assert.deepEqual(names(spool, 'sending'), [])
  assert.deepEqual(
    (await spool.list()).map((listed) => listed.id),
    [kept.id],
  )
  const failed = await spool.listFailed()
  assert.equal(failed.length, 1)
  assert.equal(failed[0]?.id, entry.id)
  assert.equal(failed[0]?.reason, '550 no such user')
  assert.equal(failed[0]?.failedAt, 7000)
  assert.equal(failed[0]?.size, MESSAGE.length)
  assert.deepEqual(failed[0]?.recipients, ['b@x'])
  const content = readFileSync(path.join(spool.dir, 'failed', `${entry.id}.msg`))
  assert.deepEqual(content.subarray(content.indexOf(10) + 1), MESSAGE)
  assert.equal(await spool.claim(entry.id), null, 'a failed entry is not claimed')

  await Spool.open(spool.dir) // opening again leaves failed/ alone
  assert.equal((await spool.listFailed()).length, 1)
  assert.equal(await spool.remove(entry.id), true)
  assert.deepEqual(await spool.listFailed(), [])
  assert.equal(await spool.remove(kept.id), true)
  assert.deepEqual(await spool.list(), [])
  assert.equal(await spool.remove(kept.id), false)
  assert.equal(await spool.remove('../../etc'), false)
})

test('of two claims of one entry at once, exactly one wins', async (t) => {
  const spool = await openSpool(t)
  const second = await Spool.open(spool.dir)
  const entries = []
  for (let index = 0; index < 30; index += 1) {
    entries.push(await spool.add({ sender: '', recipients: ['r@x'] }, MESSAGE))
  }
  for (const entry of entries) {
    const results = await Promise.all([spool.claim(entry.id), second.claim(entry.id)])
    assert.equal(results.filter((result) => result !== null).length, 1, entry.id)
  }
})

test('an unreadable entry goes to failed/, whole, and the others are still listed', async (t) => {
  const spool = await openSpool(t)
  const good = await spool.add({ sender: '', recipients: ['r@x'] }, MESSAGE, 1000)
  const queue = path.join(spool.dir, 'queue')
  const corrupt: Record<string, string> = {
    '0000000aa-1-aa.msg': 'not json at all\nbody',
    '0000000bb-1-bb.msg': 'no newline anywhere',
    '0000000cc-1-cc.msg': '{"version":1,"id":"0000000cc-1-cc","sender":5}\nbody',
    '0000000dd-1-dd.msg': '',
    'odd name.msg': '{}\n',
  }
  for (const [name, content] of Object.entries(corrupt))
    writeFileSync(path.join(queue, name), content)
  writeFileSync(path.join(queue, 'notes.txt'), 'not an entry: ignored')
  const list = await spool.list()
  assert.deepEqual(
    list.map((entry) => entry.id),
    [good.id],
  )
  assert.deepEqual(names(spool, 'queue'), [`${good.id}.msg`, 'notes.txt'])
  assert.deepEqual(names(spool, 'sending'), [])
  const failed = await spool.listFailed()
  assert.equal(failed.length, 5)
  assert.ok(failed.every((entry) => entry.reason === UNREADABLE_REASON))
  const kept = failed.map((entry) => {
    const content = readFileSync(path.join(spool.dir, 'failed', `${entry.id}.msg`))
    return content.subarray(content.indexOf(10) + 1).toString()
  })
  assert.deepEqual(kept.sort(), Object.values(corrupt).sort(), 'the bytes are kept as they were')
  for (const id of ['0000000aa-1-aa', '0000000bb-1-bb', '0000000cc-1-cc', '0000000dd-1-dd']) {
    assert.ok(
      failed.some((entry) => entry.id === id),
      id,
    )
  }

  // A corrupt entry met by claim is set aside the same way.
  writeFileSync(path.join(queue, '0000000ee-1-ee.msg'), '{"version":2}\nbody')
  assert.equal(await spool.claim('0000000ee-1-ee'), null)
  assert.ok((await spool.listFailed()).some((entry) => entry.id === '0000000ee-1-ee'))
  // And an unreadable file in failed/ is still listed, so it can be seen and removed.
  writeFileSync(path.join(spool.dir, 'failed', '0000000ff-1-ff.msg'), 'garbage')
  const garbage = (await spool.listFailed()).find((entry) => entry.id === '0000000ff-1-ff')
  assert.equal(garbage?.reason, UNREADABLE_REASON)
  assert.equal(await spool.remove('0000000ff-1-ff'), true)
})

test('recover puts back a claim whose process is gone and leaves a live one', async (t) => {
  const spool = await openSpool(t)
  const entry = await spool.add({ sender: '', recipients: ['r@x'] }, MESSAGE)
  const claimed = await claimOrFail(spool, entry.id)
  const sending = path.join(spool.dir, 'sending')
  const deadPidFile = path.join(sending, `${entry.id}.99999999.msg`)
  renameSync(claimed.file, deadPidFile)

  assert.equal(await spool.recover(() => true), 0)
  assert.deepEqual(names(spool, 'sending'), [`${entry.id}.99999999.msg`])
  const asked: number[] = []
  const recovered = await spool.recover((pid) => {
    asked.push(pid)
    return false
  })
  assert.equal(recovered, 1)
  assert.deepEqual(asked, [99999999])
  assert.deepEqual(names(spool, 'sending'), [])
  assert.deepEqual(names(spool, 'queue'), [`${entry.id}.msg`])
  const again = await claimOrFail(spool, entry.id)
  assert.deepEqual(again.message, MESSAGE)

  // The default check: this process is alive, so its claim stays.
  assert.equal(await spool.recover(), 0)
  assert.deepEqual(names(spool, 'sending'), [`${entry.id}.${process.pid}.msg`])
})

test('recover keeps the newer copy when a process died between writing it and unclaiming', async (t) => {
  const spool = await openSpool(t)
  const retried = await spool.add({ sender: '', recipients: ['a@x', 'b@x'] }, MESSAGE)
  const failed = await spool.add({ sender: '', recipients: ['a@x'] }, MESSAGE)
  const sending = path.join(spool.dir, 'sending')
  for (const entry of [retried, failed]) {
    const claimed = await claimOrFail(spool, entry.id)
    const stale = readFileSync(claimed.file)
    if (entry === retried) {
      await spool.retryLater(claimed, { error: 'e', nextAttemptAt: 5, recipients: ['b@x'] })
    } else {
      await spool.fail(claimed, { reason: 'r' })
    }
    writeFileSync(path.join(sending, `${entry.id}.99999999.msg`), stale) // the claim left behind
  }
  assert.equal(await spool.recover(() => false), 0)
  assert.deepEqual(names(spool, 'sending'), [])
  const list = await spool.list()
  assert.deepEqual(
    list.map((entry) => [entry.id, entry.attempts, entry.recipients]),
    [[retried.id, 1, ['b@x']]],
  )
  assert.deepEqual(
    (await spool.listFailed()).map((entry) => entry.id),
    [failed.id],
  )
})

test('open removes tmp/ leftovers older than an hour and keeps newer ones', async (t) => {
  const spool = await openSpool(t)
  const tmp = path.join(spool.dir, 'tmp')
  writeFileSync(path.join(tmp, 'old.tmp'), 'half')
  writeFileSync(path.join(tmp, 'new.tmp'), 'in progress')
  mkdirSync(path.join(tmp, 'a-folder'))
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
  utimesSync(path.join(tmp, 'old.tmp'), twoHoursAgo, twoHoursAgo)
  await Spool.open(spool.dir)
  assert.deepEqual(names(spool, 'tmp'), ['a-folder', 'new.tmp'])
  assert.deepEqual(await spool.list(), [], 'tmp/ files are never entries')
})
