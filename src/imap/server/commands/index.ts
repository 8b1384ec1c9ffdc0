import type { ImapCommandEntry } from '../command.ts'
import { authenticate } from './authenticate.ts'
import { capability } from './capability.ts'
import { id } from './id.ts'
import { login } from './login.ts'
import { logout } from './logout.ts'
import { noop } from './noop.ts'
import { starttls } from './starttls.ts'

/** Every command the server knows, by its name in upper case (names are case-insensitive). */
export const COMMANDS: ReadonlyMap<string, ImapCommandEntry> = new Map([
  ['CAPABILITY', capability],
  ['NOOP', noop],
  ['LOGOUT', logout],
  ['ID', id],
  ['STARTTLS', starttls],
  ['LOGIN', login],
  ['AUTHENTICATE', authenticate],
])
