import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import nodemailer from 'nodemailer'
import { mailboxMessages, withoutTrace } from '../support/mailbox.ts'
import { postfixUnavailable, startPostfix } from '../support/postfix.ts'
import { ALICE, BOB, startSmtpServer } from '../support/smtp.ts'
import { makeTempDir } from '../support/temp-dir.ts'

// Postern's SMTP server with clients nobody on the team wrote: Python's smtplib, swaks, curl,
// nodemailer, and Postfix relaying into it. Each message is compared byte for byte with what
// was sent (the trace fields Postern adds in front aside).

const run = promisify(execFile)

function message(subject: string): string {
  return [
    `From: Alice <${ALICE.address}>`,
    `To: Bob <${BOB.address}>`,
    `Subject: ${subject}`,
    'Date: Thu, 26 Nov 2026 10:00:00 +0000',
    `Message-ID: <${subject.replace(/\W/g, '-')}@example.test>`,
    '',
    'Hello Bob,',
    '.a line that starts with a dot',
    'bye',
    '',
  ].join('\r\n')
}

async function bobReceived(store: Parameters<typeof mailboxMessages>[0], subject: string) {
  const messages = await mailboxMessages(store, BOB.address)
  const found = messages.find((bytes) => bytes.toString().includes(`Subject: ${subject}\r\n`))
  assert.ok(found, `no message "${subject}" in ${messages.length} messages`)
  return found
}

/**
 * Runs swaks against 127.0.0.1:port from `from` to `to`, with the message in `file` (or swaks's
 * own test message) and any extra options; rejects with swaks's exit code on failure.
 */
function swaks(port: number, from: string, to: string, file: string | null, extra: string[] = []) {
  const data = file === null ? [] : ['--data', `@${file}`]
  const envelope = ['--from', from, '--to', to]
  return run('swaks', [
    '--server',
    `127.0.0.1:${port}`,
    ...extra,
    ...envelope,
    ...data,
    '--silent',
    '2',
  ])
}

const SMTPLIB = `
import smtplib, ssl, sys
mode, port, user, password, path = sys.argv[1:6]
data = open(path, 'rb').read()
context = ssl._create_unverified_context()
if mode == 'mx':
    with smtplib.SMTP('127.0.0.1', int(port)) as s:
        s.sendmail('someone@remote.test', ['bob@example.test'], data)
elif mode == 'starttls':
    with smtplib.SMTP('127.0.0.1', int(port)) as s:
        s.starttls(context=context)
        s.login(user, password)
        s.sendmail(user, ['bob@example.test'], data)
else:
    with smtplib.SMTP_SSL('127.0.0.1', int(port), context=context) as s:
        s.login(user, password)
        s.sendmail(user, ['bob@example.test'], data)
`

test('Python smtplib: MX, submission with STARTTLS, submissions with implicit TLS', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const dir = makeTempDir(t)
  const script = path.join(dir, 'send.py')
  writeFileSync(script, SMTPLIB)
  for (const [mode, port] of [
    ['mx', ports.smtp],
    ['starttls', ports.submission],
    ['ssl', ports.submissions],
  ] as const) {
    const subject = `smtplib ${mode}`
    const file = path.join(dir, `${mode}.eml`)
    writeFileSync(file, message(subject))
    await run('python3', [script, mode, String(port), ALICE.address, ALICE.password, file])
    const received = await bobReceived(store, subject)
    assert.equal(withoutTrace(received).toString(), message(subject))
  }
})

test('swaks: AUTH over STARTTLS with pipelining, and the MX listener', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const dir = makeTempDir(t)
  const file = path.join(dir, 'swaks.eml')
  // swaks ends the data with CRLF "." CRLF itself, so the file leaves out the last CRLF.
  writeFileSync(file, message('swaks submission').slice(0, -2))
  await swaks(ports.submission, ALICE.address, BOB.address, file, [
    '--tls',
    '--auth',
    'PLAIN',
    '--auth-user',
    ALICE.address,
    '--auth-password',
    ALICE.password,
    '--pipeline',
  ])
  assert.equal(
    withoutTrace(await bobReceived(store, 'swaks submission')).toString(),
    message('swaks submission'),
  )
  writeFileSync(file, message('swaks mx').slice(0, -2))
  await swaks(ports.smtp, 'someone@remote.test', BOB.address, file)
  assert.equal(withoutTrace(await bobReceived(store, 'swaks mx')).toString(), message('swaks mx'))
  // swaks reports a refused relay as a failure (exit code 24: RCPT refused).
  const relay = await swaks(ports.smtp, 'someone@remote.test', 'victim@remote.test', null).catch(
    (error: { code: number; stderr: string }) => error,
  )
  assert.ok('code' in relay && relay.code === 24, JSON.stringify(relay))
})

