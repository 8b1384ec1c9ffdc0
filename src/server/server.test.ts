import assert from 'node:assert/strict'
import { once } from 'node:events'
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { connect, createServer } from 'node:net'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { connect as tlsConnect } from 'node:tls'
import { echoProtocol } from '../../test/support/echo-protocol.ts'
import { getFreePorts } from '../../test/support/free-port.ts'
import { Received } from '../../test/support/socket-pair.ts'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { testCertificate } from '../../test/support/tls.ts'
import { loadConfig } from '../config/index.ts'
import { silentLogger } from '../util/index.ts'
import { createLogger, StartupError, startServer } from './index.ts'

async function configFile(t: TestContext, body: string) {
  const dir = makeTempDir(t)
  const file = path.join(dir, 'postern.toml')
  writeFileSync(file, `data_dir = "data"\nhostname = "mail.test"\n${body}`)
  return { dir, config: loadConfig({ path: file }) }
}

const echoOnly = { smtp: () => echoProtocol(), imap: () => echoProtocol() }

test('startServer binds the listeners whose protocol exists and reports the rest', async (t) => {
  const [smtp = 0, imaps = 0, pop3 = 0] = await getFreePorts(3)
  const { config } = await configFile(
    t,
    `[listen]\nsmtp = "127.0.0.1:${smtp}"\nimaps = "127.0.0.1:${imaps}"\npop3 = "127.0.0.1:${pop3}"\n`,
  )
  const server = await startServer(config, { log: silentLogger, protocols: echoOnly })
  t.after(() => server.stop())
  assert.deepEqual(
    server.listeners.map((listener) => [listener.name, listener.port]),
    [
      ['smtp', smtp],
      ['imaps', imaps],
    ],
  )
  // smtp is plain, imaps speaks TLS from the first octet with the self-signed certificate.
  const plain = connect(smtp, '127.0.0.1')
  t.after(() => plain.destroy())
  await new Received(plain).waitFor('HELLO')
  const cert = readFileSync(path.join(config.dataDir, 'tls/self-signed.crt'), 'utf8')
  const secure = tlsConnect({ port: imaps, host: '127.0.0.1', ca: cert, servername: 'mail.test' })
  t.after(() => secure.destroy())
  await new Received(secure).waitFor('HELLO')
  // pop3 has no protocol in this table, so nothing listens there.
  const refused = connect(pop3, '127.0.0.1')
  const [error] = await once(refused, 'error')
  assert.equal((error as NodeJS.ErrnoException).code, 'ECONNREFUSED')
})

test('a port in use fails the start naming the listener, and frees the ports already bound', async (t) => {
  const [smtp = 0, imap = 0] = await getFreePorts(2)
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(imap, '127.0.0.1', resolve))
  t.after(() => blocker.close())
  const { config } = await configFile(
    t,
    `[listen]\nsmtp = "127.0.0.1:${smtp}"\nimap = "127.0.0.1:${imap}"\n`,
  )
  await assert.rejects(startServer(config, { log: silentLogger, protocols: echoOnly }), (error) => {
    assert.ok(error instanceof StartupError)
    assert.equal(error.key, 'listen.imap')
    assert.equal(
      error.message,
      `listen.imap: cannot listen on 127.0.0.1:${imap}: address already in use`,
    )
    return true
  })
  // smtp was bound before imap failed; it must be free again.
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen(smtp, '127.0.0.1', resolve)
  })
  probe.close()
})

test('stop lets sessions say goodbye and stops accepting', async (t) => {
  const [smtp = 0] = await getFreePorts(1)
  const { config } = await configFile(t, `[listen]\nsmtp = "127.0.0.1:${smtp}"\n`)
  const server = await startServer(config, { log: silentLogger, protocols: echoOnly })
  const socket = connect(smtp, '127.0.0.1')
  t.after(() => socket.destroy())
  const received = new Received(socket)
  await received.waitFor('HELLO')
  socket.on('end', () => socket.end())
  await server.stop()
  await received.waitFor('BYE shutting down')
  const late = connect(smtp, '127.0.0.1')
  const [error] = await once(late, 'error')
  assert.equal((error as NodeJS.ErrnoException).code, 'ECONNREFUSED')
})

test('the self-signed certificate is made once, private, and reused on the next start', async (t) => {
  const { config } = await configFile(t, '[listen]\n')
  const first = await startServer(config, { log: silentLogger, protocols: {} })
  await first.stop()
  const keyPath = path.join(config.dataDir, 'tls/self-signed.key')
  const certPath = path.join(config.dataDir, 'tls/self-signed.crt')
  assert.equal(statSync(keyPath).mode & 0o777, 0o600)
  assert.equal(statSync(config.dataDir).mode & 0o777, 0o700)
  const cert = readFileSync(certPath, 'utf8')
  const second = await startServer(config, { log: silentLogger, protocols: {} })
  await second.stop()
  assert.equal(readFileSync(certPath, 'utf8'), cert)
})

