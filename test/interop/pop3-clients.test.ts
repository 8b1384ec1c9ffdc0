import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { promisify } from 'node:util'
import { mailboxMessages } from '../support/mailbox.ts'
import { ALICE, type Pop3TestServer, startPop3Server } from '../support/pop3.ts'
import { makeTempDir } from '../support/temp-dir.ts'

// Postern's POP3 server with clients nobody on the team wrote: Python's poplib, fetchmail and
// curl. Each downloads a set of awkward messages and what it got is compared byte for byte with
// what was delivered, in the form POP3 sends it: CRLF line ends, a final CRLF, no dot-stuffing.

const run = promisify(execFile)

const HEADER = [
  'From: Bob <bob@example.test>',
  'To: Alice <alice@example.test>',
  'Date: Thu, 26 Nov 2026 10:00:00 +0000',
]

/** A header for `name` with `eol` line ends, the empty line that ends it included. */
function header(name: string, eol = '\r\n', extra: string[] = []): string {
  const fields = [...HEADER, `Subject: ${name}`, `Message-ID: <${name}@example.test>`, ...extra]
  return `${fields.join(eol)}${eol}${eol}`
}

/** A little over 300 KiB of short lines; every 40th starts with ".", every 97th is only ".". */
function largeBody(): string {
  let body = ''
  for (let n = 0; body.length < 300 * 1024; n++) {
    if (n % 97 === 0) body += '.\r\n'
    const text = `line ${n} ${'abcdefghijklmnopqrstuvwxyz'.repeat(3)}`.slice(0, 74)
    body += n % 40 === 0 ? `.${text}\r\n` : `${text}\r\n`
  }
  return body
}

/** The 5,000-octet line; it starts with "." so that the stuffed line is 5,001 octets. */
const LONG_LINE = `.${Array.from({ length: 4999 }, (_, i) => String.fromCharCode(0x21 + (i % 94))).join('')}`

/** The messages as delivered, octet for octet (Latin-1 strings: one character per octet). */
const MESSAGES: readonly string[] = [
  `${header('plain')}Hello Alice,\r\n\r\nthis one is plain.\r\nBob\r\n`,
  `${header('dots')}.starts with a dot\r\n.\r\n..two dots\r\n. a dot and a space\r\nlast\r\n.\r\n`,
  `${header('long-line')}before\r\n${LONG_LINE}\r\nafter\r\n`,
  `${header('eight-bit', '\r\n', [
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: 8bit',
  ])}caf\xe9 cr\xe8me br\xfbl\xe9e\r\n\xff\xfe\x80\x81 are not UTF-8\r\n\xff\r\n`,
  `${header('bare-lf', '\n')}first line\n.a dot line\n.\nno final line end`,
  `${header('large')}${largeBody()}`,
  header('empty-body'),
]

/** What RETR sends once un-stuffed: a bare LF gets its CR, a missing final line end is added. */
function crlfForm(message: string): string {
  const lines = message.replace(/\r?\n/g, '\r\n')
  return lines.endsWith('\r\n') ? lines : `${lines}\r\n`
}

/** The same with LF line ends, as fetchmail hands a message to its MDA. */
function lfForm(message: string): string {
  return crlfForm(message).replace(/\r\n/g, '\n')
}

/** What TOP n `count` sends once un-stuffed: the header, the empty line, `count` body lines. */
function topForm(message: string, count: number): string {
  const sent = crlfForm(message)
  const end = sent.indexOf('\r\n\r\n') + 4
  const body = sent.slice(end).split('\r\n').slice(0, -1).slice(0, count)
  return sent.slice(0, end) + body.map((line) => `${line}\r\n`).join('')
}

const EXPECTED = MESSAGES.map(crlfForm)
const SIZES = EXPECTED.map((message) => message.length)
const TOTAL = SIZES.reduce((a, b) => a + b, 0)

/** Asserts two octet strings are equal, naming the first difference rather than diffing 300 KB. */
function assertSameOctets(actual: string, expected: string, what: string): void {
  let at = 0
  while (at < actual.length && actual[at] === expected[at]) at++
  const around = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 40), at + 40))
  assert.ok(
    actual === expected,
    `${what}: ${actual.length} octets, expected ${expected.length}; first difference at ${at}: ` +
      `${around(actual)} instead of ${around(expected)}`,
  )
}

/** The UIDL values of ALICE's INBOX messages with these UIDs. */
async function uniqueIds(server: Pop3TestServer, uids: number[]): Promise<string[]> {
  const mailbox = await server.store.getMailboxById(await server.inboxOf(ALICE.address))
  assert.ok(mailbox)
  return uids.map((uid) => `${mailbox.uidValidity}.${uid}`)
}

