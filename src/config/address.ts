import { isIP } from 'node:net'

export interface HostPort {
  /** An IP literal without brackets: "127.0.0.1", "::1", "0.0.0.0", "::". */
  host: string
  port: number
}

/**
 * Parses "IP:PORT", with an IPv6 literal in brackets ("[::1]:2143"). Host names are refused on
 * purpose: a listener bound through a name that resolves differently tomorrow is a surprise.
 * `defaultPort` lets a bare IP through (DNS servers default to 53).
 */
export function parseHostPort(value: string, defaultPort?: number): HostPort | string {
  let host: string
  let portText: string | undefined
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(value)
  if (bracketed) {
    host = bracketed[1] ?? ''
    portText = bracketed[2]
    if (isIP(host) !== 6) return `"${value}" has no IPv6 address between the brackets`
  } else if (isIP(value) === 4 || (isIP(value) === 6 && defaultPort !== undefined)) {
    host = value
  } else if (isIP(value) === 6) {
    // "::1:2525" is itself an IPv6 address; only brackets say where a port would start.
    return `"${value}" needs brackets around the IPv6 address ([ADDRESS]:PORT)`
  } else {
    const colon = value.lastIndexOf(':')
    if (colon < 0) return `"${value}" is not an address (expected IP:PORT such as 127.0.0.1:2525)`
    host = value.slice(0, colon)
    portText = value.slice(colon + 1)
    if (isIP(host) === 6)
      return `"${value}" needs brackets around the IPv6 address ([${host}]:PORT)`
    if (isIP(host) !== 4) {
      return `"${value}" is not an address: "${host}" is not an IP address (expected IP:PORT such as 127.0.0.1:2525)`
    }
  }
  host = canonicalHost(host)
  if (portText === undefined) {
    if (defaultPort === undefined) return `"${value}" has no port (expected IP:PORT)`
    return { host, port: defaultPort }
  }
  if (!/^\d{1,5}$/.test(portText)) return `"${value}" has a port that is not a number`
  const port = Number(portText)
  if (port < 1 || port > 65535) return `"${value}" has port ${port}, outside 1-65535`
  return { host, port }
}

export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
}

/** One spelling per address ("0:0::1" and "::1" are the same), so addresses compare as text. */
function canonicalHost(host: string): string {
  return isIP(host) === 6 ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host
}

/** True when binding both would collide: the same address, or a wildcard on the same port. */
export function isSameBinding(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port) return false
  const isWildcard = (host: string) => host === '0.0.0.0' || host === '::'
  return a.host === b.host || isWildcard(a.host) || isWildcard(b.host)
}
