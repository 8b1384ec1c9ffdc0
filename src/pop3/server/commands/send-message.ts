import { BlobNotFoundError } from '../../../store/index.ts'
import { MessageEncoder, ok } from '../../proto/index.ts'
import type { MaildropMessage } from '../maildrop.ts'
import type { Pop3Session } from '../session.ts'

/**
 * Streams a message as RETR (bodyLines null) or TOP sends it. A message another session
 * expunged and whose bytes are gone is answered with -ERR before anything is sent; a read that
 * fails half way cannot be answered any more (the multi-line response has begun), so the
 * connection is cut, which a client sees as an incomplete response, never as a short message.
 */
export async function sendMessage(
  session: Pop3Session,
  n: number,
  message: MaildropMessage,
  bodyLines: number | null,
): Promise<void> {
  // The stored size bounds the read, so the store reads it in buffers of that size, not its
  // largest: allocating 256 KiB for every 15 KB message kept the garbage collector busy.
  const chunks = session.deps.store
    .readMessage(message.blobId, 0, message.storedSize)
    [Symbol.asyncIterator]()
  let next: IteratorResult<Buffer>
  try {
    next = await chunks.next()
  } catch (error) {
    if (!(error instanceof BlobNotFoundError)) throw error
    await session.fail(`Message ${n} was removed by another session`)
    return
  }
  await session.send(ok(bodyLines === null ? `${message.size} octets` : 'Top of message follows'))
  const encoder = new MessageEncoder({ bodyLines })
  try {
    while (!next.done) {
      const out = encoder.push(next.value)
      if (out.length > 0) await session.send(out)
      if (encoder.isDone) break
      next = await chunks.next()
    }
  } catch (error) {
    session.log.error({ err: error, uid: message.uid }, 'reading a message failed mid-response')
    session.isClosing = true
    session.connection.destroy()
    return
  } finally {
    if (next.done !== true) await chunks.return?.()
  }
  await session.send(encoder.end())
  if (bodyLines === null) message.isRetrieved = true
}
