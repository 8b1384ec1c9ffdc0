import { type ImapCommandEntry, NOT_AUTHENTICATED } from '../command.ts'
import { completeLogin, mayTryLogin, mayUsePassword, refuseLogin } from '../login.ts'

/**
 * LOGIN userid password (RFC 9051 §6.2.3), both astrings (a literal for a password with
 * specials). Refused where passwords may not be sent in plaintext (LOGINDISABLED).
 */
export const login: ImapCommandEntry = {
  states: NOT_AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.space()
    const userid = reader.astring().toString('utf8')
    reader.space()
    const password = reader.astring().toString('utf8')
    reader.end()
    if (!(await mayUsePassword(session, tag))) return
    if (!(await mayTryLogin(session, tag))) return
    const account = await session.deps.directory.credentialStore().verifyPassword(userid, password)
    if (account === null) await refuseLogin(session, tag, userid, 'wrong password or user')
    else await completeLogin(session, tag, account, 'LOGIN', 'LOGIN')
  },
}
