import { ParseError } from '../../proto/index.ts'
import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'

/**
 * COMPRESS DEFLATE (RFC 4978): once logged in, both directions become raw DEFLATE after the
 * tagged OK, which goes out uncompressed (§3). Only once per connection: [COMPRESSIONACTIVE]
 * (RFC 4978 §4) otherwise.
 */
export const compress: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.space()
    const mechanism = reader.keyword()
    reader.end()
    if (mechanism !== 'DEFLATE') throw new ParseError(`unknown compression mechanism ${mechanism}`)
    if (session.connection.isCompressed) {
      await session.tagged(tag, 'NO', '[COMPRESSIONACTIVE] DEFLATE is already active')
      return
    }
    await session.reportUpdates()
    await session.flush()
    await session.connection.startCompression(`${tag} OK DEFLATE active\r\n`)
    session.log.info({ mechanism }, 'IMAP compression started')
  },
}