function certOf(server: Pop3TestServer): string {
  return path.join(server.config.dataDir, 'tls', 'self-signed.crt')
}

// ---------------------------------------------------------------------------------------------
// Python poplib

/**
 * One poplib session: connect (plain, STLS or implicit TLS, the certificate checked against the
 * server's self-signed one), log in with USER/PASS or APOP, then STAT, LIST, UIDL, RETR each,
 * TOP each, DELE each and QUIT. Prints what it got as JSON, message octets in base64.
 */
const POPLIB = `
import base64, json, poplib, ssl, sys
# poplib refuses lines over 2,048 octets ("line too long"); RFC 1939 has no such limit and the
# 5,000-octet line is legal in POP3, so the cap is lifted as applications that meet it do.
poplib._MAXLINE = 1 << 20
mode, port, user, password, cafile = sys.argv[1:6]
context = ssl.create_default_context(cafile=cafile)
text = lambda data: data.decode('latin-1')
joined = lambda lines: base64.b64encode(b''.join(line + b'\\r\\n' for line in lines)).decode()
out = {'refusedBeforeStls': None}
if mode == 'pop3s':
    pop = poplib.POP3_SSL('127.0.0.1', int(port), context=context)
else:
    pop = poplib.POP3('127.0.0.1', int(port))
out['greeting'] = text(pop.getwelcome())
if mode == 'stls':
    try:
        pop.user(user)
    except poplib.error_proto as error:
        out['refusedBeforeStls'] = text(error.args[0])
    out['stls'] = text(pop.stls(context))
if mode == 'apop':
    out['login'] = text(pop.apop(user, password))
else:
    pop.user(user)
    out['login'] = text(pop.pass_(password))
count, size = pop.stat()
out['stat'] = [count, size]
out['list'] = [text(line) for line in pop.list()[1]]
out['uidl'] = [text(line) for line in pop.uidl()[1]]
out['retr'] = []
for n in range(1, count + 1):
    status, lines, octets = pop.retr(n)
    out['retr'].append({'status': text(status), 'octets': octets, 'data': joined(lines)})
out['top'] = [joined(pop.top(n, 2)[1]) for n in range(1, count + 1)]
out['dele'] = [text(pop.dele(n)) for n in range(1, count + 1)]
out['quit'] = text(pop.quit())
print(json.dumps(out))
`

interface PoplibResult {
  greeting: string
  refusedBeforeStls: string | null
  stls?: string
  login: string
  stat: [number, number]
  list: string[]
  uidl: string[]
  retr: Array<{ status: string; octets: number; data: string }>
  top: string[]
  dele: string[]
  quit: string
}

async function poplib(
  t: TestContext,
  server: Pop3TestServer,
  mode: 'stls' | 'pop3s' | 'apop',
): Promise<PoplibResult> {
  const script = path.join(makeTempDir(t), 'pop3-download.py')
  writeFileSync(script, POPLIB)
  const port = mode === 'pop3s' ? server.ports.pop3s : server.ports.pop3
  const { stdout } = await run(
    'python3',
    [script, mode, String(port), ALICE.address, ALICE.password, certOf(server)],
    { maxBuffer: 64 << 20, timeout: 20_000 },
  )
  return JSON.parse(stdout) as PoplibResult
}

/** Everything one poplib session saw, against the delivered messages with these UIDs. */
async function checkPoplib(server: Pop3TestServer, result: PoplibResult, uids: number[]) {
  assert.match(
    result.login,
    new RegExp(`^\\+OK alice@example\\.test has ${MESSAGES.length} messages`),
  )
  assert.deepEqual(result.stat, [MESSAGES.length, TOTAL])
  assert.deepEqual(
    result.list,
    SIZES.map((size, i) => `${i + 1} ${size}`),
  )
  assert.deepEqual(
    result.uidl,
    (await uniqueIds(server, uids)).map((id, i) => `${i + 1} ${id}`),
  )
  assert.equal(result.retr.length, MESSAGES.length)
  result.retr.forEach(({ status, octets, data }, i) => {
    const got = Buffer.from(data, 'base64').toString('latin1')
    assert.equal(status, `+OK ${SIZES[i]} octets`)
    // poplib counts the octets it read, less one per stuffed dot: the size LIST gave.
    assert.equal(octets, SIZES[i])
    assert.equal(got.length, SIZES[i])
    assertSameOctets(got, EXPECTED[i] ?? '', `RETR ${i + 1}`)
  })
  result.top.forEach((data, i) => {
    const got = Buffer.from(data, 'base64').toString('latin1')
    assertSameOctets(got, topForm(MESSAGES[i] ?? '', 2), `TOP ${i + 1} 2`)
  })
  assert.deepEqual(
    result.dele,
    MESSAGES.map((_, i) => `+OK Message ${i + 1} deleted`),
  )
  assert.match(result.quit, /^\+OK /)
  assert.deepEqual(await mailboxMessages(server.store, ALICE.address), [])
}