test('curl: smtp:// to the MX, smtp:// with --ssl-reqd and smtps:// with a login', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const dir = makeTempDir(t)
  const cases = [
    ['curl mx', `smtp://127.0.0.1:${ports.smtp}`, [], 'someone@remote.test'],
    [
      'curl starttls',
      `smtp://127.0.0.1:${ports.submission}`,
      ['--ssl-reqd', '-u', `${ALICE.address}:${ALICE.password}`],
      ALICE.address,
    ],
    [
      'curl smtps',
      `smtps://127.0.0.1:${ports.submissions}`,
      ['-u', `${ALICE.address}:${ALICE.password}`],
      ALICE.address,
    ],
  ] as const
  for (const [subject, url, extra, from] of cases) {
    const file = path.join(dir, `${subject.replace(' ', '-')}.eml`)
    writeFileSync(file, message(subject))
    await run('curl', [
      '-sS',
      '--insecure',
      url,
      ...extra,
      '--mail-from',
      from,
      '--mail-rcpt',
      BOB.address,
      '-T',
      file,
    ])
    assert.equal(withoutTrace(await bobReceived(store, subject)).toString(), message(subject))
  }
})

test('nodemailer: STARTTLS and implicit TLS submission, with an attachment', async (t) => {
  const { ports, store } = await startSmtpServer(t)
  for (const [subject, port, secure] of [
    ['nodemailer starttls', ports.submission, false],
    ['nodemailer tls', ports.submissions, true],
  ] as const) {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure,
      requireTLS: true,
      auth: { user: ALICE.address, pass: ALICE.password },
      tls: { rejectUnauthorized: false },
    })
    const info = await transport.sendMail({
      from: ALICE.address,
      to: [BOB.address, 'friend@remote.test'],
      subject,
      text: 'Hello from nodemailer',
      attachments: [{ filename: 'data.bin', content: Buffer.from([0, 1, 2, 255]) }],
    })
    transport.close()
    assert.deepEqual(info.accepted, [BOB.address, 'friend@remote.test'])
    const received = (await bobReceived(store, subject)).toString()
    assert.match(received, /Hello from nodemailer/)
    assert.match(received, /filename=data\.bin/)
    assert.match(
      received,
      new RegExp(`Message-ID: ${info.messageId.replace(/[.+]/g, '\\$&')}`, 'i'),
    )
  }
  assert.equal((await store.listQueue()).length, 2)
})

test('Postfix relays into Postern over SMTP with STARTTLS', {
  skip: postfixUnavailable() ?? false,
}, async (t) => {
  const { ports, store } = await startSmtpServer(t)
  const postfix = await startPostfix({ mode: 'relay', relayHost: `[127.0.0.1]:${ports.smtp}` })
  t.after(() => postfix.stop())
  const dir = makeTempDir(t)
  const file = path.join(dir, 'postfix.eml')
  writeFileSync(file, message('via postfix').slice(0, -2))
  await swaks(postfix.port, 'someone@remote.test', BOB.address, file)
  await postfix.waitForEmptyQueue(30_000).catch((error) => {
    throw new Error(`${(error as Error).message}\n${postfix.logTail()}`)
  })
  const received = await bobReceived(store, 'via postfix')
  const text = received.toString()
  // Postfix's own Received comes after ours; everything from the original header on is intact.
  assert.match(text, /with ESMTPS id .*\r\n\t\(using TLSv1\.3 with cipher /)
  assert.match(text, /\r\nReceived: from .*\r\n\tby postfix\.test \(Postfix\) with ESMTP id /)
  assert.ok(text.endsWith(`\r\n${message('via postfix')}`), text)
})
