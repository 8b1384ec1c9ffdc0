import {
  badCredentials,
  malformed,
  type SaslCredentialStore,
  type SaslExchange,
  type SaslStep,
  utf8,
} from './mechanism.ts'

const USERNAME = Buffer.from('Username:')
const PASSWORD = Buffer.from('Password:')

/**
 * LOGIN: the obsolete but still common mechanism of Outlook and old clients
 * (draft-murchison-sasl-login): the server asks "Username:", then "Password:". An initial
 * response, when sent, is the user name.
 */
export function loginExchange(store: SaslCredentialStore): SaslExchange {
  let username: string | null = null
  const takeUsername = (response: Buffer): SaslStep => {
    const text = utf8(response)
    if (text === null || text === '') return malformed('Empty or invalid user name')
    username = text
    return { kind: 'challenge', data: PASSWORD }
  }
  return {
    mechanism: 'LOGIN',
    start: async (initial) =>
      initial === null ? { kind: 'challenge', data: USERNAME } : takeUsername(initial),
    respond: async (response) => {
      if (username === null) return takeUsername(response)
      const password = utf8(response)
      if (password === null || password === '')
        return malformed('Empty or invalid password', username)
      const login = await store.verifyPassword(username, password)
      return login === null ? badCredentials(username) : { kind: 'success', login, data: null }
    },
  }
}
