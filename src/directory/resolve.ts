import type { Account, AccountId, Store } from '../store/index.ts'
import { AddressError, type CanonicalAddress, canonicalAddress } from './canonical.ts'
import { MAX_ALIAS_DEPTH, MAX_EXPANDED_ADDRESSES } from './limits.ts'

/** A local account a recipient reaches, with the subaddress tag it was reached by, if any. */
export interface LocalRecipient {
  account: Account
  /** "tag" of "user+tag@domain"; delivery may file by it. */
  tag: string | null
}

/** What a recipient address means here: what RCPT TO checks and what local delivery follows. */
export type Resolution =
  /** Not an address Postern accepts; `reason` says why, naming the input. */
  | { kind: 'invalid'; reason: string }
  /** The domain is not one of ours: relay, if the sender may. */
  | { kind: 'not-local' }
  /** Our domain, but no account, alias or catch-all takes it. */
  | { kind: 'unknown' }
  /**
   * Deliver to these accounts and forward to these remote addresses, each once. `truncated`:
   * the expansion met MAX_ALIAS_DEPTH or MAX_EXPANDED_ADDRESSES and this is what it found first.
   */
  | { kind: 'deliver'; local: LocalRecipient[]; remote: string[]; truncated?: true }

/** One lookup's answer: an account, or alias targets still to expand. */
type Found =
  | { kind: 'account'; account: Account; tag: string | null }
  | { kind: 'alias'; targets: string[]; tag: string | null }

interface Pending {
  address: string
  /** Alias levels followed to reach it: 1 for the recipient's own alias targets. */
  depth: number
  tag: string | null
}

/**
 * Resolves a recipient in this order: an account of that address; an alias of it; the same two
 * for the address without its subaddress tag ("user+tag@d" → "user@d", the tag kept); the
 * domain's catch-all ("@d"). Alias targets are resolved again the same way (not the catch-all),
 * breadth first: local accounts are collected once each, remote addresses once each, cycles are
 * cut, and a target that names nothing is dropped. If nothing at all is left, the recipient is
 * unknown, so a stale alias does not accept mail it cannot deliver.
 */
export async function resolveRecipient(
  store: Store,
  separator: string | null,
  recipient: string,
  options: { useCatchAll?: boolean } = {},
): Promise<Resolution> {
  let address: CanonicalAddress
  try {
    address = canonicalAddress(recipient)
  } catch (error) {
    if (error instanceof AddressError) return { kind: 'invalid', reason: error.message }
    throw error
  }
  const localDomains = new Map<string, boolean>()
  const isLocal = async (domain: string): Promise<boolean> => {
    let known = localDomains.get(domain)
    if (known === undefined) {
      known = (await store.getDomain(domain)) !== null
      localDomains.set(domain, known)
    }
    return known
  }
  if (!(await isLocal(address.domain))) return { kind: 'not-local' }

  const seen = new Set<string>([address.address])
  let found = await lookUp(store, separator, address, null, seen)
  if (found === null) {
    // A catch-all takes only what no account or alias does; its targets get no tag, since the
    // whole local part, not a tag, was what matched nothing.
    const catchAll =
      options.useCatchAll === false ? null : await store.getAlias(`@${address.domain}`)
    if (catchAll === null) return { kind: 'unknown' }
    found = { kind: 'alias', targets: catchAll.targets, tag: null }
  }
  if (found.kind === 'account') {
    return { kind: 'deliver', local: [{ account: found.account, tag: found.tag }], remote: [] }
  }

  const local = new Map<AccountId, LocalRecipient>()
  const remote = new Set<string>()
  let isTruncated = false
  // Each address is queued once (`seen` doubles as the queue's index), and no more than
  // MAX_EXPANDED_ADDRESSES are, so the queue stays small however wide the aliases fan out.
  const pending: Pending[] = []
  const enqueue = (targets: readonly string[], depth: number, tag: string | null) => {
    for (const target of targets) {
      if (seen.has(target)) continue
      if (pending.length >= MAX_EXPANDED_ADDRESSES) {
        isTruncated = true
        return
      }
      seen.add(target)
      pending.push({ address: target, depth, tag })
    }
  }
  enqueue(found.targets, 1, found.tag)
  for (let next = 0; next < pending.length; next += 1) {
    const item = pending[next] as Pending
    let target: CanonicalAddress
    try {
      target = canonicalAddress(item.address)
    } catch (error) {
      // Targets were canonical when stored; one that no longer is (a rule got stricter) names
      // nothing that could receive mail, like an unknown local address.
      if (error instanceof AddressError) continue
      throw error
    }
    if (!(await isLocal(target.domain))) {
      remote.add(target.address)
      continue
    }
    const reached = await lookUp(store, separator, target, item.tag, seen)
    if (reached === null) continue
    if (reached.kind === 'account') {
      if (!local.has(reached.account.id)) {
        local.set(reached.account.id, { account: reached.account, tag: reached.tag })
      }
    } else if (item.depth >= MAX_ALIAS_DEPTH) {
      isTruncated = true
    } else {
      enqueue(reached.targets, item.depth + 1, reached.tag)
    }
  }

  if (local.size === 0 && remote.size === 0) return { kind: 'unknown' }
  return {
    kind: 'deliver',
    local: [...local.values()],
    remote: [...remote],
    ...(isTruncated ? { truncated: true as const } : {}),
  }
}

/**
 * An account or alias of exactly this address, else of the address without its subaddress tag.
 * `tag` is what an alias on the way carried down; the address's own tag takes its place. The
 * untagged address joins `seen`, so an alias pointing back at it is a cycle, not a second visit.
 */
async function lookUp(
  store: Store,
  separator: string | null,
  address: CanonicalAddress,
  tag: string | null,
  seen: Set<string>,
): Promise<Found | null> {
  const exact = await lookUpExact(store, address.address, tag)
  if (exact !== null || separator === null) return exact
  // Everything after the first separator is the tag ("a+b+c" is "a" tagged "b+c"), as Postfix
  // and Dovecot split it. A local part that starts with the separator has no user to reach.
  const at = address.local.indexOf(separator)
  if (at <= 0) return null
  const base = `${address.local.slice(0, at)}@${address.domain}`
  if (seen.has(base)) return null
  seen.add(base)
  // "user+@d" has an empty tag, which names nothing to file by.
  const ownTag = address.local.slice(at + separator.length)
  return lookUpExact(store, base, ownTag === '' ? null : ownTag)
}

async function lookUpExact(
  store: Store,
  address: string,
  tag: string | null,
): Promise<Found | null> {
  const account = await store.getAccount(address)
  if (account !== null) return { kind: 'account', account, tag }
  const alias = await store.getAlias(address)
  if (alias !== null) return { kind: 'alias', targets: alias.targets, tag }
  return null
}
