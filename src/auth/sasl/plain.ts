import {
  badCredentials,
  malformed,
  type SaslCredentialStore,
  type SaslExchange,
  type SaslStep,
  utf8,
} from './mechanism.ts'

/**
 * PLAIN: one message, [authzid] NUL authcid NUL passwd, each part UTF-8, authcid and passwd
 * non-empty (RFC 4616 §2). An authzid other than the authcid asks to act as someone else, which
 * Postern does not allow.
 * @see https://www.rfc-editor.org/rfc/rfc4616#section-2
 */
export function plainExchange(store: SaslCredentialStore): SaslExchange {
  const verify = async (message: Buffer): Promise<SaslStep> => {
    const text = utf8(message)
    if (text === null) return malformed('Credentials are not UTF-8')
    const parts = text.split('\u0000')
    if (parts.length !== 3) return malformed('Expected authzid NUL authcid NUL password')
    const [authzid = '', authcid = '', password = ''] = parts
    if (authcid === '' || password === '')
      return malformed('Empty user name or password', authcid || null)
    if (authzid !== '' && authzid !== authcid) {
      return {
        kind: 'failure',
        reason: 'credentials',
        message: 'Cannot act as another user',
        attemptedLogin: authcid,
      }
    }
    const login = await store.verifyPassword(authcid, password)
    return login === null ? badCredentials(authcid) : { kind: 'success', login, data: null }
  }
  return {
    mechanism: 'PLAIN',
    // Without an initial response the server sends an empty challenge (RFC 4616 §2).
    start: async (initial) =>
      initial === null ? { kind: 'challenge', data: Buffer.alloc(0) } : verify(initial),
    respond: verify,
  }
}
