import { ChunkCollector } from '../../proto/index.ts'
import { acceptMessage } from '../accept-message.ts'
import type { CommandHandler } from '../command.ts'

/**
 * BDAT (RFC 3030 §2): exactly `size` octets follow the command, whatever the state, so they are
 * always read (or skipped) before the reply; otherwise they would be read as commands.
 */
export const bdat: CommandHandler<'BDAT'> = async (session, command) => {
  const { reader } = session.connection
  const transaction = session.transaction
  let refusal: [number, string, string] | null = null
  if (transaction === null) refusal = [503, '5.5.1', 'Send MAIL first']
  else if (transaction.recipients.length === 0) refusal = [554, '5.5.1', 'No valid recipients']
  if (transaction === null || refusal !== null) {
    try {
      for await (const _ of reader.readStream(command.size)) {
        // skipped
      }
    } catch (error) {
      session.log.info({ err: (error as Error).message }, 'connection closed during BDAT')
      session.isClosing = true
      return
    }
    const [code, status, text] = refusal ?? [503, '5.5.1', 'Send MAIL first']
    session.reply(code, status, text)
    return
  }
  transaction.chunks ??= new ChunkCollector(session.deps.config.maxMessageSize)
  const chunks = transaction.chunks
  try {
    for await (const part of reader.readStream(command.size)) chunks.push(part)
  } catch (error) {
    session.log.info({ err: (error as Error).message }, 'connection closed during BDAT')
    session.transaction = null
    session.isClosing = true
    return
  }
  if (chunks.isTooBig) {
    // RFC 3030 §2: the transaction fails now; later chunks of it meet "Send MAIL first".
    session.transaction = null
    session.send(session.checkBody(chunks) ?? { code: 552, status: '5.3.4', lines: ['Too big'] })
    return
  }
  if (!command.isLast) {
    session.reply(250, '2.0.0', `${command.size} octets received`)
    return
  }
  await acceptMessage(session, chunks, () => chunks.message())
}
