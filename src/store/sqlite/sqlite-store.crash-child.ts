// Child of the delivery crash test: delivers numbered messages to three mailboxes as fast as it
// can and appends "number uid uid uid" to the log only after deliver() resolved, until the parent
// kills it with SIGKILL.
import { appendFileSync } from 'node:fs'
import { openSqliteStore } from './sqlite-store.ts'

const [dataDir = '', log = '', run = '0'] = process.argv.slice(2)
const store = await openSqliteStore({ dataDir })
let account = await store.getAccount('crash@example.test')
if (!account) {
  await store.addDomain('example.test')
  account = await store.addAccount({
    address: 'crash@example.test',
    domain: 'example.test',
    credentials: { passwordHash: 'h', scramSha256: 's' },
  })
}
const targets = []
for (const name of ['INBOX', 'Archive', 'Trash']) {
  const mailbox = await store.getMailbox(account.id, name)
  if (!mailbox) throw new Error(`no ${name}`)
  targets.push({ mailboxId: mailbox.id })
}
process.stdout.write('ready\n')
for (let n = 0; ; n += 1) {
  const number = `${run}-${n}`
  // Sizes vary from a few hundred octets to ~200 KB, so kills land in every phase of a write.
  const body = `line of message ${number}\r\n`.repeat(1 + ((n * 7919) % 6000))
  const bytes = Buffer.from(`Subject: crash ${number}\r\nX-Number: ${number}\r\n\r\n${body}`)
  const results = await store.deliver({ bytes }, targets)
  const uids = results.map((result) => (result.status === 'stored' ? result.uid : 'none'))
  appendFileSync(log, `${number} ${uids.join(' ')}\n`)
}
