import type { TestContext } from 'node:test'
import type { SecureContext } from 'node:tls'
import { createDirectory, type Directory } from '../../src/directory/index.ts'
import { ConnectionLimiter, type ProtocolHandler, startListener } from '../../src/net/index.ts'
import { openStore } from '../../src/server/index.ts'
import type { Store } from '../../src/store/index.ts'
import { silentLogger } from '../../src/util/index.ts'
import { makeTempDir } from './temp-dir.ts'
import { testSecureContext } from './tls.ts'

/**
 * One protocol handler on its own loopback listener over a fresh SQLite store with the domain
 * example.test and the given users: for tests that build a handler with settings the config
 * file would refuse (a short timeout) or before src/server's listener table has the protocol.
 */
export async function startHandlerServer(
  t: TestContext,
  options: {
    name: string
    users: ReadonlyArray<{ address: string; password: string }>
    handler: (deps: {
      store: Store
      directory: Directory
      secureContext: SecureContext
    }) => ProtocolHandler
  },
): Promise<{ port: number; store: Store; directory: Directory }> {
  const dataDir = makeTempDir(t, `postern-${options.name}-`)
  const store = await openStore(
    { store: { backend: 'sqlite' }, dataDir } as Parameters<typeof openStore>[0],
    silentLogger,
  )
  t.after(() => store.close())
  const directory = createDirectory(store)
  await directory.addDomain('example.test')
  for (const user of options.users) await directory.addUser(user.address, user.password)
  const secureContext = await testSecureContext()
  const listener = await startListener({
    name: options.name,
    host: '127.0.0.1',
    port: 0,
    tls: 'none',
    secureContext,
    handler: options.handler({ store, directory, secureContext }),
    limiter: new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIp: 10 }),
    log: silentLogger,
  })
  t.after(() => listener.close(0))
  return { port: listener.port, store, directory }
}
