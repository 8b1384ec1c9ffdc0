import { ChunkCollector, reply } from '../../proto/index.ts'
import { acceptMessage } from '../accept-message.ts'
import type { CommandHandler } from '../command.ts'

/**
 * BDAT (RFC 3030 §2): exactly `size` octets follow the command, whatever the state, so they are
 * always read (or skipped) before the reply; otherwise they would be read as commands.
 */
export const bdat: CommandHandler<'BDAT'> = async (session, command) => {
  const { connection } = session
  const { reader } = connection
  const transaction = session.transaction
  const refusal =
    transaction === null
      ? reply(503, '5.5.1', 'Send MAIL first')
      : transaction.recipients.length === 0
        ? reply(554, '5.5.1', 'No valid recipients')
        : null
  // A refused chunk is read all the same, into nothing.
  if (transaction !== null && refusal === null) {
    transaction.chunks ??= new ChunkCollector(session.deps.config.maxMessageSize)
  }
  const chunks = refusal === null ? (transaction?.chunks ?? null) : null
  try {
    // The timeout bounds the whole chunk, which earns time as its octets arrive (slowloris).
    await connection.withinDeadline(
      session.deps.config.timeoutMs,
      async () => {
        for await (const part of reader.readStream(command.size)) chunks?.push(part)
      },
      true,
    )
  } catch (error) {
    session.log.info({ err: (error as Error).message }, 'connection closed during BDAT')
    session.transaction = null
    session.isClosing = true
    return
  }
  if (refusal !== null || chunks === null) {
    if (refusal !== null) session.send(refusal)
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
