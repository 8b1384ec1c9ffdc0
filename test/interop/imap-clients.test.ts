import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { ImapFlow } from 'imapflow'
import { binaryMissing } from '../support/binaries.ts'
import { ALICE, type ImapServe, startImapServe } from '../support/imap-serve.ts'
import { eventually } from '../support/postern-node.ts'
import { makeTempDir } from '../support/temp-dir.ts'
import { TmuxSession } from '../support/tmux.ts'

// Postern's IMAP server with clients nobody on the team wrote: Python's imaplib, the imapflow
// npm package, curl, mbsync (isync) and mutt. Each works on messages delivered into the store;
// what it downloads is compared octet for octet with what was delivered, and what it changes
// (flags, copies, moves, expunges, appends) is checked in the store afterwards.

const run = promisify(execFile)

const HEADER = [
  'From: Bob <bob@example.test>',
  'To: Alice <alice@example.test>',
  'Date: Thu, 26 Nov 2026 10:00:00 +0000',
]

/** A header for `name`, the empty line that ends it included. */
function header(name: string, extra: string[] = []): string {
  const fields = [...HEADER, `Subject: ${name}`, `Message-ID: <${name}@example.test>`, ...extra]
  return `${fields.join('\r\n')}\r\n\r\n`
}

/** A little over 200 KiB of short lines. */
function largeBody(): string {
  let body = ''
  for (let n = 0; body.length < 200 * 1024; n++) {
    const line = `line ${n} ${'abcdefghijklmnopqrstuvwxyz'.repeat(3)}`.slice(0, 74)
    body += `${line}\r\n`
  }
  return body
}

const LONG_LINE = Array.from({ length: 5000 }, (_, i) => String.fromCharCode(0x21 + (i % 94))).join(
  '',
)

const MULTIPART = `${header('multipart', [
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="=-b1"',
])}This is a multi-part message in MIME format.\r
--=-b1\r
Content-Type: text/plain; charset=utf-8\r
Content-Transfer-Encoding: 8bit\r
\r
Caf\xc3\xa9 au lait.\r
--=-b1\r
Content-Type: application/octet-stream; name="data.bin"\r
Content-Disposition: attachment; filename="data.bin"\r
Content-Transfer-Encoding: base64\r
\r
AAECAwQFBgcICQ==\r
--=-b1--\r
`

/** The messages as delivered, octet for octet (Latin-1 strings: one character per octet). */
const MESSAGES: readonly string[] = [
  `${header('plain')}Hello Alice,\r\n\r\nthis one is plain.\r\nBob\r\n`,
  `${header('dots')}.starts with a dot\r\n.\r\n..two dots\r\nlast\r\n`,
  `${header('long-line')}before\r\n${LONG_LINE}\r\nafter\r\n`,
  `${header('eight-bit', [
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: 8bit',
  ])}caf\xe9 cr\xe8me br\xfbl\xe9e\r\n\xff\xfe\x80\x81 are not UTF-8\r\n`,
  MULTIPART,
  `${header('large')}${largeBody()}`,
  header('empty-body'),
]

const SUBJECTS = ['plain', 'dots', 'long-line', 'eight-bit', 'multipart', 'large', 'empty-body']

/** A message the clients append, with its own subject. */
function appended(name: string): string {
  return `${header(name)}Appended by ${name}.\r\n`
}

/** Asserts two octet strings are equal, naming the first difference rather than diffing 200 KB. */
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

/** The subjects of a mailbox's messages, in UID order, with their flags. */
async function summary(server: ImapServe, mailbox = 'INBOX'): Promise<string[]> {
  return (await server.contents(mailbox)).map(({ text, flags }) => {
    const subject = /^Subject: (.*)$/m.exec(text)?.[1]?.trim() ?? '?'
    return `${subject} ${flags.join(' ')}`.trim()
  })
}

// ---------------------------------------------------------------------------------------------
// Python imaplib

/**
 * One imaplib session over STARTTLS (plaintext logins refused before it), then one over imaps;
 * prints what it saw as JSON, message octets in base64.
 */
