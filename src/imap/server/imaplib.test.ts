import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { ALICE, startImapServer } from '../../../test/support/imap.ts'

// Interop with a client nobody here wrote: Python's imaplib over STARTTLS, with the plaintext
// policy at "never" so that the login only works once TLS is up.

const run = promisify(execFile)

const SCRIPT = `
import imaplib, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
imap = imaplib.IMAP4('127.0.0.1', port)
print('before', ' '.join(imap.capabilities))
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
imap.starttls(ssl_context=context)
print('after', ' '.join(imap.capabilities))
print('login', imap.login(user, password)[0])
typ, data = imap.capability()
print('capability', typ, data[0].decode())
print('noop', imap.noop()[0])
print('logout', imap.logout()[0])
`

test('Python imaplib: STARTTLS, LOGIN, CAPABILITY, NOOP, LOGOUT', async (t) => {
  const { port } = await startImapServer(t, { config: { allowPlaintext: 'never' } })
  const { stdout } = await run(
    'python3',
    ['-c', SCRIPT, String(port), ALICE.address, ALICE.password],
    {
      timeout: 20_000,
    },
  )
  assert.deepEqual(stdout.trim().split('\n'), [
    'before IMAP4REV2 IMAP4REV1 STARTTLS LOGINDISABLED LITERAL+ ID',
    'after IMAP4REV2 IMAP4REV1 AUTH=SCRAM-SHA-256 AUTH=PLAIN AUTH=LOGIN SASL-IR LITERAL+ ID',
    'login OK',
    'capability OK IMAP4rev2 IMAP4rev1 LITERAL+ ID ENABLE CONDSTORE QRESYNC UTF8=ACCEPT UNSELECT MOVE BINARY UIDPLUS MULTIAPPEND APPENDLIMIT=10485760 IDLE COMPRESS=DEFLATE QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE CHILDREN NAMESPACE STATUS=SIZE',
    'noop OK',
    'logout BYE',
  ])
})
