import type { CommandHandler } from '../command.ts'

/** HELP (RFC 5321 §4.1.1.8). */
export const help: CommandHandler<'HELP'> = async (session) => {
  session.reply(214, '2.0.0', [
    'Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH',
    'See RFC 5321 (https://www.rfc-editor.org/rfc/rfc5321)',
  ])
}
