import { DataDecoder } from '../../proto/index.ts'
import { acceptMessage } from '../accept-message.ts'
import type { CommandHandler } from '../command.ts'

/**
 * DATA (RFC 5321 §4.1.1.4): 354, then the message up to CRLF.CRLF (see DataDecoder for why
 * nothing else ends it). A message that is too big or has an overlong line is read to its end
 * and refused, and the session goes on.
 */
export const data: CommandHandler<'DATA'> = async (session) => {
  const transaction = session.transaction
  if (transaction === null) {
    session.reply(503, '5.5.1', 'Send MAIL first')
    return
  }
  if (transaction.chunks !== null) {
    // RFC 3030 §3: DATA and BDAT do not mix in one transaction.
    session.reply(503, '5.5.1', 'DATA is not allowed after BDAT')
    return
  }
  if (transaction.recipients.length === 0) {
    session.reply(554, '5.5.1', 'No valid recipients')
    return
  }
  session.reply(354, null, 'End data with <CR><LF>.<CR><LF>')
  await session.flush()
  const { connection } = session
  const { reader } = connection
  const decoder = new DataDecoder(session.deps.config.maxMessageSize)
  // The timeout bounds the whole body, which earns time as its octets arrive (slowloris).
  const isWhole = await connection.withinDeadline(
    session.deps.config.timeoutMs,
    async () => {
      for (;;) {
        const chunk = await reader.readChunk()
        if (chunk === null) return false
        const rest = decoder.push(chunk)
        if (rest !== null) {
          reader.unshift(rest)
          return true
        }
      }
    },
    true,
  )
  if (!isWhole) {
    // The client went away mid-message: nothing was acknowledged, nothing is stored.
    session.log.info({ octets: decoder.size }, 'connection closed during DATA')
    session.transaction = null
    session.isClosing = true
    return
  }
  await acceptMessage(session, decoder, () => decoder.message())
}
