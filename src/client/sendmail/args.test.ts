import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseSendmailArgs, SendmailUsageError } from './args.ts'

test('the forms programs use: git send-email, cron, PHP mail()', () => {
  // git send-email: sendmail -i recipients…; cron: sendmail -FCronDaemon -i -B8BITMIME -oem user
  const git = parseSendmailArgs(['-i', 'alice@example.test', 'bob@example.test'])
  assert.equal(git.isDotText, true)
  assert.deepEqual(git.recipients, ['alice@example.test', 'bob@example.test'])
  const cron = parseSendmailArgs(['-FCronDaemon', '-i', '-B8BITMIME', '-oem', 'root'])
  assert.equal(cron.fullName, 'CronDaemon')
  assert.deepEqual(cron.recipients, ['root'])
  assert.deepEqual(cron.ignored, ['-B 8BITMIME', '-oem'])
  // PHP: sendmail -t -i, often with -f
  const php = parseSendmailArgs(['-t', '-i', '-f', 'www@example.test'])
  assert.equal(php.isFromHeaders, true)
  assert.equal(php.sender, 'www@example.test')
  assert.deepEqual(php.recipients, [])
})

test('values glued or separate, -r as -f, <> as the null sender, -oi as -i', () => {
  assert.equal(parseSendmailArgs(['-fa@example.test']).sender, 'a@example.test')
  assert.equal(parseSendmailArgs(['-r', '<b@example.test>']).sender, 'b@example.test')
  assert.equal(parseSendmailArgs(['-f', '<>']).sender, '')
  assert.equal(parseSendmailArgs(['-oi']).isDotText, true)
  assert.equal(parseSendmailArgs(['-F', 'Ann Example']).fullName, 'Ann Example')
})

test('DSN options -N, -R and -V', () => {
  const args = parseSendmailArgs(['-N', 'failure,delay', '-R', 'HDRS', '-V', 'env-1', 'x@y.test'])
  assert.deepEqual(args.notify, ['failure', 'delay'])
  assert.equal(args.ret, 'hdrs')
  assert.equal(args.envelopeId, 'env-1')
  assert.deepEqual(parseSendmailArgs(['-Nnever']).notify, [])
  assert.throws(() => parseSendmailArgs(['-N', 'sometimes']), SendmailUsageError)
  assert.throws(() => parseSendmailArgs(['-R', 'most']), SendmailUsageError)
})

test('spool modes: --flush and -q, --queue and -bp, --daemon; -odq only spools', () => {
  assert.equal(parseSendmailArgs(['--flush']).mode, 'flush')
  assert.equal(parseSendmailArgs(['-q']).mode, 'flush')
  assert.equal(parseSendmailArgs(['--queue']).mode, 'queue')
  assert.equal(parseSendmailArgs(['-bp']).mode, 'queue')
  assert.equal(parseSendmailArgs(['--daemon', '--config', '/x.toml']).configPath, '/x.toml')
  assert.equal(parseSendmailArgs(['--config=/y.toml']).configPath, '/y.toml')
  assert.equal(parseSendmailArgs(['-odq', 'a@b.test']).isQueueOnly, true)
  assert.throws(() => parseSendmailArgs(['--flush', '--queue']), /cannot be used together/)
  assert.throws(() => parseSendmailArgs(['--flush', 'a@b.test']), /takes no recipients/)
})

test('usage errors: a missing value, an unknown or unsupported option', () => {
  assert.throws(() => parseSendmailArgs(['-f']), /needs a value/)
  assert.throws(() => parseSendmailArgs(['--bogus']), /unknown option --bogus/)
  assert.throws(() => parseSendmailArgs(['-Z']), /unknown option -Z/)
  assert.throws(() => parseSendmailArgs(['-bs']), /not supported/)
})

test('"--" ends the options: what follows is recipients, even with a dash', () => {
  assert.deepEqual(parseSendmailArgs(['-i', '--', '-odd@example.test']).recipients, [
    '-odd@example.test',
  ])
})
