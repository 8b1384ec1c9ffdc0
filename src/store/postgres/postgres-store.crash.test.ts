import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { testDatabase } from '../../../test/support/postgres.ts'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { openPostgresStore } from './index.ts'

const CHILD = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'postgres-store.crash-child.ts',
)
const KILLS = 15

// Issue 12: SIGKILL one node during deliveries; nothing acknowledged is lost, nothing is
// half-present, and the other node keeps serving throughout.
test(`a node SIGKILLed during deliveries loses nothing it acknowledged (${KILLS} kills)`, async (t) => {
  const url = await testDatabase(t)
  const survivor = await openPostgresStore({ url })
  t.after(() => survivor.close())
  await survivor.addDomain('example.test')
  const account = await survivor.addAccount({
    address: 'crash@example.test',
    domain: 'example.test',
    credentials: { passwordHash: 'h', scramSha256: 's' },
  })
  const mailboxIds: number[] = []
  for (const name of ['INBOX', 'Archive', 'Trash']) {
    mailboxIds.push((await survivor.getMailbox(account.id, name))?.id ?? 0)
  }
  const log = path.join(makeTempDir(t), 'committed.log')
  writeFileSync(log, '')

  // The other node delivers to INBOX all along.
  let isRunning = true
  let survivorDeliveries = 0
  const steady = (async () => {
    while (isRunning) {
      await survivor.deliver(
        { bytes: Buffer.from(`Subject: steady ${survivorDeliveries}\r\n\r\nx\r\n`) },
        [{ mailboxId: mailboxIds[0] ?? 0 }],
      )
      survivorDeliveries += 1
    }
  })()

  for (let kill = 0; kill < KILLS; kill += 1) {
    const child = spawn(process.execPath, [CHILD, url, log, String(kill)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    await new Promise((resolve) => child.stdout.once('data', resolve))
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(Math.random() * 150)))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
  }
  isRunning = false
  await steady
  assert.ok(survivorDeliveries > KILLS, `the other node delivered ${survivorDeliveries} meanwhile`)

  const reported = readFileSync(log, 'utf8').split('\n').filter(Boolean)
  assert.ok(reported.length > KILLS, `only ${reported.length} deliveries were reported`)
  const contents: Array<Map<string, number>> = []
  for (const mailboxId of mailboxIds) {
    const records = await survivor.getMessages(mailboxId, [[1, Number.MAX_SAFE_INTEGER]])
    const status = await survivor.getMailboxStatus(mailboxId)
    assert.equal(status.messages, records.length, 'the counter matches the rows')
    const numbers = new Map<string, number>()
    for (const record of records) {
      const chunks: Buffer[] = []
      for await (const chunk of survivor.readMessage(record.blobId)) chunks.push(chunk)
      const text = Buffer.concat(chunks).toString()
      assert.equal(text.length, record.size, 'the bytes are whole')
      const number = /X-Number: (\S+)/.exec(text)?.[1]
      if (number) numbers.set(number, record.uid)
    }
    contents.push(numbers)
  }
  const [inbox, archive, trash] = contents
  assert.ok(inbox && archive && trash)
  assert.deepEqual([...archive.keys()].sort(), [...inbox.keys()].sort(), 'all or none')
  assert.deepEqual([...trash.keys()].sort(), [...inbox.keys()].sort(), 'all or none')
  for (const line of reported) {
    const [number = '', ...uids] = line.split(' ')
    assert.deepEqual(
      contents.map((numbers) => String(numbers.get(number))),
      uids,
      `delivery ${number}`,
    )
  }
})
