import { randomBytes, timingSafeEqual } from 'node:crypto'
import {
  hmac,
  prepare,
  SCRAM_ITERATIONS,
  type ScramCredentials,
  sha256,
} from '../scram-credentials.ts'
import {
  badCredentials,
  malformed,
  type SaslCredentialStore,
  type SaslExchange,
  type SaslStep,
  utf8,
} from './mechanism.ts'

/** A per-process secret for the salts of unknown users (below). */
const UNKNOWN_USER_SECRET = randomBytes(32)

export interface ScramOptions {
  /** Tests fix the server's part of the nonce to reproduce RFC 7677 §3; otherwise random. */
  serverNonce?: string
}

/**
 * SCRAM-SHA-256 without channel binding (RFC 5802 §5, RFC 7677 §3):
 *   C: n,,n=user,r=cnonce            S: r=cnonce+snonce,s=salt,i=iterations
 *   C: c=biws,r=cnonce+snonce,p=proof    S: v=server-signature
 * The password never crosses the wire and the server keeps only StoredKey and ServerKey. An
 * unknown user gets a salt derived from a secret, as a real one would, and fails at the proof,
 * so the exchange does not reveal which accounts exist.
 * @see https://www.rfc-editor.org/rfc/rfc5802#section-5
 */
export function scramExchange(
  store: SaslCredentialStore,
  options: ScramOptions = {},
): SaslExchange {
  let state:
    | { step: 'first' }
    | {
        step: 'final'
        gs2Header: string
        clientFirstBare: string
        serverFirst: string
        nonce: string
        username: string
        login: string | null
        credentials: ScramCredentials
      }
    | { step: 'done' } = { step: 'first' }

  const clientFirst = async (message: Buffer): Promise<SaslStep> => {
    const text = utf8(message)
    if (text === null) return malformed('Not UTF-8')
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","   (RFC 5802 §7)
    const match = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/.exec(text)
    if (!match) return malformed('Malformed client-first-message')
    const [, cbindFlag = '', authzid, clientFirstBare = ''] = match
    if (cbindFlag.startsWith('p='))
      return malformed('Channel binding is not offered; use SCRAM-SHA-256')
    // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
    const bare = /^n=([^,]*),r=([\x21-\x2b\x2d-\x7e]+)(,.*)?$/.exec(clientFirstBare)
    if (!bare) return malformed('Malformed client-first-message-bare')
    const username = decodeSaslName(bare[1] ?? '')
    if (username === null || username === '') return malformed('Malformed user name')
    if (authzid !== undefined && decodeSaslName(authzid.slice(2)) !== username) {
      return {
        kind: 'failure',
        reason: 'credentials',
        message: 'Cannot act as another user',
        attemptedLogin: username,
      }
    }
    const found = await store.scramCredentials(username)
    const credentials = found?.credentials ?? unknownUserCredentials(username)
    const nonce = `${bare[2]}${options.serverNonce ?? randomBytes(18).toString('base64')}`
    const serverFirst = `r=${nonce},s=${credentials.salt.toString('base64')},i=${credentials.iterations}`
    state = {
      step: 'final',
      gs2Header: text.slice(0, text.length - clientFirstBare.length),
      clientFirstBare,
      serverFirst,
      nonce,
      username,
      login: found?.login ?? null,
      credentials,
    }
    return { kind: 'challenge', data: Buffer.from(serverFirst) }
  }

  const clientFinal = async (message: Buffer): Promise<SaslStep> => {
    if (state.step !== 'final') return malformed('Unexpected message')
    const { gs2Header, clientFirstBare, serverFirst, nonce, username, login, credentials } = state
    state = { step: 'done' }
    const text = utf8(message)
    // client-final-message = channel-binding "," nonce ["," extensions] "," proof
    const match =
      text === null
        ? null
        : /^(c=([A-Za-z0-9+/=]*),r=([^,]*)(?:,[^,]*)*?),p=([A-Za-z0-9+/=]+)$/.exec(text)
    if (!match) return malformed('Malformed client-final-message', username)
    const [, withoutProof = '', channelBinding = '', finalNonce, proof = ''] = match
    if (Buffer.from(channelBinding, 'base64').toString('latin1') !== gs2Header) {
      return malformed('Channel binding data does not match the gs2 header', username)
    }
    if (finalNonce !== nonce) return malformed('Nonce mismatch', username)
    // AuthMessage := client-first-message-bare "," server-first-message "," client-final-message-without-proof
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`
    const clientSignature = hmac(credentials.storedKey, authMessage)
    const clientProof = Buffer.from(proof, 'base64')
    if (clientProof.length !== clientSignature.length) return badCredentials(username)
    // ClientKey := ClientProof XOR ClientSignature; the proof holds when H(ClientKey) = StoredKey.
    const clientKey = Buffer.alloc(clientProof.length)
    for (let i = 0; i < clientKey.length; i += 1) {
      clientKey[i] = (clientProof[i] as number) ^ (clientSignature[i] as number)
    }
    if (login === null || !timingSafeEqual(sha256(clientKey), credentials.storedKey)) {
      return badCredentials(username)
    }
    const serverSignature = hmac(credentials.serverKey, authMessage)
    return { kind: 'success', login, data: Buffer.from(`v=${serverSignature.toString('base64')}`) }
  }

  return {
    mechanism: 'SCRAM-SHA-256',
    start: async (initial) =>
      initial === null ? { kind: 'challenge', data: Buffer.alloc(0) } : clientFirst(initial),
    respond: async (response) =>
      state.step === 'first' ? clientFirst(response) : clientFinal(response),
  }
}

/** saslname: "=2C" is ",", "=3D" is "=", any other "=" is an error (RFC 5802 §5.1); then SASLprep. */
function decodeSaslName(text: string): string | null {
  if (/=(?!2C|3D)/.test(text)) return null
  return prepare(text.replace(/=2C/g, ',').replace(/=3D/g, '='))
}

function unknownUserCredentials(username: string): ScramCredentials {
  const seed = hmac(UNKNOWN_USER_SECRET, username)
  return {
    salt: seed.subarray(0, 16),
    iterations: SCRAM_ITERATIONS,
    storedKey: sha256(seed),
    serverKey: hmac(seed, 'Server Key'),
  }
}
