import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { type TestContext, test } from 'node:test'
import { getFreePorts } from '../../test/support/free-port.ts'
import { runPostern } from '../../test/support/postern-process.ts'
import { testDatabase } from '../../test/support/postgres.ts'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { createDirectory } from '../directory/index.ts'
import { openSqliteStore } from '../store/sqlite/index.ts'
import { type CliIo, runCli } from './index.ts'

/** Runs `postern …` in-process against a config whose data dir is private to the test. */
function cli(t: TestContext) {
  const dir = makeTempDir(t)
  const config = path.join(dir, 'postern.toml')
  writeFileSync(config, 'data_dir = "data"\n[directory]\nsubaddress_separator = "+"\n')
  return {
    dataDir: path.join(dir, 'data'),
    config,
    async run(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
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
        readStdin: async () => stdin,
      }
      const code = await runCli([...args, '--config', config], io)
      return { code, out, err }
    },
  }
}

test('domain add|list|remove, with IDN shown both ways and clear refusals', async (t) => {
  const { run } = cli(t)
  assert.deepEqual(await run(['domain', 'add', 'Example.TEST.']), {
    code: 0,
    out: 'added domain example.test\n',
    err: '',
  })
  assert.equal((await run(['domain', 'add', 'bücher.test'])).code, 0)
  const duplicate = await run(['domain', 'add', 'EXAMPLE.test'])
  assert.deepEqual(
    [duplicate.code, duplicate.err],
    [1, 'postern: Domain example.test already exists\n'],
  )
  const bad = await run(['domain', 'add', 'not a domain'])
  assert.equal(bad.code, 2)
  assert.match(bad.err, /not a domain/)
  assert.equal(
    (await run(['domain', 'list'])).out,
    'example.test\nxn--bcher-kva.test (bücher.test)\n',
  )
  assert.equal((await run(['domain', 'remove', 'xn--bcher-kva.test'])).code, 0)
  const unknown = await run(['domain', 'remove', 'nowhere.test'])
  assert.deepEqual(
    [unknown.code, unknown.err],
    [1, 'postern: Domain nowhere.test does not exist\n'],
  )
  assert.equal((await run(['domain', 'add'])).code, 2, 'a missing argument is a usage error')
})

test('user add|list|passwd|remove; the password works for login and never is stored', async (t) => {
  const { run, dataDir } = cli(t)
  await run(['domain', 'add', 'example.test'])
  assert.deepEqual(await run(['user', 'add', 'Alice@Example.test'], 'correct horse\n'), {
    code: 0,
    out: 'added user alice@example.test\n',
    err: '',
  })
  const added = await run(['user', 'add', 'bob@example.test', '-p', 'pw', '--quota-messages', '10'])
  assert.equal(added.code, 0)
  assert.equal(
    (await run(['user', 'list'])).out,
    'alice@example.test\nbob@example.test\tquota: messages 10\n',
  )
  assert.equal((await run(['user', 'add', 'alice@example.test', '-p', 'x'])).code, 1)
  assert.equal((await run(['user', 'add', 'x@nowhere.test', '-p', 'x'])).code, 1)
  assert.equal((await run(['user', 'add', 'no-at-sign', '-p', 'x'])).code, 2)
  assert.equal((await run(['user', 'add', 'c@example.test'], '\n')).code, 2, 'empty password')
  assert.equal((await run(['user', 'add', 'c@example.test', '--quota-storage', 'lots'])).code, 2)

  assert.equal((await run(['user', 'passwd', 'alice@example.test'], 'battery staple\n')).code, 0)
  assert.equal((await run(['user', 'passwd', 'nobody@example.test', '-p', 'x'])).code, 1)
  const store = await openSqliteStore({ dataDir })
  t.after(() => store.close())
  const logins = createDirectory(store).credentialStore()
  assert.equal(
    await logins.verifyPassword('ALICE@example.test', 'battery staple'),
    'alice@example.test',
  )
  assert.equal(await logins.verifyPassword('alice@example.test', 'correct horse'), null)
  const stored = JSON.stringify(await store.getCredentials('alice@example.test'))
  assert.ok(!stored.includes('battery'), 'only hashes are stored')

  assert.equal((await run(['user', 'remove', 'bob@example.test'])).code, 0)
  assert.equal((await run(['user', 'remove', 'bob@example.test'])).code, 1)
  assert.equal((await run(['user', 'list', 'example.test'])).out, 'alice@example.test\n')
  assert.equal((await run(['domain', 'remove', 'example.test'])).code, 1, 'accounts remain')
})

