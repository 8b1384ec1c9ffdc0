import {
  deriveScramCredentials,
  formatScramCredentials,
  hashPassword,
  type SaslCredentialStore,
} from '../auth/index.ts'
import type {
  Account,
  AccountCredentials,
  Alias,
  Domain,
  QuotaLimits,
  Store,
} from '../store/index.ts'
import {
  AddressError,
  canonicalAddress,
  canonicalAliasSource,
  canonicalDomain,
} from './canonical.ts'
import { createCredentialStore } from './credential-store.ts'
import { type Resolution, resolveRecipient } from './resolve.ts'

export interface DirectoryOptions {
  /**
   * The character that splits "user+tag@domain" into the account and a tag, so one account
   * can hand out many addresses. Default "+"; null turns subaddresses off.
   */
  subaddressSeparator?: string | null
  /**
   * Keep each password set from now on readable as the account's APOP secret (POP3 APOP, RFC
   * 1939 §7, needs it). Off by default: a stolen database then holds no password.
   */
  keepApopSecrets?: boolean
}

/**
 * Domains, accounts and aliases in canonical form, and what a recipient address means. Every
 * name given to a method may be in any spelling canonicalAddress or canonicalDomain accepts;
 * what comes back is canonical (domains as A-labels: see displayDomain).
 *
 * Management methods throw AddressError for a name with no canonical form, and let the store's
 * NotFoundError (unknown domain, account or alias) and ConflictError (duplicate, a domain still
 * in use, an address that is both account and alias) through.
 */
export interface Directory {
  addDomain(name: string): Promise<Domain>
  removeDomain(name: string): Promise<void>
  listDomains(): Promise<Domain[]>
  /** False for a name that is not a domain at all, rather than AddressError. */
  isLocalDomain(name: string): Promise<boolean>

  /** The address is also the login. @throws RangeError for an empty password */
  addUser(address: string, password: string, quota?: Partial<QuotaLimits>): Promise<Account>
  removeUser(address: string): Promise<void>
  listUsers(domain?: string): Promise<Account[]>
  setPassword(address: string, password: string): Promise<void>
  getUser(address: string): Promise<Account | null>

  /** `source` is an address or "@domain" (the catch-all); targets are addresses, local or not. */
  addAlias(source: string, targets: readonly string[]): Promise<Alias>
  /** Removes the given targets, or the whole alias without them. */
  removeAlias(source: string, targets?: readonly string[]): Promise<void>
  listAliases(domain?: string): Promise<Alias[]>

  /** What RCPT TO and local delivery ask. Never throws for a bad address: see Resolution. */
  resolve(recipient: string): Promise<Resolution>
  /**
   * Whether `account` may use `address` as a sender: its own address, with or without a
   * subaddress tag, or an alias that delivers to it. A catch-all does not count: it would let
   * its target send as every unused address of the domain.
   */
  ownsAddress(account: Account, address: string): Promise<boolean>
  /** The accounts for SASL (src/auth's createSaslExchange). */
  credentialStore(): SaslCredentialStore
}

export function createDirectory(store: Store, options: DirectoryOptions = {}): Directory {
  const separator = checkSeparator(options.subaddressSeparator)
  const keepApop = options.keepApopSecrets ?? false
  const credentials = createCredentialStore(store)

  return {
    // Every method is async, so a name with no canonical form rejects like a store error does
    // instead of throwing before a promise exists.
    addDomain: async (name) => store.addDomain(canonicalDomain(name)),
    removeDomain: async (name) => store.removeDomain(canonicalDomain(name)),
    listDomains: async () => store.listDomains(),
    async isLocalDomain(name) {
      let domain: string
      try {
        domain = canonicalDomain(name)
      } catch (error) {
        if (error instanceof AddressError) return false
        throw error
      }
      return (await store.getDomain(domain)) !== null
    },

    async addUser(input, password, quota) {
      const { address, local, domain } = canonicalAddress(input)
      // resolve() reads "user+x" as "user" tagged "x", so an account with the separator in its
      // name could never be reached; refuse it rather than create a mailbox no mail arrives in.
      if (separator !== null && local.includes(separator)) {
        throw new AddressError(
          `Cannot add user "${address}", its local part contains the subaddress separator "${separator}"`,
        )
      }
      return store.addAccount({
        address,
        domain,
        credentials: await deriveCredentials(password, keepApop),
        ...(quota === undefined ? {} : { quota }),
      })
    },
    removeUser: async (address) => store.removeAccount(canonicalAddress(address).address),
    listUsers: async (domain) =>
      store.listAccounts(domain === undefined ? undefined : canonicalDomain(domain)),
    async setPassword(input, password) {
      const { address } = canonicalAddress(input)
      await store.setCredentials(address, await deriveCredentials(password, keepApop))
    },
    getUser: async (address) => store.getAccount(canonicalAddress(address).address),

    async addAlias(source, targets) {
      const canonicalSource = canonicalAliasSource(source)
      // The store would report an empty list as an alias over its size limit.
      if (targets.length === 0) {
        throw new RangeError(`Cannot add alias "${canonicalSource}" without targets`)
      }
      // Deviation from RFC 5321 §2.4: a remote target's local part is lower-cased too, which its
      // server may in theory tell apart. A target's domain may become local later, and one form
      // for every stored address keeps lookups exact; servers that do are vanishingly rare.
      const canonicalTargets = targets.map((target) => canonicalAddress(target).address)
      return store.addAlias(canonicalSource, canonicalTargets)
    },
    removeAlias: async (source, targets) =>
      store.removeAlias(
        canonicalAliasSource(source),
        targets?.map((target) => canonicalAddress(target).address),
      ),
    listAliases: async (domain) =>
      store.listAliases(domain === undefined ? undefined : canonicalDomain(domain)),

    resolve: (recipient) => resolveRecipient(store, separator, recipient),
    async ownsAddress(account, address) {
      const resolution = await resolveRecipient(store, separator, address, { useCatchAll: false })
      return (
        resolution.kind === 'deliver' &&
        resolution.local.some((local) => local.account.id === account.id)
      )
    },
    credentialStore: () => credentials,
  }
}

/**
 * The argon2id hash for PLAIN and LOGIN, the SCRAM-SHA-256 secrets and, when asked for, the
 * APOP secret, from one password.
 */
async function deriveCredentials(password: string, keepApop: boolean): Promise<AccountCredentials> {
  // No SASL mechanism accepts an empty password (RFC 4616 §2 for PLAIN), so it could never log in.
  if (password === '') throw new RangeError('Cannot set an empty password')
  const [passwordHash, scram] = await Promise.all([
    hashPassword(password),
    deriveScramCredentials(password),
  ])
  return {
    passwordHash,
    scramSha256: formatScramCredentials(scram),
    apopSecret: keepApop ? password : null,
  }
}

function checkSeparator(separator: string | null | undefined): string | null {
  if (separator === undefined) return '+'
  if (separator === null) return null
  // One of the symbols atext allows (RFC 5322 §3.2.3): a letter or digit would split ordinary
  // names, and the dot separates atoms.
  if (!/^[!#$%&'*+\-/=?^_`{|}~]$/.test(separator)) {
    throw new RangeError(
      `Cannot use "${separator}" as the subaddress separator, it must be one of !#$%&'*+-/=?^_\`{|}~`,
    )
  }
  return separator
}
