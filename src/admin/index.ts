// src/admin: the admin listener (`[listen] admin`, plain HTTP/1.1 on loopback by default). It
// serves Postern's own MTA-STS policy (RFC 8461 §3.3) to the reverse proxy that fronts it with
// a certificate for mta-sts.<domain>, and a health check. Nothing here changes anything.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Config } from '../config/index.ts'
import type { Directory } from '../directory/index.ts'
import { ownPolicyText } from '../mailauth/index.ts'
import type { ProtocolHandler } from '../net/index.ts'
import type { Logger } from '../util/index.ts'
import { httpProtocol, send } from './http.ts'

export { IDLE_TIMEOUT_MS, MAX_CONNECTION_MS, MAX_HEADER_OCTETS } from './http.ts'

export interface AdminServerDeps {
  config: Pick<Config, 'mtaSts'>
  directory: Pick<Directory, 'isLocalDomain'>
  log: Logger
}

/** RFC 8461 §3.3 (a well-known URI, RFC 8615). */
export const POLICY_PATH = '/.well-known/mta-sts.txt'
export const HEALTH_PATH = '/healthz'

export function createAdminServer(deps: AdminServerDeps): ProtocolHandler {
  return httpProtocol((request, response) => answer(request, response, deps), deps.log)
}

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  deps: AdminServerDeps,
): Promise<void> {
  const path = pathOf(request.url ?? '')
  let body: string | null
  if (path === HEALTH_PATH) {
    body = 'ok\n'
  } else if (path === POLICY_PATH) {
    body = await policyFor(hostOf(request), deps)
  } else {
    body = null
  }
  if (body === null) {
    send(response, 404, 'not found\n')
    return
  }
  // RFC 9110 §9.1: GET and HEAD are what a server must support; nothing here takes more.
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'method not allowed\n', { Allow: 'GET, HEAD' })
    return
  }
  if (path === POLICY_PATH) {
    deps.log.info({ host: hostOf(request) }, 'admin: MTA-STS policy served')
  }
  send(response, 200, body)
}

/**
 * The policy text when `host` is mta-sts.<a local domain> and a policy is configured (RFC 8461
 * §3.3: the policy host is "mta-sts" prepended to the policy domain); null otherwise.
 */
async function policyFor(host: string, deps: AdminServerDeps): Promise<string | null> {
  const prefix = 'mta-sts.'
  if (!host.startsWith(prefix)) return null
  const text = ownPolicyText(deps.config)
  if (text === null) return null
  return (await deps.directory.isLocalDomain(host.slice(prefix.length))) ? text : null
}

/** The Host field's name: lower case, without the port or a trailing dot (RFC 9110 §7.2). */
function hostOf(request: IncomingMessage): string {
  const host = (request.headers.host ?? '').trim().toLowerCase()
  return host.replace(/:\d*$/, '').replace(/\.$/, '')
}

/** The path of an origin-form or absolute-form request target, without the query. */
function pathOf(target: string): string {
  const path = target.startsWith('/') ? target : target.replace(/^[a-z]+:\/\/[^/]*/i, '')
  return path.split('?')[0] ?? ''
}
