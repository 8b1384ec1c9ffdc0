import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { REPO_ROOT, runPostern, startPostern } from '../../test/support/postern-process.ts'
import { makeTempDir } from '../../test/support/temp-dir.ts'

const packageVersion = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'),
).version

test('postern --version prints the version and exits 0', async () => {
  const result = await runPostern(['--version'])
  assert.equal(result.code, 0)
  assert.equal(result.stdout, `${packageVersion}\n`)
})

test('postern help lists the commands and exits 0', async () => {
  const result = await runPostern(['help'])
  assert.equal(result.code, 0)
  assert.match(result.stdout, /serve \[options\]/)
  assert.match((await runPostern(['help', 'serve'])).stdout, /--config <file>/)
})

test('postern with no command, an unknown command or option exits 2 with usage on stderr', async () => {
  const none = await runPostern([])
  assert.equal(none.code, 2)
  assert.match(none.stderr, /Usage: postern/)
  const unknown = await runPostern(['frobnicate'])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /unknown command 'frobnicate'/)
  const option = await runPostern(['serve', '--frob'])
  assert.equal(option.code, 2)
  assert.match(option.stderr, /unknown option '--frob'/)
})

for (const [what, toml, expected] of [
  ['an unknown key', '[listen]\nsmpt = "127.0.0.1:2525"\n', 'listen.smpt: unknown key'],
  [
    'a bad address',
    '[listen]\nsmtp = "localhost:25"\n',
    'listen.smtp: "localhost:25" is not an address',
  ],
  [
    'a missing certificate',
    '[tls]\ncert = "/nonexistent/cert.pem"\nkey = "/nonexistent/key.pem"\n',
    'tls.cert: cannot read "/nonexistent/cert.pem": no such file',
  ],
  [
    'a value of the wrong type',
    'shutdown_grace_ms = "soon"\n',
    'shutdown_grace_ms: must be a number',
  ],
] as const) {
  test(`postern serve with ${what} exits 2 with one line naming the key`, async (t) => {
    const dir = makeTempDir(t)
    const file = path.join(dir, 'postern.toml')
    writeFileSync(file, toml)
    const result = await runPostern(['serve', '--config', file], { cwd: dir })
    assert.equal(result.code, 2)
    assert.equal(result.stderr.split('\n').filter(Boolean).length, 1, result.stderr)
    assert.ok(result.stderr.startsWith(`postern: bad config: ${expected}`), result.stderr)
    assert.equal(result.stdout, '')
    assert.equal(existsSync(path.join(dir, 'data')), false, 'nothing is created from a bad config')
  })
}

test('postern serve reads the config named by POSTERN_CONFIG', async (t) => {
  const dir = makeTempDir(t)
  const file = path.join(dir, 'env.toml')
  writeFileSync(file, 'bogus_key = 1\n')
  const result = await runPostern(['serve'], { cwd: dir, env: { POSTERN_CONFIG: file } })
  assert.equal(result.code, 2)
  assert.match(result.stderr, /bad config: bogus_key: unknown key/)
})

test('postern serve logs its config and data dir, and SIGTERM stops it within 5 s with exit 0', async (t) => {
  const server = await startPostern(t)
  const starting = await server.waitForLog('starting Postern')
  assert.equal(starting.config, server.configPath)
  assert.equal(starting.dataDir, server.dataDir)
  assert.equal(starting.hostname, 'mail.test')
  assert.equal(starting.version, packageVersion)
  assert.ok(existsSync(path.join(server.dataDir, 'tls/self-signed.crt')))
  const stopped = await server.stop('SIGTERM')
  assert.equal(stopped.code, 0)
  assert.ok(stopped.elapsedMs < 5000, `took ${stopped.elapsedMs} ms`)
  assert.ok(server.logs.some((line) => line.msg === 'stopped'))
  assert.equal(server.stderr(), '')
})

