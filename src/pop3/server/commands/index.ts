import type { Pop3CommandTable } from '../command.ts'
import { apop } from './apop.ts'
import { auth } from './auth.ts'
import { capa } from './capa.ts'
import { dele } from './dele.ts'
import { list } from './list.ts'
import { noop } from './noop.ts'
import { pass } from './pass.ts'
import { quit } from './quit.ts'
import { retr } from './retr.ts'
import { rset } from './rset.ts'
import { stat } from './stat.ts'
import { stls } from './stls.ts'
import { top } from './top.ts'
import { uidl } from './uidl.ts'
import { user } from './user.ts'

/** Every verb of src/pop3/proto and the file that serves it. */
export const COMMANDS: Pop3CommandTable = {
  USER: user,
  PASS: pass,
  APOP: apop,
  AUTH: auth,
  CAPA: capa,
  STLS: stls,
  STAT: stat,
  LIST: list,
  UIDL: uidl,
  RETR: retr,
  TOP: top,
  DELE: dele,
  RSET: rset,
  NOOP: noop,
  QUIT: quit,
}
