// `postern dkim generate|list|activate|remove`, run in-process against a private data dir.
import assert from 'node:assert/strict'
import { statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { type CliIo, runCli } from './index.ts'

function cli(t: TestContext) {
  const dir = makeTempDir(t)
  const config = path.join(dir, 'postern.toml')
  writeFileSync(config, 'data_dir = "data"\n')
  return {
    dataDir: path.join(dir, 'data'),
    async run(args: string[]): Promise<{ code: number; out: string; err: string }> {
      let out = ''
      let err = ''
      const io: CliIo = {
        out: (text) => {
          out += text.endsWith('\n') ? text : `${text}\n`
        },
        error: (text) => {
          err += text.endsWith('\n') ? text : `${text}\n`
        },
        env: {},
        readStdin: async () => '',
      }
      const code = await runCli([...args, '--config', config], io)
      return { code, out, err }
    },
  }
}

test('dkim generate prints the state and the exact TXT record; list, activate, remove', async (t) => {
  const { run, dataDir } = cli(t)
  assert.equal((await run(['domain', 'add', 'example.test'])).code, 0)

  const first = await run(['dkim', 'generate', 'Example.Test', '--selector', 'one'])
  assert.equal(first.code, 0, first.err)
  assert.equal(first.err, '')
  const lines = first.out.split('\n')
  assert.equal(lines[0], 'generated rsa-sha256 key one for example.test: active')
  assert.ok(lines.includes('  name:  one._domainkey.example.test'))
  const value = lines.find((line) => line.startsWith('  value: '))?.slice('  value: '.length) ?? ''
  assert.match(value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/)
  const zone = lines.find((line) => line.startsWith('one._domainkey.example.test. IN TXT "')) ?? ''
  assert.equal([...zone.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join(''), value)
  assert.equal(statSync(path.join(dataDir, 'dkim', 'example.test', 'one.pem')).mode & 0o777, 0o600)

  const ed = await run(['dkim', 'generate', 'example.test', '-a', 'ed25519', '-s', 'ed1'])
  assert.equal(ed.code, 0, ed.err)
  assert.match(ed.out, /^generated ed25519-sha256 key ed1 for example\.test: active\n/)
  assert.match(
    ed.out,
    /\ned1\._domainkey\.example\.test\. IN TXT "v=DKIM1; k=ed25519; p=[^"]{44}"\n/,
  )

  const second = await run(['dkim', 'generate', 'example.test', '--selector', 'two'])
  assert.equal(second.code, 0, second.err)
  assert.match(second.out, /^generated rsa-sha256 key two for example\.test: pending\n/)
  assert.match(second.out, /then run: postern dkim activate example\.test two\n/)

  const listed = await run(['dkim', 'list'])
  assert.equal(listed.code, 0)
  assert.deepEqual(
    listed.out
      .trimEnd()
      .split('\n')
      .map((line) => line.split('  ').slice(0, 4).join(' ')),
    [
      'example.test one rsa-sha256 active',
      'example.test ed1 ed25519-sha256 active',
      'example.test two rsa-sha256 pending',
    ],
  )
  assert.match(listed.out, /TXT two\._domainkey\.example\.test\n$/)

  const activated = await run(['dkim', 'activate', 'example.test', 'two'])
  assert.equal(activated.code, 0, activated.err)
  assert.match(activated.out, /^active: example\.test two \(rsa-sha256\)\n/)
  assert.match(activated.out, /\nretired: one; keep its record one\._domainkey\.example\.test /)
  assert.match(
    (await run(['dkim', 'list', 'example.test'])).out,
    /example\.test {2}one {2}rsa-sha256 {2}retired/,
  )

  const refused = await run(['dkim', 'remove', 'example.test', 'two'])
  assert.equal(refused.code, 1)
  assert.match(refused.err, /^postern: DKIM key two is the active rsa-sha256 key of example\.test/)
  const removed = await run(['dkim', 'remove', 'example.test', 'one'])
  assert.deepEqual(
    [removed.code, removed.out],
    [
      0,
      'removed retired key one of example.test; its record one._domainkey.example.test can be deleted from DNS\n',
    ],
  )
  assert.equal((await run(['dkim', 'remove', 'example.test', 'two', '--force'])).code, 0)
  assert.equal(
    (await run(['dkim', 'list', 'example.test'])).out.split('\n').length,
    2,
    'ed1 is left',
  )
  const gone = await run(['dkim', 'activate', 'example.test', 'one'])
  assert.deepEqual([gone.code, gone.err], [1, 'postern: No DKIM key one for example.test\n'])

  // Keys left behind by a removed domain can still be listed and removed.
  assert.equal((await run(['domain', 'remove', 'example.test'])).code, 0)
  assert.equal((await run(['dkim', 'generate', 'example.test'])).code, 1)
  assert.match((await run(['dkim', 'list', 'example.test'])).out, /^example\.test {2}ed1 /)
  assert.equal((await run(['dkim', 'remove', 'example.test', 'ed1', '--force'])).code, 0)
  assert.equal((await run(['dkim', 'list', 'example.test'])).code, 1)
})

test('dkim refuses domains Postern does not serve and bad arguments', async (t) => {
  const { run } = cli(t)
  for (const args of [
    ['dkim', 'generate', 'nowhere.test'],
    ['dkim', 'list', 'nowhere.test'],
    ['dkim', 'activate', 'nowhere.test', 'one'],
    ['dkim', 'remove', 'nowhere.test', 'one'],
  ]) {
    const result = await run(args)
    assert.deepEqual(
      [result.code, result.err],
      [1, 'postern: nowhere.test is not a local domain (see postern domain list)\n'],
      args.join(' '),
    )
  }
  assert.equal((await run(['domain', 'add', 'example.test'])).code, 0)
  const algorithm = await run(['dkim', 'generate', 'example.test', '--algorithm', 'dsa'])
  assert.deepEqual(
    [algorithm.code, algorithm.err],
    [2, 'postern: Unknown algorithm "dsa": use rsa or ed25519\n'],
  )
  assert.equal((await run(['dkim', 'generate', 'example.test', '-s', 'bad_selector'])).code, 2)
  assert.equal((await run(['dkim', 'generate', 'not a domain'])).code, 2)
  assert.equal((await run(['dkim', 'activate', 'example.test'])).code, 2, 'a missing argument')
  assert.deepEqual(await run(['dkim', 'list']), { code: 0, out: 'no DKIM keys\n', err: '' })
})