// Memory settings only a process start can set (util/memory-settings.ts): serve starts itself
// again under them, as the same pid, so a supervisor still sees its child. An operator's own
// choice is kept.
const YOUNG = ['--min-semi-space-size=16', '--max-semi-space-size=16']
for (const { env, tunables, v8Flags } of [
  {
    env: {},
    tunables: 'glibc.malloc.mmap_threshold=131072:glibc.malloc.hugetlb=1',
    v8Flags: YOUNG,
  },
  {
    env: { GLIBC_TUNABLES: 'glibc.malloc.arena_max=4' },
    tunables: 'glibc.malloc.arena_max=4:glibc.malloc.mmap_threshold=131072:glibc.malloc.hugetlb=1',
    v8Flags: YOUNG,
  },
  {
    env: {
      GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536',
      NODE_OPTIONS: '--max-semi-space-size=32',
    },
    tunables: 'glibc.malloc.mmap_threshold=65536',
    v8Flags: [],
  },
]) {
  test(`postern serve with ${JSON.stringify(env)} runs as the same pid under ${tunables} ${v8Flags.join(' ')}`, async (t) => {
    const saved = process.env.GLIBC_TUNABLES
    delete process.env.GLIBC_TUNABLES
    t.after(() => {
      if (saved !== undefined) process.env.GLIBC_TUNABLES = saved
    })
    const server = await startPostern(t, { env })
    const starting = await server.waitForLog('starting Postern')
    assert.equal(starting.glibcTunables, tunables)
    assert.deepEqual(starting.v8Flags, v8Flags)
    // The process the test spawned is the one that runs so (glibc may rewrite the separators of
    // the variable in place, so look for ours whatever separates them).
    const threshold = tunables.slice(tunables.indexOf('glibc.malloc.mmap_threshold='))
    const environ = readFileSync(`/proc/${server.child.pid}/environ`, 'utf8').split('\0')
    assert.ok(environ.join(':').includes(threshold), environ.join(' '))
    const cmdline = readFileSync(`/proc/${server.child.pid}/cmdline`, 'utf8').split('\0')
    assert.deepEqual(
      cmdline.filter((arg) => arg.includes('semi-space')),
      v8Flags,
    )
    await server.waitForLog('Postern is ready')
    const stopped = await server.stop('SIGTERM')
    assert.equal(stopped.code, 0)
    assert.equal(server.stderr(), '')
  })
}

test('SIGINT (Ctrl-C) stops postern serve with exit 0', async (t) => {
  const server = await startPostern(t)
  const stopped = await server.stop('SIGINT')
  assert.equal(stopped.code, 0)
  assert.ok(stopped.elapsedMs < 5000)
})

test('postern serve with no config runs the embedded default in ./data', async (t) => {
  const dir = makeTempDir(t)
  // The README's start command, in a fresh directory: no config file at all.
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'src/main.ts'), 'serve'], {
    cwd: dir,
    env: { ...process.env, POSTERN_CONFIG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => child.kill('SIGKILL'))
  let stdout = ''
  child.stdout.setEncoding('utf8')
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${stdout}`)), 15_000)
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk
      if (stdout.includes('Postern is ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  const starting = JSON.parse(
    stdout.split('\n').find((line) => line.includes('starting Postern')) ?? '{}',
  )
  assert.equal(starting.config, '(embedded default)')
  assert.equal(starting.dataDir, path.join(dir, 'data'))
  assert.equal(starting.hostname, 'localhost')
  assert.ok(existsSync(path.join(dir, 'data/tls/self-signed.key')))
  child.kill('SIGTERM')
  const code = await new Promise((resolve) => child.once('exit', (exitCode) => resolve(exitCode)))
  assert.equal(code, 0)
})

test('a restarted server reuses its self-signed certificate and logs the generation only once', async (t) => {
  const first = await startPostern(t)
  const generated = await first.waitForLog((line) =>
    String(line.msg).startsWith('generated a self-signed'),
  )
  await first.stop()
  const again = await startPostern(t, { dir: first.dir })
  const loaded = await again.waitForLog('TLS certificate loaded')
  assert.equal(loaded.fingerprint256, generated.fingerprint256)
  assert.equal(
    again.logs.filter((line) => String(line.msg).startsWith('generated a self-signed')).length,
    0,
  )
})
