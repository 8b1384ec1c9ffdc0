import type { CommandHandler } from '../command.ts'

/** QUIT (RFC 5321 §4.1.1.10): the reply, then the server closes. */
export const quit: CommandHandler<'QUIT'> = async (session) => {
  session.reply(221, '2.0.0', `${session.deps.hostname} Bye`)
  session.isClosing = true
}