const IMAPLIB = `
import base64, imaplib, json, ssl, sys, time
imap_port, imaps_port, user, password, cafile, appended_file = sys.argv[1:7]
appended = open(appended_file, 'rb').read()
context = ssl.create_default_context(cafile=cafile)
text = lambda data: data.decode('latin-1') if isinstance(data, bytes) else data
b64 = lambda data: base64.b64encode(data).decode()
out = {}

def literal_items(data):
    # fetch() answers [(b'1 (UID 1 BODY[] {n}', octets), b')'...]: the octets of each literal.
    return [item[1] for item in data if isinstance(item, tuple)]

imap = imaplib.IMAP4('127.0.0.1', int(imap_port))
out['before'] = sorted(imap.capabilities)
try:
    imap.login(user, password)
    out['loginBeforeTls'] = 'accepted'
except imaplib.IMAP4.error as error:
    out['loginBeforeTls'] = text(error.args[0])
imap.starttls(ssl_context=context)
out['after'] = sorted(imap.capabilities)
out['login'] = text(imap.login(user, password)[0])
typ, data = imap.select('INBOX')
out['select'] = [typ, text(data[0])]
out['uidvalidity'] = text(imap.response('UIDVALIDITY')[1][0])
out['searchAll'] = text(imap.search(None, 'ALL')[1][0])
out['searchSubject'] = text(imap.search(None, 'SUBJECT', '"long-line"')[1][0])
out['searchBody'] = text(imap.search(None, 'BODY', 'lait')[1][0])
out['uidSearch'] = text(imap.uid('SEARCH', None, 'NOT', 'SUBJECT', 'dots')[1][0])
count = int(data[0])
typ, data = imap.fetch('1:%d' % count, '(BODY.PEEK[])')
out['peek'] = [b64(octets) for octets in literal_items(data)]
out['flagsAfterPeek'] = [text(line) for line in imap.fetch('1:*', '(FLAGS)')[1]]
typ, data = imap.fetch('1', '(BODY[])')
out['fetchBody'] = [typ, [b64(octets) for octets in literal_items(data)], [text(item) for item in data if not isinstance(item, tuple)]]
out['flagsAfterFetch'] = text(imap.fetch('1', '(FLAGS)')[1][0])
out['store'] = [text(line) for line in imap.store('2', '+FLAGS', '(\\\\Flagged $Label)')[1]]
typ, data = imap.copy('1:2', 'Trash')
out['copy'] = [typ, [text(line) for line in data]]
out['copyuid'] = text(imap.response('COPYUID')[1][0])
out['storeDeleted'] = [text(line) for line in imap.store('3', '+FLAGS.SILENT', '\\\\Deleted')[1]]
out['expunge'] = [text(line) for line in imap.expunge()[1]]
date = imaplib.Time2Internaldate(time.mktime((2026, 11, 5, 9, 30, 0, 0, 0, -1)))
typ, data = imap.append('INBOX', '(\\\\Seen)', date, appended)
out['append'] = [typ, text(data[0])]
out['appenduid'] = text(imap.response('APPENDUID')[1][0])
try:
    typ, data = imap.list()
    out['list'] = [typ, [text(line) for line in data]]
except imaplib.IMAP4.error as error:
    out['list'] = ['error', [text(error.args[0])]]
out['close'] = text(imap.close()[0])
out['logout'] = text(imap.logout()[0])

ssl_imap = imaplib.IMAP4_SSL('127.0.0.1', int(imaps_port), ssl_context=context)
out['sslLogin'] = text(ssl_imap.login(user, password)[0])
typ, data = ssl_imap.select('INBOX', readonly=True)
out['sslSelect'] = [typ, text(data[0])]
typ, data = ssl_imap.uid('FETCH', '1:*', '(UID BODY.PEEK[])')
out['sslBodies'] = [b64(octets) for octets in literal_items(data)]
out['sslLogout'] = text(ssl_imap.logout()[0])
print(json.dumps(out, default=text))
`

interface ImaplibResult {
  before: string[]
  loginBeforeTls: string
  after: string[]
  login: string
  select: [string, string]
  uidvalidity: string
  searchAll: string
  searchSubject: string
  searchBody: string
  uidSearch: string
  peek: string[]
  flagsAfterPeek: string[]
  fetchBody: [string, string[], string[]]
  flagsAfterFetch: string
  store: string[]
  copy: [string, string[]]
  copyuid: string
  storeDeleted: Array<string | null>
  expunge: string[]
  append: [string, string]
  appenduid: string
  list: [string, string[]]
  close: string
  logout: string
  sslLogin: string
  sslSelect: [string, string]
  sslBodies: string[]
  sslLogout: string
}

