import { readFileSync } from 'node:fs'
import { AuthThrottle } from '../auth/index.ts'
import { type Config, formatHostPort, LISTENER_NAMES } from '../config/index.ts'
import { createDelivery } from '../delivery/index.ts'
import { createDirectory } from '../directory/index.ts'
import { ConnectionLimiter, createDnsResolver, type Listener, startListener } from '../net/index.ts'
import { OutboundQueue } from '../queue/index.ts'
import type { Store } from '../store/index.ts'
import type { Logger } from '../util/index.ts'
import { prepareDataDir } from './data-dir.ts'
import { LISTENERS } from './listeners.ts'
import { openStore } from './open-store.ts'
import { PROTOCOLS, type ProtocolFactory } from './protocols.ts'
import { StartupError } from './startup-error.ts'
import { loadTlsMaterial } from './tls-material.ts'
import { POSTERN_VERSION } from './version.ts'

export { LISTENERS, type ProtocolName } from './listeners.ts'
export { createLogger } from './logger.ts'
export { describeStore, migrateStore, openStore, storeSchemaStatus } from './open-store.ts'
export type { ProtocolContext, ProtocolFactory } from './protocols.ts'
export { type SignalWatch, watchSignals } from './shutdown.ts'
export { StartupError } from './startup-error.ts'
export { POSTERN_VERSION } from './version.ts'

export interface StartServerOptions {
  log: Logger
  /** The protocol table; tests pass their own to exercise the plumbing. Defaults to PROTOCOLS. */
  protocols?: typeof PROTOCOLS
}

export interface RunningServer {
  readonly config: Config
  readonly listeners: readonly Listener[]
  readonly store: Store
  /** Stops accepting, gives sessions `config.shutdownGraceMs` to finish, then closes everything. */
  stop(): Promise<void>
}

/**
 * Starts Postern from a validated config: the data dir, the TLS material, then one listener per
 * configured address whose protocol this build has. Throws StartupError (naming the config key)
 * when something the config points at cannot be used; listeners already bound are closed first.
 */
export async function startServer(
  config: Config,
  options: StartServerOptions,
): Promise<RunningServer> {
  const { log } = options
  const protocols = options.protocols ?? PROTOCOLS
  log.info(
    {
      version: POSTERN_VERSION,
      node: process.version,
      glibcTunables: process.env.GLIBC_TUNABLES,
      v8Flags: process.execArgv.filter((flag) => /semi[-_]space/.test(flag)),
      config: config.path ?? '(embedded default)',
      hostname: config.hostname,
      dataDir: config.dataDir,
      store: config.store.backend,
      dns:
        config.dns.servers.length > 0 ? config.dns.servers.map(formatHostPort) : 'system resolver',
      limits: config.limits,
    },
    'starting Postern',
  )
  prepareDataDir(config.dataDir)
  const tls = await loadTlsMaterial(config, log)
  log.info(
    {
      cert: tls.certPath,
      selfSigned: tls.isSelfSigned,
      fingerprint256: tls.fingerprint256,
      validTo: tls.validTo,
    },
    'TLS certificate loaded',
  )

  const store = await openStore(config, log)
  log.info({ backend: config.store.backend }, 'store opened')

  const directory = createDirectory(store, {
    subaddressSeparator: config.directory.subaddressSeparator,
    keepApopSecrets: config.pop3.apop,
  })
  // One resolver for the queue's routes and the MX listener's SPF, DKIM and DMARC lookups.
  const resolver = createDnsResolver({
    servers: config.dns.servers,
    timeoutMs: config.dns.timeoutMs,
    tries: config.dns.tries,
  })
  const queue = new OutboundQueue({
    store,
    directory,
    delivery: createDelivery(store, log.child({ service: 'delivery' })),
    resolver,
    hostname: config.hostname,
    config: config.queue,
    relay: config.relay,
    smartHostCa: readSmartHostCa(config),
    // MTA-STS (RFC 8461) for MX deliveries; its policy cache persists in the data dir.
    mtaSts: { config: config.mtaSts, dataDir: config.dataDir },
    // Stable across restarts (a restart takes its own leases back at once), distinct per node.
    owner: `${config.hostname}:${config.dataDir}`,
    log: log.child({ service: 'queue' }),
  })
  const delivery = createDelivery(store, log.child({ service: 'delivery' }), {
    onQueued: () => queue.wake(),
  })
  const authThrottle = new AuthThrottle(config.auth, log.child({ service: 'auth' }))
  const limiter = new ConnectionLimiter(config.limits)
  const listeners: Listener[] = []
  const factories = new Map<ProtocolFactory, ReturnType<ProtocolFactory>>()
  const unavailable: string[] = []
  try {
    for (const name of LISTENER_NAMES) {
      const address = config.listen[name]
      if (address === undefined) continue
      const { protocol, tls: tlsMode } = LISTENERS[name]
      const factory = protocols[protocol]
      if (factory === undefined) {
        unavailable.push(name)
        continue
      }
      // One handler per protocol, shared by its plain and implicit-TLS listeners.
      let handler = factories.get(factory)
      if (handler === undefined) {
        handler = factory({
          config,
          log,
          secureContext: tls.secureContext,
          store,
          directory,
          delivery,
          authThrottle,
          resolver,
        })
        factories.set(factory, handler)
      }
      try {
        listeners.push(
          await startListener({
            name,
            host: address.host,
            port: address.port,
            tls: tlsMode,
            secureContext: tls.secureContext,
            handler,
            limiter,
            log,
          }),
        )
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        const why =
          code === 'EADDRINUSE'
            ? 'address already in use'
            : code === 'EACCES'
              ? 'permission denied'
              : (error as Error).message
        throw new StartupError(
          `listen.${name}`,
          `cannot listen on ${formatHostPort(address)}: ${why}`,
        )
      }
    }
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.close(0)))
    await store.close()
    throw error
  }

  if (unavailable.length > 0) {
    log.info(
      { listeners: unavailable },
      'configured listeners whose protocol this version does not have yet; not started',
    )
  }
  log.info(
    {
      listeners: Object.fromEntries(
        listeners.map((listener) => [
          listener.name,
          formatHostPort({ host: listener.host, port: listener.port }),
        ]),
      ),
    },
    'Postern is ready',
  )

  await queue.start()
  log.info(
    {
      route: config.relay.smartHost
        ? `smart host ${formatHostPort(config.relay.smartHost.address)}`
        : 'MX',
      maxConnections: config.queue.maxConnections,
    },
    'outbound queue running',
  )

  let stopping: Promise<void> | null = null
  return {
    config,
    listeners,
    store,
    stop() {
      stopping ??= (async () => {
        log.info(
          { graceMs: config.shutdownGraceMs },
          'stopping: no new connections, sessions are finishing',
        )
        await Promise.all([
          ...listeners.map((listener) => listener.close(config.shutdownGraceMs)),
          queue.stop(config.shutdownGraceMs),
        ])
        await store.close()
        log.info({}, 'stopped')
      })()
      return stopping
    },
  }
}

function readSmartHostCa(config: Config): Buffer | null {
  const file = config.relay.smartHost?.caFile
  if (file === undefined || file === null) return null
  try {
    return readFileSync(file)
  } catch (error) {
    throw new StartupError(
      'relay.smart_host.ca_file',
      `cannot read "${file}": ${(error as Error).message}`,
    )
  }
}