test('half a self-signed pair stops the start instead of silently making a new one', async (t) => {
  const { config } = await configFile(t, '[listen]\n')
  await (await startServer(config, { log: silentLogger, protocols: {} })).stop()
  rmSync(path.join(config.dataDir, 'tls/self-signed.crt'))
  await assert.rejects(startServer(config, { log: silentLogger, protocols: {} }), (error) => {
    assert.ok(error instanceof StartupError)
    assert.equal(error.key, 'tls')
    assert.match(error.message, /self-signed\.key" exists but ".*self-signed\.crt" is missing/)
    return true
  })
  assert.equal(existsSync(path.join(config.dataDir, 'tls/self-signed.crt')), false)
})

test('a configured certificate is used, and one that does not match its key is refused', async (t) => {
  const { cert, key } = await testCertificate()
  const dir = makeTempDir(t)
  writeFileSync(path.join(dir, 'cert.pem'), cert)
  writeFileSync(path.join(dir, 'key.pem'), key)
  writeFileSync(
    path.join(dir, 'other.pem'),
    (await import('node:crypto'))
      .generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' }),
  )
  const [imaps = 0] = await getFreePorts(1)
  const good = await configFile(
    t,
    `[listen]\nimaps = "127.0.0.1:${imaps}"\n[tls]\ncert = "${dir}/cert.pem"\nkey = "${dir}/key.pem"\n`,
  )
  const server = await startServer(good.config, { log: silentLogger, protocols: echoOnly })
  t.after(() => server.stop())
  const secure = tlsConnect({ port: imaps, host: '127.0.0.1', ca: cert, servername: 'localhost' })
  t.after(() => secure.destroy())
  await new Received(secure).waitFor('HELLO')
  assert.equal(existsSync(path.join(good.config.dataDir, 'tls')), false, 'no self-signed pair made')

  const bad = await configFile(
    t,
    `[listen]\n[tls]\ncert = "${dir}/cert.pem"\nkey = "${dir}/other.pem"\n`,
  )
  await assert.rejects(startServer(bad.config, { log: silentLogger, protocols: {} }), (error) => {
    assert.ok(error instanceof StartupError)
    assert.equal(error.key, 'tls.cert')
    return true
  })
})

test('a data_dir that is a file fails the start naming data_dir', async (t) => {
  const dir = makeTempDir(t)
  writeFileSync(path.join(dir, 'data'), 'not a directory')
  const { config } = await configFile(t, '[listen]\n')
  await assert.rejects(
    startServer(
      { ...config, dataDir: path.join(dir, 'data') },
      { log: silentLogger, protocols: {} },
    ),
    (error) => error instanceof StartupError && error.key === 'data_dir',
  )
})

test('every log line of a connection carries its id', async (t) => {
  const [smtp = 0] = await getFreePorts(1)
  const { dir, config } = await configFile(t, `[listen]\nsmtp = "127.0.0.1:${smtp}"\n`)
  const logFile = path.join(dir, 'log.jsonl')
  const fd = openSync(logFile, 'w')
  t.after(() => closeSync(fd))
  const log = createLogger({ level: 'debug', format: 'json' }, { fd, isTTY: false })
  const server = await startServer(config, { log, protocols: echoOnly })
  const socket = connect(smtp, '127.0.0.1')
  const received = new Received(socket)
  const greeting = await received.waitFor(/HELLO (\S+)\r\n/)
  const id = /HELLO (\S+)/.exec(greeting)?.[1]
  socket.end('QUIT\r\n')
  await once(socket, 'close')
  await server.stop()
  const lines = readFileSync(logFile, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  const session = lines.filter((line) =>
    ['connection opened', 'echo session started', 'connection closed'].includes(line.msg),
  )
  assert.equal(session.length, 3)
  for (const line of session) {
    assert.equal(line.conn, id)
    assert.equal(typeof line.time, 'string')
    assert.equal(typeof line.level, 'string')
  }
  assert.ok(
    lines.some((line) => line.msg === 'starting Postern' && line.dataDir === config.dataDir),
  )
})

test('the pretty log format writes readable lines, not JSON', async (t) => {
  const dir = makeTempDir(t)
  const logFile = path.join(dir, 'log.txt')
  const fd = openSync(logFile, 'w')
  const log = createLogger({ level: 'info', format: 'pretty' }, { fd, isTTY: false })
  log.child({ conn: 'abc123' }).info({ remote: '127.0.0.1' }, 'connection opened')
  closeSync(fd)
  const text = readFileSync(logFile, 'utf8')
  assert.match(text, /INFO.*connection opened/)
  assert.match(text, /conn: "abc123"/)
  assert.doesNotMatch(text, /^\{/)
})
