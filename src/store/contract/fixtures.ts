import type { TestContext } from 'node:test'
import type { Account, Store } from '../index.ts'
import type { OpenStore } from './index.ts'

export const CREDENTIALS = {
  passwordHash: '$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA',
  scramSha256: 'x',
}

/** A store with one domain and one account in it. */
export async function storeWithAccount(
  backend: OpenStore,
  t: TestContext,
  address = 'alice@example.test',
): Promise<{ store: Store; account: Account; inbox: number }> {
  const store = await backend(t).open()
  const domain = address.slice(address.indexOf('@') + 1)
  if (!(await store.getDomain(domain))) await store.addDomain(domain)
  const account = await store.addAccount({ address, domain, credentials: CREDENTIALS })
  const inbox = await store.getMailbox(account.id, 'INBOX')
  if (!inbox) throw new Error('no INBOX')
  return { store, account, inbox: inbox.id }
}

let counter = 0

/** A small message, different each call unless `body` is given. */
export function message(subject = 'Hello', body?: string): Buffer {
  counter += 1
  return Buffer.from(
    `From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n` +
      `Date: Mon, 2 Mar 2026 10:00:00 +0100\r\nMessage-ID: <${counter}.${process.pid}@test>\r\n\r\n` +
      `${body ?? `Body number ${counter}.`}\r\n`,
  )
}

export async function readAll(iterable: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of iterable) chunks.push(chunk)
  return Buffer.concat(chunks)
}

export async function deliverOne(
  store: Store,
  mailboxId: number,
  bytes = message(),
  flags: string[] = [],
): Promise<number> {
  const [result] = await store.deliver({ bytes }, [{ mailboxId, flags }])
  if (result?.status !== 'stored') throw new Error(`not stored: ${JSON.stringify(result)}`)
  return result.uid
}
