import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { DEFAULT_QUEUE, DEFAULT_RELAY } from '../config/index.ts'
import { createDelivery } from '../delivery/index.ts'
import { createDirectory } from '../directory/index.ts'
import { createDnsResolver } from '../net/index.ts'
import { openSqliteStore } from '../store/sqlite/index.ts'
import { silentLogger } from '../util/index.ts'
import { OutboundQueue } from './queue.ts'

test('when the directory cannot say whether a domain is ours, the recipient waits', async (t) => {
  const store = await openSqliteStore({ dataDir: makeTempDir(t) })
  t.after(() => store.close())
  const directory = createDirectory(store)
  await directory.addDomain('example.test')
  await directory.addUser('alice@example.test', 'alice-secret-1')
  const lookups: string[] = []
  const resolver = createDnsResolver({ servers: [{ host: '127.0.0.1', port: 9 }] })
  const queue = new OutboundQueue({
    store,
    // Our own domain, but the lookup fails: relaying it by MX would send it back to us.
    directory: {
      ...directory,
      isLocalDomain: async () => {
        throw new Error('directory unavailable')
      },
    },
    delivery: createDelivery(store, silentLogger),
    resolver: {
      ...resolver,
      resolveMx: (name) => {
        lookups.push(name)
        return resolver.resolveMx(name)
      },
    },
    hostname: 'mx.example.test',
    config: { ...DEFAULT_QUEUE, pollMs: 20 },
    relay: { ...DEFAULT_RELAY, sourceAddress: null, commandTimeoutMs: null, smartHost: null },
    owner: 'test',
    log: silentLogger,
  })
  const { queued } = await store.acceptMessage({
    deliveries: [],
    queue: {
      message: { bytes: Buffer.from('Subject: full mailbox\r\n\r\nretry me\r\n') },
      entry: {
        sender: 'bob@remote.test',
        recipients: [{ address: 'alice@example.test', originalRecipient: null, notify: null }],
        envelopeId: null,
        ret: null,
        body: '7bit',
        smtputf8: false,
        submittedBy: null,
      },
    },
  })
  await queue.start()
  t.after(() => queue.stop(0))
  let recipient = queued?.recipients[0]
  for (let i = 0; i < 200 && recipient?.status === 'pending'; i += 1) {
    await sleep(20)
    recipient = (await store.getQueueEntry(queued?.id ?? 0))?.recipients[0]
  }
  assert.equal(recipient?.status, 'deferred')
  assert.match(recipient?.lastReply ?? '', /local error: directory unavailable/)
  assert.deepEqual(lookups, [], 'no MX lookup for a domain that may be ours')
})