test('alias add|list|remove, catch-all included, and resolution sees them', async (t) => {
  const { run, dataDir } = cli(t)
  await run(['domain', 'add', 'example.test'])
  await run(['user', 'add', 'alice@example.test', '-p', 'pw'])
  assert.equal(
    (await run(['alias', 'add', 'Team@example.test', 'alice@example.test', 'far@remote.test'])).out,
    'alias team@example.test → alice@example.test, far@remote.test\n',
  )
  assert.equal((await run(['alias', 'add', '@example.test', 'alice@example.test'])).code, 0)
  assert.equal(
    (await run(['alias', 'list'])).out,
    '@example.test\talice@example.test\nteam@example.test\talice@example.test, far@remote.test\n',
  )
  assert.equal((await run(['alias', 'add', 'alice@example.test', 'far@remote.test'])).code, 1)
  assert.equal((await run(['alias', 'add', 'x@nowhere.test', 'far@remote.test'])).code, 1)
  assert.equal((await run(['alias', 'add', 'x@example.test', 'not an address'])).code, 2)
  assert.equal((await run(['alias', 'remove', 'team@example.test', 'far@remote.test'])).code, 0)
  assert.equal((await run(['alias', 'remove', 'team@example.test', 'far@remote.test'])).code, 1)

  const store = await openSqliteStore({ dataDir })
  t.after(() => store.close())
  const directory = createDirectory(store)
  const team = await directory.resolve('team+tag@example.test')
  assert.equal(team.kind, 'deliver')
  assert.deepEqual(team.kind === 'deliver' && team.local.map((l) => l.account.address), [
    'alice@example.test',
  ])
  assert.equal((await directory.resolve('anyone@example.test')).kind, 'deliver', 'catch-all')
  assert.equal((await run(['alias', 'remove', '@example.test'])).code, 0)
  assert.equal((await directory.resolve('anyone@example.test')).kind, 'unknown')
})

test('the admin commands run as a process: a password piped on stdin, exit codes', async (t) => {
  const dir = makeTempDir(t)
  const env = { POSTERN_CONFIG: '' }
  assert.equal((await runPostern(['domain', 'add', 'example.test'], { cwd: dir, env })).code, 0)
  const added = await runPostern(['user', 'add', 'alice@example.test'], {
    cwd: dir,
    env,
    stdin: 'from stdin\n',
  })
  assert.deepEqual([added.code, added.stdout], [0, 'added user alice@example.test\n'])
  const listed = await runPostern(['user', 'list'], { cwd: dir, env })
  assert.equal(listed.stdout, 'alice@example.test\n')
  const badConfig = path.join(dir, 'bad.toml')
  writeFileSync(badConfig, 'frob = 1\n')
  const bad = await runPostern(['domain', 'list', '--config', badConfig], { cwd: dir })
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /frob: unknown key/)
})

test('the admin commands work on a PostgreSQL store too; an unreachable one exits 1', async (t) => {
  const url = await testDatabase(t)
  const dir = makeTempDir(t)
  const config = path.join(dir, 'postern.toml')
  writeFileSync(config, `[store]\nbackend = "postgres"\nurl = "${url}"\n`)
  const io = (lines: string[]): CliIo => ({
    out: (text) => lines.push(text),
    error: (text) => lines.push(text),
    env: {},
    readStdin: async () => 'pw\n',
  })
  const lines: string[] = []
  assert.equal(await runCli(['domain', 'add', 'example.test', '--config', config], io(lines)), 0)
  assert.equal(await runCli(['user', 'add', 'a@example.test', '--config', config], io(lines)), 0)
  assert.equal(await runCli(['user', 'list', '--config', config], io(lines)), 0)
  assert.deepEqual(lines, [
    'added domain example.test',
    'added user a@example.test',
    'a@example.test',
  ])

  const [port] = await getFreePorts(1)
  const unreachable = path.join(dir, 'unreachable.toml')
  writeFileSync(
    unreachable,
    `[store]\nbackend = "postgres"\nurl = "postgres://postern:secret@127.0.0.1:${port}/x"\n`,
  )
  const errors: string[] = []
  assert.equal(await runCli(['domain', 'list', '--config', unreachable], io(errors)), 1)
  assert.match(
    errors.join(''),
    /cannot open the PostgreSQL store at postgres:\/\/postern:\*\*\*@127\.0\.0\.1/,
  )
  assert.doesNotMatch(errors.join(''), /secret/)
})