test('Python poplib: STLS and pop3s, every command, octets exact, DELE empties the INBOX', async (t) => {
  const server = await startPop3Server(t, '[pop3]\nallow_plaintext = "never"\n')
  const stlsUids = await server.deliver(MESSAGES)
  const stls = await poplib(t, server, 'stls')
  // Before STLS the USER is refused with -ERR, which poplib raises as error_proto.
  assert.equal(
    stls.refusedBeforeStls,
    '-ERR [AUTH] Plaintext authentication needs TLS here, send STLS first',
  )
  assert.equal(stls.stls, '+OK Begin TLS negotiation')
  await checkPoplib(server, stls, stlsUids)
  const tlsUids = await server.deliver(MESSAGES)
  const tls = await poplib(t, server, 'pop3s')
  assert.equal(tls.refusedBeforeStls, null)
  await checkPoplib(server, tls, tlsUids)
})

test('Python poplib: APOP login when [pop3] apop is on', async (t) => {
  const server = await startPop3Server(t, '[pop3]\napop = true\n')
  const uids = await server.deliver(MESSAGES)
  const result = await poplib(t, server, 'apop')
  assert.match(result.greeting, /^\+OK pop\.example\.test POP3 Postern ready <[^<>@]+@[^<>]+>$/)
  await checkPoplib(server, result, uids)
})

// ---------------------------------------------------------------------------------------------
// fetchmail

/** The MDA: appends the message fetchmail pipes in to an mbox, through Python's mailbox module. */
const MBOX_APPEND =
  'import mailbox, sys; box = mailbox.mbox(sys.argv[1]); box.lock(); box.add(sys.stdin.buffer.read()); box.flush(); box.unlock()'

/** Prints the messages of an mbox, in file order, as JSON: the From_ line and the octets. */
const MBOX_READ = `
import base64, json, mailbox, sys
box = mailbox.mbox(sys.argv[1])
print(json.dumps([
    {'from': box.get_message(key).get_from(), 'data': base64.b64encode(box.get_bytes(key)).decode()}
    for key in box.iterkeys()
]))
`

async function readMbox(file: string): Promise<Array<{ from: string; data: string }>> {
  const { stdout } = await run('python3', ['-c', MBOX_READ, file], {
    maxBuffer: 64 << 20,
    timeout: 20_000,
  })
  return JSON.parse(stdout) as Array<{ from: string; data: string }>
}

/**
 * Runs fetchmail once in the foreground with an rcfile polling ALICE's maildrop on `port` with
 * `tls` options, delivering into `mbox`; HOME and FETCHMAILHOME are `home`, where it keeps the
 * UIDs it has seen (.fetchids). Resolves with its exit code and output.
 */
