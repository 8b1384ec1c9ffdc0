import type { ImapCommandEntry } from '../command.ts'
import { append } from './append.ts'
import { authenticate } from './authenticate.ts'
import { capability } from './capability.ts'
import { check, close, unselect } from './close.ts'
import { compress } from './compress.ts'
import { copy, move } from './copy.ts'
import { create } from './create.ts'
import { deleteCommand } from './delete.ts'
import { enable } from './enable.ts'
import { expunge } from './expunge.ts'
import { fetch } from './fetch.ts'
import { id } from './id.ts'
import { idle } from './idle.ts'
import { list } from './list.ts'
import { login } from './login.ts'
import { logout } from './logout.ts'
import { lsub } from './lsub.ts'
import { namespace } from './namespace.ts'
import { noop } from './noop.ts'
import { getquota, getquotaroot, setquota } from './quota.ts'
import { rename } from './rename.ts'
import { search } from './search.ts'
import { examine, select } from './select.ts'
import { sort, thread } from './sort.ts'
import { starttls } from './starttls.ts'
import { status } from './status.ts'
import { store } from './store.ts'
import { subscribe, unsubscribe } from './subscribe.ts'
import { uid } from './uid.ts'

/** Every command the server knows, by its name in upper case (names are case-insensitive). */
export const COMMANDS: ReadonlyMap<string, ImapCommandEntry> = new Map([
  ['CAPABILITY', capability],
  ['NOOP', noop],
  ['LOGOUT', logout],
  ['ID', id],
  ['STARTTLS', starttls],
  ['LOGIN', login],
  ['AUTHENTICATE', authenticate],
  ['ENABLE', enable],
  ['SELECT', select],
  ['EXAMINE', examine],
  ['CLOSE', close],
  ['UNSELECT', unselect],
  ['CHECK', check],
  ['FETCH', fetch],
  ['STORE', store],
  ['EXPUNGE', expunge],
  ['COPY', copy],
  ['MOVE', move],
  ['UID', uid],
  ['APPEND', append],
  ['IDLE', idle],
  ['SEARCH', search],
  ['SORT', sort],
  ['GETQUOTA', getquota],
  ['GETQUOTAROOT', getquotaroot],
  ['SETQUOTA', setquota],
  ['COMPRESS', compress],
  ['THREAD', thread],
  ['CREATE', create],
  ['DELETE', deleteCommand],
  ['RENAME', rename],
  ['SUBSCRIBE', subscribe],
  ['UNSUBSCRIBE', unsubscribe],
  ['LIST', list],
  ['LSUB', lsub],
  ['NAMESPACE', namespace],
  ['STATUS', status],
])
