// Child of the PostgreSQL node-crash test: a node delivering numbered messages to three
// mailboxes, logging "number uid uid uid" only after deliver() resolved, until SIGKILLed.
import { appendFileSync } from 'node:fs'
import { openPostgresStore } from './postgres-store.ts'

const [url = '', log = '', run = '0'] = process.argv.slice(2)
const store = await openPostgresStore({ url })
const account = await store.getAccount('crash@example.test')
if (!account) throw new Error('the parent makes the account')
const targets = []
for (const name of ['INBOX', 'Archive', 'Trash']) {
  const mailbox = await store.getMailbox(account.id, name)
  if (!mailbox) throw new Error(`no ${name}`)
  targets.push({ mailboxId: mailbox.id })
}
process.stdout.write('ready\n')
for (let n = 0; ; n += 1) {
  const number = `${run}-${n}`
  const body = `line of message ${number}\r\n`.repeat(1 + ((n * 7919) % 3000))
  const bytes = Buffer.from(`Subject: crash ${number}\r\nX-Number: ${number}\r\n\r\n${body}`)
  const results = await store.deliver({ bytes }, targets)
  appendFileSync(
    log,
    `${number} ${results.map((r) => (r.status === 'stored' ? r.uid : 'none')).join(' ')}\n`,
  )
}
