import type { CommandTable } from '../command.ts'
import { auth } from './auth.ts'
import { bdat } from './bdat.ts'
import { data } from './data.ts'
import { ehlo } from './ehlo.ts'
import { help } from './help.ts'
import { mail } from './mail.ts'
import { noop } from './noop.ts'
import { quit } from './quit.ts'
import { rcpt } from './rcpt.ts'
import { rset } from './rset.ts'
import { starttls } from './starttls.ts'
import { vrfy } from './vrfy.ts'

/** Every verb the server knows, and the file that handles it. */
export const COMMANDS: CommandTable = {
  EHLO: ehlo,
  HELO: ehlo,
  MAIL: mail,
  RCPT: rcpt,
  DATA: data,
  BDAT: bdat,
  RSET: rset,
  NOOP: noop,
  QUIT: quit,
  HELP: help,
  VRFY: vrfy,
  EXPN: vrfy,
  STARTTLS: starttls,
  AUTH: auth,
}
