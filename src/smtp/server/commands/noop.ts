import type { CommandHandler } from '../command.ts'

/** NOOP (RFC 5321 §4.1.1.9). */
export const noop: CommandHandler<'NOOP'> = async (session) => {
  session.reply(250, '2.0.0', 'Ok')
}
