import assert from 'node:assert/strict'
import { chmodSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { ClientConfigError, fetchSettings, readClientFile, submissionSettings } from './config.ts'

test('defaults: ports by security, spool and state under the XDG directories', (t) => {
  const home = makeTempDir(t, 'postern-client-config-')
  const env = { HOME: home }
  const loaded = readClientFile(null, env) // no file: an empty config
  assert.throws(() => submissionSettings(loaded, env), /no submission server/)
  const submission = submissionSettings(loaded, {
    ...env,
    POSTERN_SUBMISSION_HOST: 'mail.example.test',
    POSTERN_SUBMISSION_SECURITY: 'starttls',
  })
  assert.equal(submission.port, 587)
  assert.equal(submission.spoolDir, path.join(home, '.local', 'share', 'postern', 'spool'))
  const fetch = fetchSettings(
    loaded,
    { ...env, POSTERN_FETCH_HOST: 'mail.example.test' },
    {
      protocol: 'pop3',
    },
  )
  assert.equal(fetch.port, 995)
  assert.equal(fetch.security, 'tls')
  assert.equal(fetch.maildir, path.join(home, 'Maildir'))
  assert.equal(fetch.stateDir, path.join(home, '.local', 'state', 'postern', 'fetch'))
})

test('the file, with the environment over it and the flags over both', (t) => {
  const home = makeTempDir(t, 'postern-client-config-')
  const file = path.join(home, 'client.toml')
  writeFileSync(
    file,
    '[submission]\nhost = "a.test"\nport = 2525\nsecurity = "none"\nuser = "u@a.test"\npassword = "p"\n[fetch]\nhost = "b.test"\nmbox = "~/mbox"\nkeep = true\n',
    { mode: 0o600 },
  )
  const env = { HOME: home, POSTERN_SUBMISSION_PASSWORD: 'from-env' }
  const loaded = readClientFile(file, env)
  const submission = submissionSettings(loaded, env)
  assert.deepEqual(
    [submission.host, submission.port, submission.password],
    ['a.test', 2525, 'from-env'],
  )
  const fetch = fetchSettings(loaded, env, { host: 'c.test', port: 1143, security: 'starttls' })
  assert.deepEqual(
    [fetch.host, fetch.port, fetch.mbox, fetch.maildir, fetch.isKeep],
    ['c.test', 1143, path.join(home, 'mbox'), null, true],
  )
  assert.throws(() => fetchSettings(loaded, env, { maildir: '/x' }), /either a maildir or an mbox/)
})

test('a password others can read is refused, in the file or in a password file', (t) => {
  const home = makeTempDir(t, 'postern-client-config-')
  const file = path.join(home, 'client.toml')
  writeFileSync(file, '[submission]\nhost = "a.test"\npassword = "p"\n')
  chmodSync(file, 0o640)
  assert.throws(() => readClientFile(file, { HOME: home }), /mode 640.*chmod 600/)
  const secret = path.join(home, 'secret')
  writeFileSync(secret, 'hunter2\n')
  chmodSync(secret, 0o604)
  writeFileSync(file, `[submission]\nhost = "a.test"\npassword_file = "${secret}"\n`)
  const loaded = readClientFile(file, { HOME: home }) // no password in the file itself
  assert.throws(() => submissionSettings(loaded, { HOME: home }), ClientConfigError)
  chmodSync(secret, 0o600)
  assert.equal(submissionSettings(loaded, { HOME: home }).password, 'hunter2')
})

test('unknown keys, wrong types and a missing named file are errors naming the key', (t) => {
  const home = makeTempDir(t, 'postern-client-config-')
  const file = path.join(home, 'client.toml')
  writeFileSync(file, '[submission]\nhots = "a.test"\n')
  assert.throws(() => readClientFile(file, {}), /submission/)
  writeFileSync(file, '[fetch]\nport = "x"\n')
  assert.throws(() => readClientFile(file, {}), /fetch\.port/)
  assert.throws(() => readClientFile(path.join(home, 'none.toml'), {}), /cannot read/)
})
