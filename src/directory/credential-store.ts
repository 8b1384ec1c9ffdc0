import {
  DUMMY_PASSWORD_HASH,
  parseScramCredentials,
  type SaslCredentialStore,
  verifyPassword,
} from '../auth/index.ts'
import type { Store } from '../store/index.ts'
import { AddressError, canonicalAddress } from './canonical.ts'

/**
 * The accounts as SASL sees them (SMTP AUTH, IMAP AUTHENTICATE and LOGIN, POP3 AUTH and
 * USER/PASS). A login is the account's address in any spelling canonicalAddress accepts; the
 * canonical address is what a successful exchange reports.
 */
export function createCredentialStore(store: Store): SaslCredentialStore {
  return {
    async verifyPassword(username, password) {
      const address = loginAddress(username)
      const credentials = address === null ? null : await store.getCredentials(address)
      // An unknown or malformed login still costs one argon2id verification, against a hash
      // that matches nothing, so the time a failure takes does not tell which accounts exist.
      const isRight = await verifyPassword(
        password,
        credentials?.passwordHash ?? DUMMY_PASSWORD_HASH,
      )
      return isRight && credentials !== null ? address : null
    },

    async scramCredentials(username) {
      const address = loginAddress(username)
      if (address === null) return null
      const credentials = await store.getCredentials(address)
      if (credentials === null) return null
      const scram = parseScramCredentials(credentials.scramSha256)
      // Stored secrets that do not parse are damage, not a wrong password: a bug to report.
      if (scram === null) {
        throw new Error(`Cannot read the SCRAM-SHA-256 secrets stored for "${address}"`)
      }
      return { login: address, credentials: scram }
    },
  }
}

function loginAddress(username: string): string | null {
  try {
    return canonicalAddress(username).address
  } catch (error) {
    if (error instanceof AddressError) return null
    throw error
  }
}