test('Python imaplib: STARTTLS, SELECT, SEARCH, FETCH, STORE, COPY, EXPUNGE, APPEND; IMAP4_SSL', {
  skip: binaryMissing('python3', 'python3'),
}, async (t) => {
  const server = await startImapServe(t, '[imap]\nallow_plaintext = "never"\n')
  await server.deliver(MESSAGES)
  const dir = makeTempDir(t)
  const script = path.join(dir, 'imaplib-session.py')
  writeFileSync(script, IMAPLIB)
  const message = path.join(dir, 'appended.eml')
  writeFileSync(message, appended('imaplib'), 'latin1')
  const { stdout } = await run(
    'python3',
    [
      script,
      String(server.ports.imap),
      String(server.ports.imaps),
      ALICE.address,
      ALICE.password,
      server.certPath,
      message,
    ],
    { maxBuffer: 64 << 20, timeout: 30_000 },
  )
  const out = JSON.parse(stdout) as ImaplibResult
  assert.ok(
    out.before.includes('STARTTLS') && out.before.includes('LOGINDISABLED'),
    out.before.join(),
  )
  assert.match(out.loginBeforeTls, /PRIVACYREQUIRED/)
  assert.ok(!out.after.includes('LOGINDISABLED') && out.after.includes('AUTH=PLAIN'))
  assert.equal(out.login, 'OK')
  assert.deepEqual(out.select, ['OK', String(MESSAGES.length)])
  const uidValidity = (
    await server.store.getMailboxById(await server.mailboxId(ALICE.address, 'INBOX'))
  )?.uidValidity
  assert.equal(out.uidvalidity, String(uidValidity))
  assert.equal(out.searchAll, '1 2 3 4 5 6 7')
  assert.equal(out.searchSubject, '3')
  assert.equal(out.searchBody, '5')
  assert.equal(out.uidSearch, '1 3 4 5 6 7')
  assert.equal(out.peek.length, MESSAGES.length)
  out.peek.forEach((data, i) => {
    assertSameOctets(
      Buffer.from(data, 'base64').toString('latin1'),
      MESSAGES[i] ?? '',
      `BODY.PEEK[] ${i + 1}`,
    )
  })
  // BODY.PEEK[] leaves \Seen alone; BODY[] sets it and says so in the same FETCH response.
  // imaplib speaks IMAP4rev1, and this first session sees the deliveries as \Recent.
  assert.deepEqual(
    out.flagsAfterPeek,
    MESSAGES.map((_, i) => `${i + 1} (FLAGS (\\Recent))`),
  )
  assert.equal(out.fetchBody[0], 'OK')
  assertSameOctets(
    Buffer.from(out.fetchBody[1][0] ?? '', 'base64').toString('latin1'),
    MESSAGES[0] ?? '',
    'BODY[] 1',
  )
  assert.deepEqual(out.fetchBody[2], [' FLAGS (\\Seen \\Recent))'])
  assert.equal(out.flagsAfterFetch, '1 (FLAGS (\\Seen \\Recent))')
  assert.deepEqual(out.store, ['2 (FLAGS (\\Flagged $Label \\Recent))'])
  assert.equal(out.copy[0], 'OK')
  const trash = await server.store.getMailboxById(await server.mailboxId(ALICE.address, 'Trash'))
  assert.equal(out.copyuid, `${trash?.uidValidity} 1:2 1:2`)
  // .SILENT: no FETCH response, which imaplib shows as [None].
  assert.deepEqual(out.storeDeleted, [null])
  assert.deepEqual(out.expunge, ['3'])
  assert.equal(out.append[0], 'OK')
  assert.equal(out.appenduid, `${uidValidity} 8`)
  assert.equal(out.close, 'OK')
  assert.equal(out.logout, 'BYE')
  // LIST "" *: every mailbox, the special-use ones with their attribute (RFC 6154 §2).
  assert.equal(out.list[0], 'OK', out.list[1].join('\n'))
  assert.deepEqual(
    out.list[1]
      .map((line) => {
        const match = /^\(([^)]*)\) "\/" "?([^"]*)"?$/.exec(line)
        assert.ok(match, line)
        const special = (match[1] ?? '')
          .split(' ')
          .filter((flag) => !/^\\Has(No)?Children$/.test(flag))
        return `${match[2]} ${special.join(' ')}`.trim()
      })
      .sort(),
    [
      'Archive \\Archive',
      'Drafts \\Drafts',
      'INBOX',
      'Junk \\Junk',
      'Sent \\Sent',
      'Trash \\Trash',
    ],
  )

  // What the session left: 1 seen, 2 flagged, 3 gone, the appended one seen, on UID 8.
  assert.deepEqual(await summary(server), [
    'plain \\Seen',
    'dots \\Flagged $Label',
    'eight-bit',
    'multipart',
    'large',
    'empty-body',
    'imaplib \\Seen',
  ])
  assert.deepEqual(await summary(server, 'Trash'), ['plain \\Seen', 'dots \\Flagged $Label'])
  const inbox = await server.contents()
  assert.equal(inbox.at(-1)?.uid, 8)
  assertSameOctets(inbox.at(-1)?.text ?? '', appended('imaplib'), 'the appended message')

  // imaps: the same octets (the appended one last), read-only so nothing changes.
  assert.equal(out.sslLogin, 'OK')
  assert.deepEqual(out.sslSelect, ['OK', String(inbox.length)])
  assert.equal(out.sslBodies.length, inbox.length)
  out.sslBodies.forEach((data, i) => {
    assertSameOctets(
      Buffer.from(data, 'base64').toString('latin1'),
      inbox[i]?.text ?? '',
      `imaps ${i + 1}`,
    )
  })
  assert.equal(out.sslLogout, 'BYE')
})

// ---------------------------------------------------------------------------------------------
// imapflow

/** imapflow's log as a transcript: "C: …" for what it sent, "S: …" for what it read. */
function transcriptLogger(lines: string[]) {
  const record = (entry: { src?: string; msg?: string }) => {
    if (entry.src === 'c' || entry.src === 's')
      lines.push(`${entry.src.toUpperCase()}: ${entry.msg}`)
  }
  return { trace: record, debug: record, info: record, warn: record, error: record }
}

function imapflowClient(server: ImapServe, transcript: string[], secure: boolean) {
  return new ImapFlow({
    host: '127.0.0.1',
    port: secure ? server.ports.imaps : server.ports.imap,
    secure,
    // The certificate is the server's self-signed one; STARTTLS is used when offered.
    tls: { rejectUnauthorized: false },
    auth: { user: ALICE.address, pass: ALICE.password },
    logger: transcriptLogger(transcript),
    qresync: true,
    disableAutoIdle: true,
  })
}