async function fetchmail(options: {
  home: string
  port: number
  tls: string
  mbox: string
  flags: string[]
}) {
  const rcfile = path.join(options.home, 'fetchmailrc')
  writeFileSync(
    rcfile,
    [
      'set no bouncemail',
      `poll 127.0.0.1 with protocol POP3 port ${options.port} uidl`,
      `  user "${ALICE.address}" there with password "${ALICE.password}"`,
      `  ${options.tls}`,
      `  mda "python3 -c '${MBOX_APPEND}' ${options.mbox}"`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  )
  const args = ['-f', rcfile, '--nodetach', '--nosyslog', '--invisible', ...options.flags]
  const env = { ...process.env, HOME: options.home, FETCHMAILHOME: options.home }
  return run('fetchmail', args, { env, timeout: 20_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  )
}

/** The commands fetchmail sent, from its -v transcript ("fetchmail: POP3> CMD"). */
function commandsSent(stdout: string): string[] {
  return [...stdout.matchAll(/^fetchmail: POP3> (.*)$/gm)].map((match) => match[1] ?? '')
}

/**
 * The mbox holds exactly the delivered messages in LF form: fetchmail hands the MDA each message
 * with LF line ends and the dot-stuffing undone, and with --invisible it adds no Received field;
 * mailbox.mbox puts its own "From MAILER-DAEMON <date>" separator in front, which get_bytes
 * leaves out. No other difference is allowed: no body line starts with "From ", so mbox quotes
 * nothing with ">", and every address is qualified, so fetchmail's header rewriting has nothing
 * to change.
 */
async function checkMbox(file: string): Promise<void> {
  const messages = await readMbox(file)
  assert.equal(messages.length, MESSAGES.length)
  messages.forEach(({ from, data }, i) => {
    assert.match(from, /^MAILER-DAEMON \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/)
    const got = Buffer.from(data, 'base64').toString('latin1')
    assertSameOctets(got, lfForm(MESSAGES[i] ?? ''), `mbox message ${i + 1}`)
  })
}

test('fetchmail: STLS with --keep twice (UIDL stops a refetch), then pop3s deleting', async (t) => {
  const server = await startPop3Server(t, '[pop3]\nallow_plaintext = "never"\n')
  const ids = await uniqueIds(server, await server.deliver(MESSAGES))
  const cert = certOf(server)
  // fetchmail checks the name in the certificate against the host it polls, and does not match
  // IP addresses in subjectAltName: the self-signed one names pop.example.test (and 127.0.0.1).
  const verify = `sslcertck sslcertfile "${cert}" sslcommonname "pop.example.test"`

  // STLS (sslproto without ssl makes the upgrade mandatory), keeping the messages. fetchmail
  // reads each with TOP n 99999999 rather than RETR (so that a server marks nothing read) and
  // keeps the UIDL values it saw in .fetchids.
  const keepHome = makeTempDir(t)
  const keep = {
    home: keepHome,
    port: server.ports.pop3,
    tls: `sslproto "tls1.2+" ${verify}`,
    mbox: path.join(keepHome, 'inbox.mbox'),
    flags: ['--keep', '-v'],
  }
  const first = await fetchmail(keep)
  assert.equal(first.code, 0, first.stdout + first.stderr)
  assert.match(first.stdout, /^fetchmail: POP3< \+OK Begin TLS negotiation$/m)
  assert.match(first.stdout, /^fetchmail: pop\.example\.test: upgrade to TLS succeeded\.$/m)
  assert.match(
    first.stdout,
    new RegExp(
      `^7 messages for alice@example\\.test at 127\\.0\\.0\\.1 \\(${TOTAL} octets\\)\\.$`,
      'm',
    ),
  )
  const sent = commandsSent(first.stdout)
  assert.ok(
    sent.indexOf('STLS') >= 0 && sent.indexOf('STLS') < sent.indexOf(`USER ${ALICE.address}`),
    sent.join(', '),
  )
  assert.deepEqual(
    sent.filter((command) => /^(TOP|RETR|DELE) /.test(command)),
    MESSAGES.map((_, i) => `TOP ${i + 1} 99999999`),
  )
  await checkMbox(keep.mbox)
  assert.deepEqual(
    readFileSync(path.join(keepHome, '.fetchids'), 'latin1').trim().split('\n'),
    ids.map((id) => `${ALICE.address}@127.0.0.1 ${id}`),
  )
  assert.equal((await mailboxMessages(server.store, ALICE.address)).length, MESSAGES.length)

  // The same again: the UIDL values are the ones it saw, so it fetches nothing (exit code 1,
  // "no mail") and the mbox is as it was.
  const second = await fetchmail(keep)
  assert.equal(second.code, 1, second.stdout + second.stderr)
  assert.match(
    second.stdout,
    new RegExp(
      `^7 messages \\(7 seen\\) for alice@example\\.test at 127\\.0\\.0\\.1 \\(${TOTAL} octets\\)\\.$`,
      'm',
    ),
  )
  assert.deepEqual(
    commandsSent(second.stdout).filter((command) => /^(TOP|RETR|DELE) /.test(command)),
    [],
  )
  await checkMbox(keep.mbox)

  // pop3s, a fresh fetchmail home and no --keep: TOP and DELE each, and QUIT empties the INBOX.
  const deleteHome = makeTempDir(t)
  const remove = {
    home: deleteHome,
    port: server.ports.pop3s,
    tls: `ssl ${verify}`,
    mbox: path.join(deleteHome, 'inbox.mbox'),
    flags: ['--nokeep', '-v'],
  }
  const third = await fetchmail(remove)
  assert.equal(third.code, 0, third.stdout + third.stderr)
  assert.doesNotMatch(third.stdout, /STLS/)
  assert.deepEqual(
    commandsSent(third.stdout).filter((command) => /^(TOP|RETR|DELE) /.test(command)),
    MESSAGES.flatMap((_, i) => [`TOP ${i + 1} 99999999`, `DELE ${i + 1}`]),
  )
  await checkMbox(remove.mbox)
  assert.deepEqual(await mailboxMessages(server.store, ALICE.address), [])
})

// ---------------------------------------------------------------------------------------------
// curl

function curl(args: string[]) {
  return run(
    'curl',
    ['-sS', '--max-time', '20', '--user', `${ALICE.address}:${ALICE.password}`, ...args],
    {
      encoding: 'latin1',
      maxBuffer: 64 << 20,
      timeout: 30_000,
    },
  )
}

/**
 * Fetches every message with one curl run (one connection, reused for each URL: RETR n each),
 * each into a file of its own, and asserts each file holds the message as RETR sends it.
 */
async function curlRetrieveAll(dir: string, base: string, extra: string[] = []) {
  const files = MESSAGES.map((_, i) => path.join(dir, `${base.replace(/\W+/g, '-')}-${i + 1}.eml`))
  const result = await curl([
    ...extra,
    ...files.flatMap((file, i) => [`${base}/${i + 1}`, '-o', file]),
  ])
  files.forEach((file, i) => {
    assertSameOctets(readFileSync(file, 'latin1'), EXPECTED[i] ?? '', `${base}/${i + 1}`)
  })
  return result
}

const LIST_OUTPUT = SIZES.map((size, i) => `${i + 1} ${size}\r\n`).join('')

test('curl: RETR, LIST and UIDL over pop3:// and pop3s:// (certificate checked), then DELE', async (t) => {
  const server = await startPop3Server(t)
  const uids = await server.deliver(MESSAGES)
  const ids = await uniqueIds(server, uids)
  const dir = makeTempDir(t)
  const cacert = ['--cacert', certOf(server)]
  for (const [base, extra] of [
    [`pop3://127.0.0.1:${server.ports.pop3}`, []],
    [`pop3s://127.0.0.1:${server.ports.pop3s}`, cacert],
  ] as const) {
    await curlRetrieveAll(dir, base, [...extra])
    // The URL without a message number lists; a custom UIDL gives the multi-line listing.
    assert.equal((await curl([...extra, `${base}/`])).stdout, LIST_OUTPUT)
    assert.equal(
      (await curl([...extra, '-X', 'UIDL', `${base}/`])).stdout,
      ids.map((id, i) => `${i + 1} ${id}\r\n`).join(''),
    )
  }
  // RETR leaves the messages; DELE (a custom command, no body: -I) and curl's QUIT remove one.
  assert.equal((await mailboxMessages(server.store, ALICE.address)).length, MESSAGES.length)
  const dele = await curl([
    ...cacert,
    '-v',
    '-X',
    'DELE',
    '-I',
    `pop3s://127.0.0.1:${server.ports.pop3s}/2`,
  ])
  assert.match(dele.stderr, /^> DELE 2\r$/m)
  assert.match(dele.stderr, /^< \+OK Message 2 deleted\r$/m)
  const left = await mailboxMessages(server.store, ALICE.address)
  assert.deepEqual(
    left.map((message) => message.toString('latin1')),
    MESSAGES.filter((_, i) => i !== 1),
  )
})

test('curl: --ssl-reqd over pop3:// upgrades with STLS when plaintext logins need TLS', async (t) => {
  const server = await startPop3Server(t, '[pop3]\nallow_plaintext = "never"\n')
  await server.deliver(MESSAGES)
  const dir = makeTempDir(t)
  const base = `pop3://127.0.0.1:${server.ports.pop3}`
  // Without TLS, CAPA offers neither USER nor SASL and curl cannot log in (67: login denied).
  const refused = await curl([`${base}/1`]).catch(
    (error: { code: number; stderr: string }) => error,
  )
  assert.ok('code' in refused && refused.code === 67, JSON.stringify(refused))
  const tls = ['--ssl-reqd', '--cacert', certOf(server)]
  const { stderr } = await curlRetrieveAll(dir, base, [...tls, '-v'])
  assert.match(stderr, /^> STLS\r$/m)
  assert.match(stderr, /^< \+OK Begin TLS negotiation\r$/m)
  assert.ok(stderr.indexOf('> STLS') < stderr.indexOf('> AUTH PLAIN'), stderr)
  assert.equal((await curl([...tls, `${base}/`])).stdout, LIST_OUTPUT)
})
