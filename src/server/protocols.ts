import type { SecureContext } from 'node:tls'
import { createAdminServer } from '../admin/index.ts'
import type { AuthThrottle } from '../auth/index.ts'
import type { Config } from '../config/index.ts'
import type { Delivery } from '../delivery/index.ts'
import type { Directory } from '../directory/index.ts'
import { createImapServer } from '../imap/server/index.ts'
import {
  createDkimSigner,
  createInboundVerifier,
  loadDkimKeys,
  type SealKey,
} from '../mailauth/index.ts'
import type { DnsResolver, ProtocolHandler } from '../net/index.ts'
import { createPop3Server } from '../pop3/server/index.ts'
import { createSmtpServer, type SmtpMode } from '../smtp/server/index.ts'
import type { Store } from '../store/index.ts'
import type { Logger } from '../util/index.ts'
import type { ProtocolName } from './listeners.ts'

/** What the server hands a protocol when it builds its handler. Grows as services land. */
export interface ProtocolContext {
  config: Config
  log: Logger
  /** For STARTTLS/STLS; implicit-TLS listeners are wrapped before the handler sees them. */
  secureContext: SecureContext
  store: Store
  directory: Directory
  /** Local delivery and queueing, shared by every listener that accepts mail. */
  delivery: Delivery
  /** Failed logins, counted across every protocol so guessing cannot switch ports to go on. */
  authThrottle: AuthThrottle
  /** The configured DNS resolver (`[dns] servers`), shared with the queue. */
  resolver: DnsResolver
}

export type ProtocolFactory = (context: ProtocolContext) => ProtocolHandler

/**
 * The protocols this build implements. Each protocol's issue adds its entry here; a configured
 * listener whose protocol is not in the table is reported at start and not bound.
 */
export const PROTOCOLS: Partial<Record<ProtocolName, ProtocolFactory>> = {
  smtp: (context) => smtpFactory(context, 'mx'),
  submission: (context) => smtpFactory(context, 'submission'),
  imap: (context) =>
    createImapServer({
      hostname: context.config.hostname,
      // APPENDLIMIT (RFC 7889) is the SMTP message size: one bound on mail, however it arrives.
      config: { ...context.config.imap, maxMessageSize: context.config.smtp.maxMessageSize },
      store: context.store,
      directory: context.directory,
      throttle: context.authThrottle,
      secureContext: context.secureContext,
    }),
  pop3: (context) =>
    createPop3Server({
      hostname: context.config.hostname,
      config: context.config.pop3,
      store: context.store,
      directory: context.directory,
      throttle: context.authThrottle,
      secureContext: context.secureContext,
    }),
  // Plain HTTP for a reverse proxy: Postern's own MTA-STS policy (RFC 8461 §3.3) and /healthz.
  admin: (context) =>
    createAdminServer({
      config: context.config,
      directory: context.directory,
      log: context.log.child({ service: 'admin' }),
    }),
}

function smtpFactory(context: ProtocolContext, mode: SmtpMode): ProtocolHandler {
  const { config } = context
  const log = context.log.child({ service: 'mailauth' })
  return createSmtpServer({
    mode,
    hostname: context.config.hostname,
    config: context.config.smtp,
    store: context.store,
    directory: context.directory,
    delivery: context.delivery,
    throttle: context.authThrottle,
    secureContext: context.secureContext,
    inbound:
      mode === 'mx' && config.mailauth.verify
        ? createInboundVerifier({
            hostname: config.hostname,
            config: config.mailauth,
            resolver: context.resolver,
            log,
            sealKey: config.mailauth.arcSeal
              ? (domain) => sealKey(config.dataDir, domain)
              : undefined,
          })
        : null,
    signer:
      mode === 'submission' && config.mailauth.sign
        ? createDkimSigner({ dataDir: config.dataDir, log })
        : null,
  })
}

/** A domain's active RSA DKIM key, which also seals ARC sets (ARC has no Ed25519). */
function sealKey(dataDir: string, domain: string): SealKey | null {
  const key = loadDkimKeys(dataDir, domain).find(
    (candidate) =>
      candidate.state === 'active' &&
      candidate.algorithm === 'rsa-sha256' &&
      candidate.privateKeyPem !== null,
  )
  return key?.privateKeyPem ? { selector: key.selector, privateKeyPem: key.privateKeyPem } : null
}