/** Resolves with the first event `name` of `emitter` that `accept` takes, or fails in time. */
function nextEvent<T>(
  emitter: { on(name: string, listener: (data: T) => void): unknown },
  name: string,
  accept: (data: T) => boolean = () => true,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "${name}" event in ${timeoutMs} ms`)),
      timeoutMs,
    )
    emitter.on(name, (data: T) => {
      if (!accept(data)) return
      clearTimeout(timer)
      resolve(data)
    })
  })
}

test('imapflow: imaps with QRESYNC, fetch, flags, move, append, IDLE; STARTTLS on imap', async (t) => {
  const server = await startImapServe(t, '[imap]\nallow_plaintext = "never"\n')
  await server.deliver(MESSAGES)
  const transcript: string[] = []
  const client = imapflowClient(server, transcript, true)
  t.after(() => client.close())
  await client.connect()
  // imapflow enables what it can use: CONDSTORE and QRESYNC (asked for) and IMAP4rev2.
  assert.deepEqual([...client.enabled].sort(), ['CONDSTORE', 'IMAP4REV2', 'QRESYNC', 'UTF8=ACCEPT'])

  const mailbox = await client.mailboxOpen('INBOX')
  const inboxStatus = await server.store.getMailboxStatus(
    await server.mailboxId(ALICE.address, 'INBOX'),
  )
  assert.equal(mailbox.exists, MESSAGES.length)
  assert.equal(mailbox.uidValidity, BigInt(inboxStatus.uidValidity))
  assert.equal(mailbox.uidNext, MESSAGES.length + 1)
  assert.equal(mailbox.highestModseq, BigInt(inboxStatus.highestModseq))

  const fetched = await client.fetchAll('1:*', {
    uid: true,
    flags: true,
    envelope: true,
    bodyStructure: true,
    source: true,
    size: true,
    internalDate: true,
  })
  assert.equal(fetched.length, MESSAGES.length)
  fetched.forEach((message, i) => {
    assert.equal(message.uid, i + 1)
    assert.equal(message.size, MESSAGES[i]?.length)
    assertSameOctets(message.source?.toString('latin1') ?? '', MESSAGES[i] ?? '', `source ${i + 1}`)
    assert.equal(message.envelope?.subject, SUBJECTS[i])
    assert.deepEqual(message.envelope?.from, [{ name: 'Bob', address: 'bob@example.test' }])
    assert.deepEqual(message.envelope?.to, [{ name: 'Alice', address: 'alice@example.test' }])
    assert.equal(message.envelope?.messageId, `<${SUBJECTS[i]}@example.test>`)
    assert.equal(new Date(message.envelope?.date ?? 0).toISOString(), '2026-11-26T10:00:00.000Z')
    assert.deepEqual([...(message.flags ?? [])], [])
  })
  const multipart = fetched[4]?.bodyStructure
  assert.equal(multipart?.type, 'multipart/mixed')
  assert.deepEqual(
    multipart?.childNodes?.map((node) => [node.part, node.type, node.encoding, node.size]),
    [
      ['1', 'text/plain', '8bit', 14],
      ['2', 'application/octet-stream', 'base64', 16],
    ],
  )
  assert.equal(multipart?.childNodes?.[0]?.parameters?.charset, 'utf-8')
  assert.equal(multipart?.childNodes?.[1]?.disposition, 'attachment')
  assert.deepEqual(multipart?.childNodes?.[1]?.dispositionParameters, { filename: 'data.bin' })
  assert.equal(fetched[3]?.bodyStructure?.parameters?.charset, 'iso-8859-1')

  // download() fetches the attachment (BODY.PEEK[2.MIME] for its encoding, then BODY.PEEK[2])
  // and decodes it.
  const download = await client.download('5', '2')
  const chunks: Buffer[] = []
  for await (const chunk of download.content ?? []) chunks.push(chunk as Buffer)
  assert.deepEqual(Buffer.concat(chunks), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))

  assert.equal(await client.messageFlagsAdd('2', ['\\Flagged', '$Label'], { uid: true }), true)
  const moved = await client.messageMove('3', 'Archive', { uid: true })
  assert.ok(moved)
  assert.deepEqual([...(moved.uidMap ?? [])], [[3, 1]])
  const appendedAt = new Date('2026-11-05T09:30:00Z')
  const added = await client.append(
    'INBOX',
    Buffer.from(appended('imapflow'), 'latin1'),
    ['\\Seen'],
    appendedAt,
  )
  assert.ok(added)
  assert.equal(added.uid, 8)
  assert.equal(added.uidValidity, BigInt(inboxStatus.uidValidity))

  // IDLE: a delivery is an "exists" event; flags another session changed come with their MODSEQ
  // (CONDSTORE); an expunge by another session is a VANISHED with the UID (QRESYNC).
  const exists = nextEvent<{ count: number; prevCount: number }>(
    client,
    'exists',
    (event) => event.count === 8,
  )
  const idling = client.idle()
  await waitFor(transcript, /^S: \+ /)
  const [deliveredUid] = await server.deliver([appended('delivered-during-idle')])
  assert.equal(deliveredUid, 9)
  assert.deepEqual(await exists, { path: 'INBOX', count: 8, prevCount: 7 })
  const flags = nextEvent<{ uid: number; flags: Set<string>; modseq?: bigint }>(
    client,
    'flags',
    (event) => event.uid === 1,
  )
  const inboxId = await server.mailboxId(ALICE.address, 'INBOX')
  await server.store.storeFlags(inboxId, [[1, 1]], 'add', ['\\Answered'])
  const flagEvent = await flags
  assert.deepEqual([...flagEvent.flags], ['\\Answered'])
  const modseqAfterFlags = (await server.store.getMailboxStatus(inboxId)).highestModseq
  assert.equal(flagEvent.modseq, BigInt(modseqAfterFlags))
  const expunged = nextEvent<{ uid?: number; vanished: boolean }>(client, 'expunge')
  await server.store.storeFlags(inboxId, [[4, 4]], 'add', ['\\Deleted'])
  await server.store.expunge(inboxId, [[4, 4]])
  const expungeEvent = await expunged
  assert.equal(expungeEvent.vanished, true)
  assert.equal(expungeEvent.uid, 4)
  assert.ok(transcript.includes('S: * VANISHED 4'), transcript.join('\n'))
  await client.noop()
  await idling
  await client.logout()

  assert.deepEqual(await summary(server), [
    'plain \\Answered',
    'dots \\Flagged $Label',
    'multipart',
    'large',
    'empty-body',
    'imapflow \\Seen',
    'delivered-during-idle',
  ])
  assert.deepEqual(await summary(server, 'Archive'), ['long-line'])
  const inbox = await server.contents()
  assertSameOctets(inbox[5]?.text ?? '', appended('imapflow'), 'the appended message')
  assert.equal(inbox[5]?.internalDate.toISOString(), appendedAt.toISOString())

  // STARTTLS on the imap port (plaintext logins need TLS there): the same messages.
  const plainTranscript: string[] = []
  const starttls = imapflowClient(server, plainTranscript, false)
  t.after(() => starttls.close())
  await starttls.connect()
  assert.ok(
    plainTranscript.some((line) => /^C: \S+ STARTTLS$/.test(line)),
    plainTranscript.join('\n'),
  )
  await starttls.mailboxOpen('INBOX', { readOnly: true })
  const again = await starttls.fetchAll('1:*', { uid: true, source: true })
  assert.deepEqual(
    again.map((message) => message.source?.toString('latin1')),
    inbox.map((message) => message.text),
  )
  await starttls.logout()
})

/** Waits until a line of the transcript matches. */
async function waitFor(lines: string[], pattern: RegExp, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!lines.some((line) => pattern.test(line))) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${lines.join('\n')}`)
    await sleep(20)
  }
}

