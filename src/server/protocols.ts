import type { SecureContext } from 'node:tls'
import type { AuthThrottle } from '../auth/index.ts'
import type { Config } from '../config/index.ts'
import type { Delivery } from '../delivery/index.ts'
import type { Directory } from '../directory/index.ts'
import { createImapServer } from '../imap/server/index.ts'
import { createInboundVerifier } from '../mailauth/index.ts'
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
}

function smtpFactory(context: ProtocolContext, mode: SmtpMode): ProtocolHandler {
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
      mode === 'mx' && context.config.mailauth.verify
        ? createInboundVerifier({
            hostname: context.config.hostname,
            config: context.config.mailauth,
            resolver: context.resolver,
            log: context.log.child({ service: 'mailauth' }),
          })
        : null,
  })
}
