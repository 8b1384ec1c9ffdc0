import { AUTHORIZATION, type Pop3CommandEntry } from '../command.ts'
import { enterMaildrop, mayTryLogin, refuseLogin } from '../login.ts'

/** PASS (RFC 1939 §7): right after a USER; a failure sends the client back to USER. */
export const pass: Pop3CommandEntry = {
  states: AUTHORIZATION,
  async handle(session, { args }) {
    const name = session.userName
    if (name === null) {
      await session.fail('Send USER first')
      return
    }
    const password = args[0] ?? ''
    if (password === '') {
      session.userName = null
      await session.fail('Usage: PASS password')
      return
    }
    if (!(await mayTryLogin(session))) return
    const login = await session.deps.directory.credentialStore().verifyPassword(name, password)
    if (login === null) await refuseLogin(session, name, 'wrong password or user')
    else await enterMaildrop(session, login, 'USER')
  },
}