// ---------------------------------------------------------------------------------------------
// curl

function curl(args: string[]) {
  return run(
    'curl',
    ['-sS', '--max-time', '20', '--user', `${ALICE.address}:${ALICE.password}`, ...args],
    { encoding: 'latin1', maxBuffer: 64 << 20, timeout: 30_000 },
  )
}

test('curl: imap:// with --ssl-reqd (STARTTLS) and imaps://: search, fetch by UID, sections, upload, list', {
  skip: binaryMissing('curl', 'curl'),
}, async (t) => {
  const server = await startImapServe(t, '[imap]\nallow_plaintext = "never"\n')
  await server.deliver(MESSAGES)
  const dir = makeTempDir(t)
  const cacert = ['--cacert', server.certPath]
  const plain = `imap://127.0.0.1:${server.ports.imap}`
  const secure = `imaps://127.0.0.1:${server.ports.imaps}`

  // Without TLS the server offers LOGINDISABLED and curl cannot log in (67: login denied).
  const refused = await curl([`${plain}/INBOX;UID=1`]).catch((error: { code: number }) => error)
  assert.ok('code' in refused && refused.code === 67, JSON.stringify(refused))

  for (const [base, extra] of [
    [plain, ['--ssl-reqd', ...cacert]],
    [secure, cacert],
  ] as const) {
    // Every message by UID in one curl run (one connection: SELECT once, a FETCH each).
    const files = MESSAGES.map((_, i) => path.join(dir, `${base.slice(0, 5)}-${i + 1}.eml`))
    const { stderr } = await curl([
      ...extra,
      '-v',
      ...files.flatMap((file, i) => [`${base}/INBOX;UID=${i + 1}`, '-o', file]),
    ])
    files.forEach((file, i) => {
      assertSameOctets(
        readFileSync(file, 'latin1'),
        MESSAGES[i] ?? '',
        `${base}/INBOX;UID=${i + 1}`,
      )
    })
    if (base === plain) {
      assert.match(stderr, /^> A\d+ STARTTLS\r$/m)
      assert.ok(stderr.indexOf('STARTTLS') < stderr.indexOf('AUTHENTICATE'), stderr)
    }
    // A search in the URL's query: SEARCH with the criteria as given.
    assert.equal(
      (await curl([...extra, `${base}/INBOX?SUBJECT%20long-line`])).stdout,
      '* SEARCH 3\r\n',
    )
    assert.equal((await curl([...extra, `${base}/INBOX?ALL`])).stdout, '* SEARCH 1 2 3 4 5 6 7\r\n')
    // Sections: the attachment's octets as sent (base64), the text, a header field.
    assert.equal(
      (await curl([...extra, `${base}/INBOX;UID=5/;SECTION=2`])).stdout,
      'AAECAwQFBgcICQ==',
    )
    assert.equal(
      (await curl([...extra, `${base}/INBOX;UID=1/;SECTION=TEXT`])).stdout,
      'Hello Alice,\r\n\r\nthis one is plain.\r\nBob\r\n',
    )
    assert.equal(
      (await curl([...extra, `${base}/INBOX;UID=4/;SECTION=HEADER.FIELDS%20(SUBJECT)`])).stdout,
      'Subject: eight-bit\r\n\r\n',
    )
  }

  // A custom command runs on the selected mailbox; its untagged responses are the output.
  const flags = await curl([...cacert, '-X', 'UID FETCH 1:3 (FLAGS)', `${secure}/INBOX`])
  assert.equal(
    flags.stdout,
    '* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n* 3 FETCH (UID 3 FLAGS (\\Seen))\r\n',
  )

  // Upload (-T): APPEND, the octets stored as sent.
  const upload = path.join(dir, 'upload.eml')
  writeFileSync(upload, appended('curl'), 'latin1')
  await curl([...cacert, '-T', upload, `${secure}/Drafts`])
  const drafts = await server.contents('Drafts')
  assert.equal(drafts.length, 1)
  assertSameOctets(drafts[0]?.text ?? '', appended('curl'), 'the uploaded message')

  // The URL without a mailbox lists them all (LIST "" *).
  const list = await curl([...cacert, `${secure}/`])
  assert.deepEqual(
    list.stdout
      .split('\r\n')
      .filter((line) => line !== '')
      .map((line) => line.replace(/^\* LIST \([^)]*\) "\/" "?([^"]*)"?$/, '$1'))
      .sort(),
    ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash'],
  )
})

