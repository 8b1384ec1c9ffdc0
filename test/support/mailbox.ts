import type { Store } from '../../src/store/index.ts'

/** Every message in an account's mailbox, as stored, in UID order. */
export async function mailboxMessages(
  store: Store,
  address: string,
  mailbox = 'INBOX',
): Promise<Buffer[]> {
  const account = await store.getAccount(address)
  if (account === null) throw new Error(`no account ${address}`)
  const found = await store.getMailbox(account.id, mailbox)
  if (found === null) throw new Error(`no mailbox ${mailbox} for ${address}`)
  const records = await store.getMessages(found.id, [[1, 2 ** 32 - 1]])
  const messages: Buffer[] = []
  for (const record of records) {
    const chunks: Buffer[] = []
    for await (const chunk of store.readMessage(record.blobId)) chunks.push(chunk)
    messages.push(Buffer.concat(chunks))
  }
  return messages
}

/** The message without the trace fields Postern puts in front (Return-Path … Received). */
export function withoutTrace(message: Buffer): Buffer {
  const text = message.toString('latin1')
  const match = /^Return-Path: .*\r\n(?:Delivered-To: .*\r\n)?Received: .*\r\n(?:\t.*\r\n)*/.exec(
    text,
  )
  return match === null ? message : message.subarray(match[0].length)
}
