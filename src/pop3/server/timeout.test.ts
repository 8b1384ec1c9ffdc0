import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Pop3TestClient } from '../../../test/support/pop3.ts'
import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { testSecureContext } from '../../../test/support/tls.ts'
import { AuthThrottle } from '../../auth/index.ts'
import { DEFAULT_POP3 } from '../../config/index.ts'
import { createDirectory } from '../../directory/index.ts'
import { ConnectionLimiter, startListener } from '../../net/index.ts'
import { openStore } from '../../server/index.ts'
import { silentLogger } from '../../util/index.ts'
import { createPop3Server } from './index.ts'

// The idle timer, with a timeout shorter than the config allows (RFC 1939 §3 asks for at least
// ten minutes, which a test cannot wait): the handler is built here with its own config.

test('an idle session is told -ERR and closed after the timeout', async (t) => {
  const dataDir = makeTempDir(t, 'postern-pop3-idle-')
  const store = await openStore(
    { store: { backend: 'sqlite' }, dataDir } as Parameters<typeof openStore>[0],
    silentLogger,
  )
  t.after(() => store.close())
  const secureContext = await testSecureContext()
  const handler = createPop3Server({
    hostname: 'pop.example.test',
    config: { ...DEFAULT_POP3, timeoutMs: 300, loginDelayMs: null, expire: null },
    store,
    directory: createDirectory(store),
    throttle: new AuthThrottle(),
    secureContext,
  })
  const listener = await startListener({
    name: 'pop3',
    host: '127.0.0.1',
    port: 0,
    tls: 'none',
    secureContext,
    handler,
    limiter: new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerIp: 10 }),
    log: silentLogger,
  })
  t.after(() => listener.close(0))
  const client = await Pop3TestClient.connect(t, listener.port)
  await client.read()
  const started = Date.now()
  assert.equal(
    (await client.read()).raw,
    '-ERR Timeout waiting for a command, closing connection\r\n',
  )
  assert.ok(Date.now() - started >= 250)
  await client.closed()
})