// ---------------------------------------------------------------------------------------------
// mbsync (isync)

/** An mbsyncrc syncing ALICE's INBOX over imaps with a Maildir below `dir`, both ways. */
function mbsyncConfig(server: ImapServe, dir: string): string {
  return `IMAPAccount postern
Host 127.0.0.1
Port ${server.ports.imaps}
User ${ALICE.address}
Pass ${ALICE.password}
SSLType IMAPS
CertificateFile ${server.certPath}
SystemCertificates no

IMAPStore remote
Account postern

MaildirStore local
Path ${dir}/mail/
Inbox ${dir}/mail/INBOX
SubFolders Verbatim

Channel inbox
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync All
Expunge Both
SyncState *
`
}

/** Runs mbsync once; resolves with the commands it sent the server (its -Dn transcript). */
async function mbsync(dir: string): Promise<string[]> {
  const { stdout, stderr } = await run(
    'mbsync',
    ['-c', path.join(dir, 'mbsyncrc'), '-Dn', 'inbox'],
    {
      env: { ...process.env, HOME: dir },
      encoding: 'latin1',
      maxBuffer: 64 << 20,
      timeout: 30_000,
    },
  ).catch((error: { stdout: string; stderr: string; message: string }) => {
    throw new Error(`mbsync failed: ${error.message}\n${error.stdout}\n${error.stderr}`)
  })
  assert.doesNotMatch(stderr, /error|warning/i, stderr)
  // A pipelined command is shown after how many are in flight: "(2 in progress) >>> 9 …".
  return [...stdout.matchAll(/^(?:\(\d+ in progress\) )?>>> \d+ (.*)$/gm)].map(
    (match) => match[1] ?? '',
  )
}

/** The Maildir's messages: file name (the part after the unique name), flags and octets. */
function maildir(
  dir: string,
): Array<{ uid: number | null; flags: string; name: string; text: string }> {
  const box = path.join(dir, 'mail', 'INBOX')
  return ['new', 'cur']
    .flatMap((sub) => readdirSync(path.join(box, sub)).map((name) => path.join(sub, name)))
    .map((name) => ({
      uid: Number(/,U=(\d+)/.exec(name)?.[1] ?? Number.NaN) || null,
      flags: /:2,([A-Z]*)$/.exec(name)?.[1] ?? '',
      name,
      text: readFileSync(path.join(box, name), 'latin1'),
    }))
    .sort((a, b) => (a.uid ?? Infinity) - (b.uid ?? Infinity))
}

/**
 * mbsync marks each message it copies, either way, with an X-TUID field at the end of the
 * header: its own transaction id, to find the copy again where the store cannot say which UID
 * it got. Everything else is the message as it was.
 */
const withoutTuid = (text: string) => text.replace(/^X-TUID: [\w+/]{12}\r?\n/m, '')