test('migrate status|up [--dry-run], and a schema newer than this Postern refused', async (t) => {
  const { run, dataDir } = cli(t)
  const fresh = await run(['migrate', 'status'])
  assert.equal(fresh.code, 0)
  assert.match(
    fresh.out,
    /^store: sqlite in .*\nschema version 0 \(this Postern knows 6\): 6 migrations pending\n {2}1 {2}accounts.*\n {2}2 {2}outbound queue.*\n {2}3 {2}search text indexed after delivery.*\n {2}4 {2}outbound queue: delay notices.*\n {2}5 {2}POP3: .*\n {2}6 {2}outbound queue: claims/,
  )
  const dry = await run(['migrate', 'up', '--dry-run'])
  assert.match(dry.out, /^would apply:\n {2}1 {2}/)
  assert.match(
    (await run(['migrate', 'status'])).out,
    /schema version 0 /,
    'a dry run changes nothing',
  )
  const up = await run(['migrate', 'up'])
  assert.equal(up.code, 0)
  assert.match(up.out, /schema version 6 \(this Postern knows 6\): up to date\n$/)
  assert.match((await run(['migrate', 'up'])).out, /^nothing to apply: /)

  // A store left at version 1 (before the outbound queue): five steps pending, then applied.
  const database = new DatabaseSync(path.join(dataDir, 'store.sqlite'))
  database.exec(`DROP TABLE queue_recipients; DROP TABLE queue_entries;
    DROP TABLE blob_text_pending; DROP TABLE mailbox_locks; ALTER TABLE blobs DROP COLUMN crlf_size;
    ALTER TABLE accounts DROP COLUMN apop_secret; UPDATE meta SET value = 1 WHERE key = 'schema_version'`)
  assert.match(
    (await run(['migrate', 'status'])).out,
    /schema version 1 \(this Postern knows 6\): 5 migrations pending\n {2}2 {2}outbound queue.*\n {2}3 {2}search text.*\n {2}4 {2}outbound queue: delay.*\n {2}5 {2}POP3: .*\n {2}6 {2}outbound queue: claims/,
  )
  assert.match(
    (await run(['migrate', 'up'])).out,
    /schema version 6 \(this Postern knows 6\): up to date\n$/,
  )
  database.exec("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
  database.close()
  assert.match((await run(['migrate', 'status'])).out, /written by a newer Postern/)
  assert.equal((await run(['migrate', 'up'])).code, 1)
  const refused = await run(['domain', 'list'])
  assert.equal(refused.code, 1)
  assert.match(refused.err, /schema is version 99, newer than this Postern knows \(6\)/)
})

test('queue list|show|flush|remove work on the queue the server left', async (t) => {
  const { run, dataDir } = cli(t)
  assert.deepEqual(await run(['queue', 'list']), { code: 0, out: 'the queue is empty\n', err: '' })
  const store = await openSqliteStore({ dataDir })
  const bytes = Buffer.from('From: a@example.test\r\nSubject: waiting\r\n\r\nbody\r\n')
  const { queued } = await store.acceptMessage({
    deliveries: [],
    queue: {
      message: { bytes },
      entry: {
        sender: 'a@example.test',
        recipients: [
          { address: 'x@remote.test', originalRecipient: null, notify: null },
          { address: 'y@remote.test', originalRecipient: null, notify: null },
        ],
        envelopeId: 'env-1',
        ret: 'hdrs',
        body: '7bit',
        smtputf8: false,
        submittedBy: null,
      },
    },
  })
  assert.ok(queued)
  // One recipient deferred an hour, as a failed attempt leaves it.
  const [claim] = await store.claimQueue({ owner: 'test', leaseMs: 60_000, limit: 10 })
  const [x, y] = queued.recipients
  await store.finishQueueAttempt({
    entryId: queued.id,
    owner: 'test',
    outcomes: [
      {
        id: x?.id ?? 0,
        status: 'deferred',
        reply: '451 4.7.1 greylisted',
        nextAttemptAt: new Date(Date.now() + 3_600_000),
      },
      {
        id: y?.id ?? 0,
        status: 'deferred',
        reply: '421 4.4.2 try later',
        nextAttemptAt: new Date(Date.now() + 3_600_000),
      },
    ],
    notices: [],
  })
  assert.equal(claim?.entry.id, queued.id)
  await store.close()

  const list = await run(['queue', 'list'])
  assert.equal(list.code, 0)
  assert.match(
    list.out,
    new RegExp(`^${queued.id}\\t\\S+Z\\t${bytes.length}\\t<a@example\\.test>\\n`),
  )
  assert.match(
    list.out,
    /\n {4}<x@remote\.test>\tdeferred\tattempts 1\tnext \S+Z\t451 4\.7\.1 greylisted\n/,
  )
  assert.match(list.out, /1 queued message\(s\)\n$/)
  const show = await run(['queue', 'show', String(queued.id)])
  assert.equal(show.code, 0)
  assert.match(show.out, /sender: +<a@example\.test>\n/)
  assert.match(show.out, /envid: +env-1\n/)
  assert.match(show.out, /\nFrom: a@example\.test\nSubject: waiting\n$/)
  assert.equal((await run(['queue', 'show', '999'])).code, 1)
  assert.equal((await run(['queue', 'show', 'x1'])).code, 2)

  assert.match((await run(['queue', 'flush', String(queued.id)])).out, /^2 recipient\(s\) due now/)
  assert.match((await run(['queue', 'flush'])).out, /^0 recipient\(s\) due now/)
  const reopened = await openSqliteStore({ dataDir })
  const due = await reopened.nextQueueAttemptAt()
  await reopened.close()
  assert.ok(due !== null && due.getTime() <= Date.now(), 'flushed recipients are due')

  assert.deepEqual(await run(['queue', 'remove', String(queued.id)]), {
    code: 0,
    out: `removed queue entry ${queued.id}\n`,
    err: '',
  })
  assert.equal((await run(['queue', 'remove', String(queued.id)])).code, 1)
  assert.equal((await run(['queue', 'list'])).out, 'the queue is empty\n')
})
