import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  InvalidNameError,
  MAX_KEYWORDS_PER_MESSAGE,
  NotFoundError,
  QuotaExceededError,
} from '../index.ts'
import { deliverOne, message, readAll, storeWithAccount } from './fixtures.ts'
import type { OpenStore } from './index.ts'

export function messageContract(backend: OpenStore): void {
  test('deliver files one stored copy into every target, byte for byte', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    const archive = await store.getMailbox(account.id, 'Archive')
    assert.ok(archive)
    const bytes = Buffer.from(
      'Subject: =?utf-8?q?caf=C3=A9?=\r\nX-Bin: \xff\r\n\r\nbare\nLF\r\n',
      'latin1',
    )
    const date = new Date('2026-01-02T03:04:05Z')
    const results = await store.deliver({ bytes, internalDate: date }, [
      { mailboxId: inbox, flags: ['\\Seen', '$Important'] },
      { mailboxId: archive.id },
    ])
    assert.deepEqual(
      results.map((r) => (r.status === 'stored' ? [r.mailboxId, r.uid] : r)),
      [
        [inbox, 1],
        [archive.id, 1],
      ],
    )
    const [record] = await store.getMessages(inbox, [[1, 1]])
    const [copy] = await store.getMessages(archive.id, [[1, 1]])
    assert.ok(record && copy)
    assert.equal(record.blobId, copy.blobId, 'both mailboxes share the stored bytes')
    assert.deepEqual(record.flags, ['\\Seen', '$Important'])
    assert.equal(record.size, bytes.length)
    assert.equal(record.internalDate.getTime(), date.getTime())
    assert.deepEqual(await readAll(store.readMessage(record.blobId)), bytes)
    assert.deepEqual(await readAll(store.readMessage(record.blobId, 9, 25)), bytes.subarray(9, 25))
    const metadata = await store.getMetadata(record.blobId)
    assert.equal(metadata.envelope.subject, '=?utf-8?q?caf=C3=A9?=')
    assert.equal(metadata.structure.type.toLowerCase(), 'text')
    assert.equal(metadata.sentDate, null)
    await assert.rejects(store.getMetadata('0'.repeat(64)), NotFoundError)
    assert.deepEqual(await store.getQuotaUsage(account.id), {
      storage: { used: 2 * bytes.length, limit: null },
      messages: { used: 2, limit: null },
    })
  })

  test('a delivery with an unknown target stores nothing anywhere', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    await assert.rejects(
      store.deliver({ bytes: message() }, [{ mailboxId: inbox }, { mailboxId: 999_999 }]),
      NotFoundError,
    )
    assert.equal((await store.getMailboxStatus(inbox)).messages, 0)
    await assert.rejects(
      store.deliver({ bytes: message() }, [{ mailboxId: inbox, flags: ['\\Recent'] }]),
      InvalidNameError,
    )
    await assert.rejects(
      store.deliver({ bytes: message() }, [{ mailboxId: inbox, flags: ['bad word'] }]),
      InvalidNameError,
    )
  })

  test('UIDs and MODSEQs ascend under concurrent deliveries and survive a restart', async (t) => {
    const backendOfTest = backend(t)
    const store = await backendOfTest.open()
    await store.addDomain('example.test')
    const account = await store.addAccount({
      address: 'alice@example.test',
      domain: 'example.test',
      credentials: { passwordHash: 'h', scramSha256: 's' },
    })
    const inbox = (await store.getMailbox(account.id, 'INBOX'))?.id ?? 0
    const results = await Promise.all(
      Array.from({ length: 40 }, () => store.deliver({ bytes: message() }, [{ mailboxId: inbox }])),
    )
    const uids = results.map(([r]) => (r?.status === 'stored' ? r.uid : 0)).sort((a, b) => a - b)
    assert.deepEqual(
      uids,
      Array.from({ length: 40 }, (_, i) => i + 1),
    )
    const snapshot = await store.openMailbox(inbox)
    for (let i = 1; i < snapshot.messages.length; i += 1) {
      assert.ok((snapshot.messages[i]?.modseq ?? 0) > (snapshot.messages[i - 1]?.modseq ?? 0))
    }
    await store.expunge(inbox) // nothing is \Deleted
    await store.storeFlags(inbox, [[40, 40]], 'add', ['\\Deleted'])
    assert.deepEqual(await store.expunge(inbox), [40])
    await store.close()
    const reopened = await backendOfTest.open()
    const status = await reopened.getMailboxStatus(inbox)
    assert.equal(status.uidNext, 41, 'an expunged UID is never given again')
    assert.equal(status.highestModseq, snapshot.status.highestModseq + 2)
    assert.equal(await deliverOne(reopened, inbox), 41)
  })

  test('flags: add, remove, replace; keywords case-insensitive; MODSEQ per change', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    for (let i = 0; i < 3; i += 1) await deliverOne(store, inbox)
    const before = await store.getMailboxStatus(inbox)
    const added = await store.storeFlags(inbox, [[1, 2]], 'add', ['\\seen', 'Work', 'work'])
    assert.deepEqual(
      added.changed.map((m) => [m.uid, m.flags]),
      [
        [1, ['\\Seen', 'Work']],
        [2, ['\\Seen', 'Work']],
      ],
    )
    const modseq = added.changed[0]?.modseq ?? 0
    assert.equal(modseq, before.highestModseq + 1)
    assert.ok(
      added.changed.every((m) => m.modseq === modseq),
      'one operation, one MODSEQ',
    )
    const again = await store.storeFlags(inbox, [[1, 2]], 'add', ['\\Seen', 'WORK'])
    assert.deepEqual(again.changed, [], 'nothing changed, no new MODSEQ')
    assert.equal((await store.getMailboxStatus(inbox)).highestModseq, modseq)
    assert.equal((await store.getMailboxStatus(inbox)).unseen, 1)

    const removed = await store.storeFlags(inbox, [[2, 1]], 'remove', ['WORK'])
    assert.deepEqual(
      removed.changed.map((m) => m.flags),
      [['\\Seen'], ['\\Seen']],
    )
    const replaced = await store.storeFlags(inbox, [[1, 1]], 'replace', ['\\Flagged', '$Label1'])
    assert.deepEqual(replaced.changed[0]?.flags, ['\\Flagged', '$Label1'])
    assert.equal((await store.getMailboxStatus(inbox)).unseen, 2)
    await assert.rejects(store.storeFlags(inbox, [[1, 1]], 'add', ['\\Recent']), InvalidNameError)
    await assert.rejects(store.storeFlags(999_999, [[1, 1]], 'add', ['x']), NotFoundError)
    assert.deepEqual((await store.storeFlags(inbox, [[50, 60]], 'add', ['x'])).changed, [])
  })

  test('UNCHANGEDSINCE leaves newer messages alone and reports them', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    await deliverOne(store, inbox)
    await deliverOne(store, inbox)
    const snapshot = await store.openMailbox(inbox)
    const first = snapshot.messages[0]?.modseq ?? 0
    const result = await store.storeFlags(inbox, [[1, 2]], 'add', ['\\Answered'], {
      unchangedSince: first,
    })
    assert.deepEqual(result.modified, [2])
    assert.deepEqual(
      result.changed.map((m) => m.uid),
      [1],
    )
  })

  test('expunge removes only \\Deleted messages, among the given UIDs when given', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    for (let i = 0; i < 4; i += 1) await deliverOne(store, inbox)
    await store.storeFlags(inbox, [[1, 3]], 'add', ['\\Deleted'])
    assert.deepEqual(await store.expunge(inbox, [[2, 4]]), [2, 3])
    assert.deepEqual(
      (await store.openMailbox(inbox)).messages.map((m) => m.uid),
      [1, 4],
    )
    const status = await store.getMailboxStatus(inbox)
    assert.deepEqual([status.messages, status.deleted], [2, 1])
  })

  test('changesSince reports changed messages and expunges after a MODSEQ', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    for (let i = 0; i < 3; i += 1) await deliverOne(store, inbox)
    const mark = (await store.getMailboxStatus(inbox)).highestModseq
    await store.storeFlags(inbox, [[1, 1]], 'add', ['\\Deleted'])
    await store.expunge(inbox)
    await store.storeFlags(inbox, [[3, 3]], 'add', ['\\Flagged'])
    await deliverOne(store, inbox)
    const changes = await store.changesSince(inbox, mark)
    assert.deepEqual(
      changes.changed.map((m) => [m.uid, m.flags]),
      [
        [3, ['\\Flagged']],
        [4, []],
      ],
    )
    assert.deepEqual(
      changes.expunged.map((e) => e.uid),
      [1],
    )
    assert.equal(changes.highestModseq, (await store.getMailboxStatus(inbox)).highestModseq)
    assert.deepEqual((await store.changesSince(inbox, changes.highestModseq)).changed, [])
    await assert.rejects(store.changesSince(999_999, 0), NotFoundError)
  })

  test('copy shares the bytes and maps UIDs; move also expunges the source', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    const folder = await store.createMailbox(account.id, 'Folder')
    for (let i = 0; i < 3; i += 1)
      await deliverOne(store, inbox, undefined, i === 0 ? ['\\Seen'] : [])
    const copied = await store.copyMessages(inbox, [[1, 2]], folder.id)
    assert.equal(copied.uidValidity, folder.uidValidity)
    assert.deepEqual(copied.uids, [
      [1, 1],
      [2, 2],
    ])
    const [source] = await store.getMessages(inbox, [[1, 1]])
    const [target] = await store.getMessages(folder.id, [[1, 1]])
    assert.equal(source?.blobId, target?.blobId)
    assert.deepEqual(target?.flags, ['\\Seen'])
    assert.equal(target?.internalDate.getTime(), source?.internalDate.getTime())
    assert.equal((await store.getQuotaUsage(account.id)).messages.used, 5)

    const moved = await store.moveMessages(inbox, [[2, 3]], folder.id)
    assert.deepEqual(moved.uids, [
      [2, 3],
      [3, 4],
    ])
    assert.deepEqual(
      (await store.openMailbox(inbox)).messages.map((m) => m.uid),
      [1],
    )
    assert.equal((await store.getQuotaUsage(account.id)).messages.used, 5)
    assert.deepEqual((await store.copyMessages(inbox, [[7, 9]], folder.id)).uids, [])
  })

  test('the last reference gone, the bytes are removed; shared bytes stay', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    const folder = await store.createMailbox(account.id, 'Folder')
    const bytes = message('shared')
    await deliverOne(store, inbox, bytes)
    await deliverOne(store, folder.id, bytes)
    const [record] = await store.getMessages(inbox, [[1, 1]])
    assert.ok(record)
    await store.storeFlags(inbox, [[1, 1]], 'add', ['\\Deleted'])
    await store.expunge(inbox)
    assert.deepEqual(await readAll(store.readMessage(record.blobId)), bytes)
    await store.deleteMailbox(folder.id)
    await assert.rejects(readAll(store.readMessage(record.blobId)))
    await assert.rejects(store.getMetadata(record.blobId), NotFoundError)
    await deliverOne(store, inbox, bytes)
    assert.deepEqual(await readAll(store.readMessage(record.blobId)), bytes, 'stored again')
  })

  test('quotas: deliveries over quota are skipped per target; copies refused whole', async (t) => {
    const { store, account, inbox } = await storeWithAccount(backend, t)
    const other = await store.addAccount({
      address: 'bob@example.test',
      domain: 'example.test',
      credentials: { passwordHash: 'h', scramSha256: 's' },
      quota: { messages: 1 },
    })
    const bobInbox = (await store.getMailbox(other.id, 'INBOX'))?.id ?? 0
    const first = await store.deliver({ bytes: message() }, [
      { mailboxId: inbox },
      { mailboxId: bobInbox },
    ])
    assert.deepEqual(
      first.map((r) => r.status),
      ['stored', 'stored'],
    )
    const second = await store.deliver({ bytes: message() }, [
      { mailboxId: inbox },
      { mailboxId: bobInbox },
    ])
    assert.deepEqual(second[1], { mailboxId: bobInbox, status: 'over-quota', resource: 'messages' })
    assert.equal(second[0]?.status, 'stored')

    const bytes = message()
    await store.setQuota('alice@example.test', { storage: 0 })
    const [storage] = await store.deliver({ bytes }, [{ mailboxId: inbox }])
    assert.deepEqual(storage, { mailboxId: inbox, status: 'over-quota', resource: 'storage' })
    await store.setQuota('alice@example.test', { storage: null, messages: 2 })
    const folder = await store.createMailbox(account.id, 'Folder')
    await assert.rejects(store.copyMessages(inbox, [[1, 2]], folder.id), QuotaExceededError)
    assert.equal((await store.getMailboxStatus(folder.id)).messages, 0)
    // A move within the account stores nothing more, so it is allowed at the limit.
    assert.equal((await store.moveMessages(inbox, [[1, 2]], folder.id)).uids.length, 2)
  })

  test('searchText matches case-insensitive substrings in fields, body and text', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    await deliverOne(store, inbox, message('Quarterly Budget', 'Numbers for the ÉCOLE project.'))
    await deliverOne(
      store,
      inbox,
      message('=?utf-8?q?Gr=C3=BC=C3=9Fe?=', 'Nothing here, budget-free.'),
    )
    await deliverOne(store, inbox, message('ab', 'x'))
    const search = (field: string, value: string, uids?: Array<[number, number]>) =>
      store.searchText(inbox, [{ field, value }], uids)
    assert.deepEqual(await search('subject', 'budget'), [1])
    assert.deepEqual(await search('body', 'BUDGET'), [2])
    assert.deepEqual(await search('text', 'budget'), [1, 2])
    assert.deepEqual(await search('text', 'budget', [[2, 5]]), [2])
    assert.deepEqual(await search('body', 'école'), [1], 'Unicode case folding')
    assert.deepEqual(await search('subject', 'GRÜSSE'), [], 'no language-specific expansions')
    assert.deepEqual(await search('subject', 'grüße'), [2], 'encoded words are decoded')
    assert.deepEqual(await search('subject', 'b'), [1, 3], 'shorter than a trigram')
    assert.deepEqual(await search('from', 'bob@example'), [1, 2, 3])
    assert.deepEqual(await search('to', 'bob@example'), [])
    assert.deepEqual(await search('x-missing', ''), [])
    assert.deepEqual(await search('subject', ''), [1, 2, 3])
    assert.deepEqual(
      await store.searchText(inbox, [
        { field: 'text', value: 'budget' },
        { field: 'body', value: 'numbers' },
      ]),
      [1],
    )
    assert.deepEqual(await search('body', '100% "quoted"'), [])
    await assert.rejects(
      search.call(null, 'body', 'x').then(() => store.searchText(999_999, [])),
      NotFoundError,
    )
  })

  test('keywords stay bounded however they are added', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    await deliverOne(store, inbox)
    const batch = (from: number) =>
      Array.from({ length: MAX_KEYWORDS_PER_MESSAGE }, (_, i) => `k${from + i}`)
    await store.storeFlags(inbox, [[1, 1]], 'add', batch(0))
    await assert.rejects(
      store.storeFlags(inbox, [[1, 1]], 'add', batch(MAX_KEYWORDS_PER_MESSAGE)),
      InvalidNameError,
    )
    const [record] = await store.getMessages(inbox, [[1, 1]])
    assert.equal(record?.flags.length, MAX_KEYWORDS_PER_MESSAGE)
  })

  test('UNCHANGEDSINCE below the MODSEQ fails even when nothing would change', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    await deliverOne(store, inbox, undefined, ['\\Seen'])
    const result = await store.storeFlags(inbox, [[1, 1]], 'add', ['\\Seen'], { unchangedSince: 0 })
    assert.deepEqual(result, { changed: [], modified: [1] })
  })

  test('a mailbox named twice in one delivery gets one copy', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    const results = await store.deliver({ bytes: message() }, [
      { mailboxId: inbox, flags: ['\\Flagged'] },
      { mailboxId: inbox },
    ])
    assert.equal(results.length, 1)
    assert.equal((await store.getMailboxStatus(inbox)).messages, 1)
    assert.deepEqual((await store.getMessages(inbox, [[1, 1]]))[0]?.flags, ['\\Flagged'])
  })

  test('search: NUL and decoded line breaks neither fail nor fake another field', async (t) => {
    const { store, inbox } = await storeWithAccount(backend, t)
    await deliverOne(
      store,
      inbox,
      Buffer.from('Subject: hi\r\nX-Foo: =?utf-8?q?a=0Asubject:_evil?=\r\n\r\nbody\r\n'),
    )
    assert.deepEqual(await store.searchText(inbox, [{ field: 'subject', value: 'evil' }]), [])
    assert.deepEqual(await store.searchText(inbox, [{ field: 'x-foo', value: 'evil' }]), [1])
    assert.deepEqual(await store.searchText(inbox, [{ field: 'body', value: 'bo\u0000dy' }]), [])
    assert.deepEqual(
      await store.searchText(inbox, [{ field: 'text', value: '\u0000\u0000\u0000' }]),
      [],
    )
  })
}
