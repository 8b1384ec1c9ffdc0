import { normalizeAddress } from './connection.ts'

export type AdmitResult =
  | { isAdmitted: true; release: () => void }
  | { isAdmitted: false; reason: string }

/**
 * Counts open connections per peer IP and in all, across every listener, so that one host
 * cannot take all of the server (DESIGN.md invariant 2). IPv6 peers are counted per /64, since
 * one host usually owns a whole /64.
 */
export class ConnectionLimiter {
  readonly #maxTotal: number
  readonly #maxPerIp: number
  readonly #perIp = new Map<string, number>()
  #total = 0

  constructor(limits: { maxConnections: number; maxConnectionsPerIp: number }) {
    this.#maxTotal = limits.maxConnections
    this.#maxPerIp = limits.maxConnectionsPerIp
  }

  get total(): number {
    return this.#total
  }

  countFor(address: string): number {
    return this.#perIp.get(limitKey(address)) ?? 0
  }

  admit(address: string): AdmitResult {
    const key = limitKey(address)
    const current = this.#perIp.get(key) ?? 0
    if (this.#total >= this.#maxTotal) {
      return { isAdmitted: false, reason: `server has ${this.#total} connections, the limit` }
    }
    if (current >= this.#maxPerIp) {
      return { isAdmitted: false, reason: `${key} has ${current} connections, the limit` }
    }
    this.#perIp.set(key, current + 1)
    this.#total += 1
    let isReleased = false
    return {
      isAdmitted: true,
      release: () => {
        if (isReleased) return
        isReleased = true
        this.#total -= 1
        const left = (this.#perIp.get(key) ?? 1) - 1
        if (left === 0) this.#perIp.delete(key)
        else this.#perIp.set(key, left)
      },
    }
  }
}

/** The key a peer is counted under: the IPv4 address, or the /64 of an IPv6 one. */
export function limitKey(address: string): string {
  const normalized = normalizeAddress(address)
  if (!normalized.includes(':')) return normalized
  const [head = '', tail = ''] = normalized.split('::')
  const headGroups = head === '' ? [] : head.split(':')
  const tailGroups = tail === '' ? [] : tail.split(':')
  const groups = normalized.includes('::')
    ? [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups]
    : headGroups
  const prefix = groups.slice(0, 4).map((group) => Number.parseInt(group || '0', 16).toString(16))
  return `${prefix.join(':')}::/64`
}
