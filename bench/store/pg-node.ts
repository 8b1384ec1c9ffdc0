// One Postern "node" of the store-pg benchmark: its own process and PostgreSQL pool, delivering
// messages from..to-1 (every `step`-th, starting at `from`) into one mailbox, `concurrency` at
// a time; prints the elapsed milliseconds as JSON when done.
import { openPostgresStore } from '../../src/store/postgres/index.ts'
import { benchMessage } from './messages.ts'

const [url = '', mailbox = '0', from = '0', to = '0', step = '1', concurrency = '2'] =
  process.argv.slice(2)
const store = await openPostgresStore({ url })
let next = Number(from)
const started = performance.now()
const worker = async () => {
  while (next < Number(to)) {
    const n = next
    next += Number(step)
    await store.deliver({ bytes: benchMessage(n) }, [
      { mailboxId: Number(mailbox), flags: n % 10 === 0 ? ['\\Seen'] : [] },
    ])
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, worker))
const ms = performance.now() - started
await store.close()
process.stdout.write(`${JSON.stringify({ ms })}\n`)
