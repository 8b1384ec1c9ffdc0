// Child of the delivery crash test: delivers numbered messages to three mailboxes as fast as it
// can and appends "number uid uid uid" to the log only after deliver() resolved, until the parent
// kills it with SIGKILL. Every other message goes through acceptMessage instead, with a
// Delivered-To line in the local copy and the plain bytes queued for a remote recipient named
// after the number; its line ends in "queued=<entry id>".
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
  if (n % 2 === 0) {
    const results = await store.deliver({ bytes }, targets)
    const uids = results.map((result) => (result.status === 'stored' ? result.uid : 'none'))
    appendFileSync(log, `${number} ${uids.join(' ')}\n`)
    continue
  }
  const local = Buffer.concat([Buffer.from('Delivered-To: crash@example.test\r\n'), bytes])
  const { deliveries, queued } = await store.acceptMessage({
    deliveries: [{ message: { bytes: local }, targets }],
    queue: {
      message: { bytes },
      entry: {
        sender: 'crash@example.test',
        recipients: [{ address: `${number}@remote.test`, originalRecipient: null, notify: null }],
        envelopeId: null,
        ret: null,
        body: '7bit',
        smtputf8: false,
        submittedBy: account.id,
      },
    },
  })
  const uids = (deliveries[0] ?? []).map((result) =>
    result.status === 'stored' ? result.uid : 'none',
  )
  appendFileSync(log, `${number} ${uids.join(' ')} queued=${queued?.id}\n`)
}
