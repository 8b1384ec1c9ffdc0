import type { CommandHandler } from '../command.ts'

/** RSET (RFC 5321 §4.1.1.5): drops the transaction; EHLO and AUTH stay. */
export const rset: CommandHandler<'RSET'> = async (session) => {
  session.transaction = null
  session.reply(250, '2.0.0', 'Ok')
}
