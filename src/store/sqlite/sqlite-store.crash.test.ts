import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { openSqliteStore } from './index.ts'

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sqlite-store.crash-child.ts')
const KILLS = 50

// DESIGN.md invariant 1 and issue 4: delivering one message to N mailboxes is one transaction,
// and so is accepting one with local copies and a queue entry (acceptMessage).
test(`deliveries reported committed survive SIGKILL, and none is half-present (${KILLS} kills)`, async (t) => {
  const dataDir = makeTempDir(t)
  const log = path.join(makeTempDir(t), 'committed.log')
  writeFileSync(log, '')
  for (let kill = 0; kill < KILLS; kill += 1) {
    const child = spawn(process.execPath, [CHILD, dataDir, log, String(kill)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    await new Promise((resolve) => child.stdout.once('data', resolve))
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 80)))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
  }

  const store = await openSqliteStore({ dataDir })
  t.after(() => store.close())
  const account = await store.getAccount('crash@example.test')
  assert.ok(account)
  const reported = readFileSync(log, 'utf8').split('\n').filter(Boolean)
  assert.ok(reported.length > KILLS, `only ${reported.length} deliveries were reported`)

  // What each mailbox holds: X-Number → UID, every message read back whole.
  const contents: Array<Map<string, number>> = []
  const accepted: string[] = []
  for (const name of ['INBOX', 'Archive', 'Trash']) {
    const mailbox = await store.getMailbox(account.id, name)
    assert.ok(mailbox)
    const status = await store.getMailboxStatus(mailbox.id)
    const records = await store.getMessages(mailbox.id, [[1, Number.MAX_SAFE_INTEGER]])
    assert.equal(status.messages, records.length, `${name}: the counter matches the rows`)
    assert.equal(
      status.size,
      records.reduce((sum, r) => sum + r.size, 0),
      `${name}: size`,
    )
    const numbers = new Map<string, number>()
    let previous = 0
    for (const record of records) {
      assert.ok(record.uid > previous, 'UIDs ascend')
      previous = record.uid
      const text = Buffer.concat(await collect(store.readMessage(record.blobId))).toString()
      assert.equal(text.length, record.size, 'the bytes are whole')
      const number = /X-Number: (\S+)/.exec(text)?.[1]
      assert.ok(number, 'the message is readable')
      assert.ok(text.endsWith(`line of message ${number}\r\n`), 'the message is not truncated')
      numbers.set(number, record.uid)
      // acceptMessage's local copies carry Delivered-To; deliver()'s are the plain bytes.
      if (name === 'INBOX' && text.startsWith('Delivered-To: ')) accepted.push(number)
    }
    contents.push(numbers)
  }
  // All or none: the three mailboxes hold exactly the same deliveries.
  const [inbox, archive, trash] = contents
  assert.ok(inbox && archive && trash)
  assert.deepEqual([...archive.keys()].sort(), [...inbox.keys()].sort())
  assert.deepEqual([...trash.keys()].sort(), [...inbox.keys()].sort())
  // The queue: each entry's bytes are whole, and an entry exists exactly for each accepted
  // message whose local copies exist.
  const queued = new Map<string, number>()
  for (let afterId = 0; ; ) {
    const page = await store.listQueue({ afterId })
    const last = page.at(-1)
    if (!last) break
    afterId = last.id
    for (const entry of page) {
      const number = /^(\S+)@remote\.test$/.exec(entry.recipients[0]?.address ?? '')?.[1]
      assert.ok(number, 'the entry names its message')
      const text = Buffer.concat(await collect(store.readMessage(entry.blobId))).toString()
      assert.equal(text.length, entry.size, 'the queued bytes are whole')
      assert.ok(text.startsWith(`Subject: crash ${number}\r\n`), 'the queued bytes are its own')
      assert.ok(
        text.endsWith(`line of message ${number}\r\n`),
        'the queued bytes are not truncated',
      )
      queued.set(number, entry.id)
    }
  }
  assert.ok(accepted.length > 0, 'some messages went through acceptMessage')
  assert.deepEqual([...queued.keys()].sort(), accepted.sort(), 'all or none, with the queue')
  // Everything reported is there, under the UIDs and queue ids reported.
  for (const line of reported) {
    const [number = '', ...fields] = line.split(' ')
    const queueId = fields.at(-1)?.startsWith('queued=') ? fields.pop()?.slice(7) : undefined
    assert.deepEqual(
      contents.map((numbers) => String(numbers.get(number))),
      fields,
      `delivery ${number}`,
    )
    if (queueId !== undefined) assert.equal(String(queued.get(number)), queueId, `entry ${number}`)
  }
})

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const all: Buffer[] = []
  for await (const chunk of chunks) all.push(chunk)
  return all
}