/** mbsync keeps Maildir messages with LF line ends; the server has them with CRLF. */
const lf = (text: string) => text.replace(/\r\n/g, '\n')

test('mbsync: a Maildir synced both ways over imaps (flags, new, deleted), then nothing to do', {
  skip: binaryMissing('mbsync', 'isync'),
}, async (t) => {
  const server = await startImapServe(t, '[imap]\nallow_plaintext = "never"\n')
  await server.deliver(MESSAGES)
  const inboxId = await server.mailboxId(ALICE.address, 'INBOX')
  await server.store.storeFlags(inboxId, [[1, 1]], 'add', ['\\Seen', '\\Answered'])
  const dir = makeTempDir(t)
  writeFileSync(path.join(dir, 'mbsyncrc'), mbsyncConfig(server, dir))
  mkdirSync(path.join(dir, 'mail'))

  // 1. Down: every message, its flags as Maildir letters (R replied, S seen).
  const first = await mbsync(dir)
  assert.ok(first.includes('LIST "" "*"') && first.includes('SELECT "INBOX"'), first.join('\n'))
  const pulled = maildir(dir)
  assert.deepEqual(
    pulled.map(({ uid, flags }) => [uid, flags]),
    MESSAGES.map((_, i) => [i + 1, i === 0 ? 'RS' : '']),
  )
  pulled.forEach(({ text }, i) => {
    assertSameOctets(withoutTuid(text), lf(MESSAGES[i] ?? ''), `Maildir message ${i + 1}`)
  })

  // 2. Local changes: message 2 flagged and seen, message 3 trashed, a new message written in
  // new/; and a change on the server: message 4 flagged there.
  const box = path.join(dir, 'mail', 'INBOX')
  const rename = (uid: number, flags: string) => {
    const entry = maildir(dir).find((message) => message.uid === uid)
    assert.ok(entry)
    const base = path.basename(entry.name).replace(/:2,[A-Z]*$/, '')
    renameSync(path.join(box, entry.name), path.join(box, 'cur', `${base}:2,${flags}`))
  }
  rename(2, 'FS')
  rename(3, 'ST')
  writeFileSync(path.join(box, 'new', '1800000000.P1Q1.near'), lf(appended('mbsync')), 'latin1')
  await server.store.storeFlags(inboxId, [[4, 4]], 'add', ['\\Flagged'])
  const second = await mbsync(dir)
  assert.ok(second.includes('UID STORE 2 +FLAGS.SILENT (\\Flagged \\Seen)'), second.join('\n'))
  assert.ok(second.includes('UID STORE 3 +FLAGS.SILENT (\\Deleted)'), second.join('\n'))
  assert.ok(
    second.some((command) => /^APPEND "INBOX" /.test(command)),
    second.join('\n'),
  )
  assert.deepEqual(await summary(server), [
    'plain \\Seen \\Answered',
    'dots \\Seen \\Flagged',
    'eight-bit \\Flagged',
    'multipart',
    'large',
    'empty-body',
    'mbsync',
  ])
  // The appended message has CRLF line ends on the server (mbsync converts), and UID 8 from
  // APPENDUID, which mbsync put in the file's name.
  const stored = await server.contents()
  assert.equal(stored.at(-1)?.uid, 8)
  assertSameOctets(
    withoutTuid(stored.at(-1)?.text ?? ''),
    appended('mbsync'),
    'the message mbsync appended',
  )
  const synced = maildir(dir)
  assert.deepEqual(
    synced.map(({ uid, flags }) => [uid, flags]),
    [
      [1, 'RS'],
      [2, 'FS'],
      [4, 'F'],
      [5, ''],
      [6, ''],
      [7, ''],
      [8, ''],
    ],
  )

  // 3. Again: both sides agree, so nothing is stored, appended or fetched, and nothing changes.
  const before = { server: await server.contents(), near: maildir(dir) }
  const third = await mbsync(dir)
  assert.deepEqual(
    third.filter((command) =>
      /^(UID STORE|APPEND|UID FETCH \S+ \(.*BODY|UID EXPUNGE|EXPUNGE)/.test(command),
    ),
    [],
  )
  assert.deepEqual(await server.contents(), before.server)
  assert.deepEqual(maildir(dir), before.near)
})

// ---------------------------------------------------------------------------------------------
// mutt, driven in tmux

const MUTT_MESSAGES = ['read me', 'flag me', 'move me', 'delete me', 'leave me'].map(
  (subject) =>
    `${header(subject.replace(' ', '-'))}Body of "${subject}", as the pager shows it.\r\n\r\n-- \r\nBob\r\n`,
)

/** A muttrc for ALICE's INBOX over imaps, the server's certificate trusted; no caches. */
function muttConfig(server: ImapServe, dir: string): string {
  return `set folder = "imaps://127.0.0.1:${server.ports.imaps}/"
set spoolfile = "+INBOX"
set imap_user = "${ALICE.address}"
set imap_pass = "${ALICE.password}"
# The server's self-signed certificate is the one trusted certificate.
set certificate_file = "${path.join(dir, 'trusted.pem')}"
set ssl_force_tls = yes
set header_cache = ""
set message_cachedir = ""
set imap_check_subscribed = no
set imap_idle = no
# No questions: sync purges deleted messages, saving appends, nothing moves to an mbox.
set delete = yes
set confirmappend = no
set move = no
set mark_old = no
# The cursor stays where it is after an action; the index shows number, flags and subject.
set resolve = no
set sort = mailbox-order
set index_format = "msg %4C [%Z] %s"
set pager_stop = yes
set wait_key = no
set beep = no
set help = no
set ts_enabled = no
set charset = "utf-8"
`
}

/** The index line of message `n`, once it is on the screen. */
function indexLine(screen: string, n: number): string | undefined {
  return screen.split('\n').find((line) => new RegExp(`^msg +${n} \\[`).test(line))
}

test('mutt in tmux over imaps: read, pipe, flag, save to another folder, delete, sync, quit', {
  skip: binaryMissing('mutt', 'mutt') || binaryMissing('tmux', 'tmux'),
}, async (t) => {
  const server = await startImapServe(t, '[imap]\nallow_plaintext = "never"\n')
  await server.deliver(MUTT_MESSAGES)
  const dir = makeTempDir(t)
  writeFileSync(path.join(dir, 'trusted.pem'), readFileSync(server.certPath))
  writeFileSync(path.join(dir, 'muttrc'), muttConfig(server, dir))
  const mutt = await TmuxSession.start(
    t,
    `env HOME=${dir} LANG=C.UTF-8 TERM=screen mutt -n -F ${path.join(dir, 'muttrc')}`,
  )
  const index = await mutt.waitFor(/Msgs:5\b/, 'the INBOX index')
  for (const [i, subject] of ['read-me', 'flag-me', 'move-me', 'delete-me', 'leave-me'].entries()) {
    assert.match(indexLine(index, i + 1) ?? '', new RegExp(`^msg +${i + 1} \\[N +\\] ${subject}$`))
  }
  const jump = async (n: number) => {
    await mutt.type(String(n))
    await mutt.waitFor(/Jump to message: \d+$/m, 'the jump prompt')
    await mutt.keys('Enter')
  }

  // Read message 1: the pager shows its body; then pipe it (raw, headers and all) to a file.
  await jump(1)
  await mutt.keys('Enter')
  await mutt.waitFor(/Body of "read me", as the pager shows it\./, 'the pager')
  const piped = path.join(dir, 'piped.eml')
  await mutt.keys('|')
  await mutt.waitFor(/Pipe to command: *$/m, 'the pipe prompt')
  await mutt.type(`cat > ${piped}`)
  await mutt.keys('Enter')
  await eventually(async () => (existsSync(piped) ? true : undefined), 5000, 'the piped file')
  await mutt.keys('q')
  await mutt.waitFor((screen) => indexLine(screen, 1) !== undefined, 'the index again')

  // Flag message 2, save message 3 to Archive (a copy, the original marked deleted), delete 4.
  await jump(2)
  await mutt.keys('F')
  await mutt.waitFor(
    (screen) => /!/.test(/\[(.*)\]/.exec(indexLine(screen, 2) ?? '')?.[1] ?? ''),
    'message 2 flagged',
  )
  await jump(3)
  await mutt.keys('s')
  await mutt.waitFor(/Save to mailbox.*$/m, 'the save prompt')
  await mutt.keys('C-u')
  await mutt.type('=Archive')
  await mutt.keys('Enter')
  await mutt.waitFor(
    (screen) => /D/.test(/\[(.*)\]/.exec(indexLine(screen, 3) ?? '')?.[1] ?? ''),
    'message 3 saved and deleted',
  )
  await jump(4)
  await mutt.keys('d')
  await mutt.waitFor(
    (screen) => /D/.test(/\[(.*)\]/.exec(indexLine(screen, 4) ?? '')?.[1] ?? ''),
    'message 4 deleted',
  )

  // Sync: flags stored, the deleted ones expunged; the index has three left.
  await mutt.keys('$')
  const synced = await mutt.waitFor(/Msgs:3\b/, 'the synced index')
  assert.deepEqual(
    [1, 2, 3].map((n) => indexLine(synced, n)?.replace(/ +/g, ' ')),
    ['msg 1 [ ] read-me', 'msg 2 [N !] flag-me', 'msg 3 [N ] leave-me'],
    synced,
  )
  await mutt.keys('q')
  await eventually(
    async () => ((await mutt.hasExited()) ? true : undefined),
    10_000,
    'mutt to quit',
  )

  assert.deepEqual(await summary(server), ['read-me \\Seen', 'flag-me \\Flagged', 'leave-me'])
  assert.deepEqual(await summary(server, 'Archive'), ['move-me'])
  const archived = await server.contents('Archive')
  assertSameOctets(archived[0]?.text ?? '', MUTT_MESSAGES[2] ?? '', 'the message saved to Archive')
  // mutt pipes the message as it fetched it, with LF line ends.
  assertSameOctets(readFileSync(piped, 'latin1'), lf(MUTT_MESSAGES[0] ?? ''), 'the piped message')
})
