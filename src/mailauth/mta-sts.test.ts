// The MTA-STS parts without I/O: TXT records (RFC 8461 §3.1), policy files (§3.2), MX patterns
// (§4.1), the certificate name check (§4.2) and the policy Postern serves for itself.
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { test } from 'node:test'
import { issue } from '../../test/support/mta-sts.ts'
import {
  certificateMatchesHost,
  MtaStsError,
  mxMatches,
  ownPolicyId,
  ownPolicyText,
  ownStsRecord,
  parseStsPolicy,
  parseStsRecord,
} from './mta-sts.ts'

test('a TXT record gives its id; strings of one record are joined', () => {
  assert.deepEqual(parseStsRecord([['v=STSv1; id=20160831085700Z;']]), {
    kind: 'id',
    id: '20160831085700Z',
  })
  assert.deepEqual(parseStsRecord([['v=STSv1;', ' id=abc123']]), { kind: 'id', id: 'abc123' })
  assert.deepEqual(parseStsRecord([['v=STSv1 ;id=x\t;\text=value-1']]), { kind: 'id', id: 'x' })
  // Other TXT records at the name are discarded before counting (§3.1).
  assert.deepEqual(parseStsRecord([['some other record'], ['v=STSv1; id=a1']]), {
    kind: 'id',
    id: 'a1',
  })
  // The first id wins.
  assert.deepEqual(parseStsRecord([['v=STSv1; id=first; id=second']]), {
    kind: 'id',
    id: 'first',
  })
})

test('anything but exactly one valid v=STSv1 record means no policy', () => {
  const none = (records: string[][]) => assert.equal(parseStsRecord(records).kind, 'none')
  none([])
  none([['v=spf1 -all']])
  none([['v=STSv1; id=a'], ['v=STSv1; id=b']])
  none([['v=STSv1;']])
  none([['v=STSv1; ext=1']]) // no id
  none([['v=STSv1; id=']])
  none([['v=STSv1; id=has-dash']])
  none([[`v=STSv1; id=${'a'.repeat(33)}`]])
  none([['v=STSv1; id=a;; ext=1']])
  none([['v=STSv1; id=a; bad name=1']])
  none([['v=STSv1; id=a; ext=a=b']])
  // The version is case-sensitive (%s in the ABNF).
  none([['v=stsv1; id=a']])
})

test('a policy file parses with LF or CRLF lines and ignores unknown fields', () => {
  assert.deepEqual(
    parseStsPolicy(
      'version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n',
    ),
    { mode: 'enforce', mx: ['mail.example.com', '*.example.net'], maxAgeS: 604800 },
  )
  assert.deepEqual(
    parseStsPolicy('version: STSv1\r\nmode: testing\r\nmx: a.test\r\nmax_age: 86400\r\nx_y: z\r\n'),
    { mode: 'testing', mx: ['a.test'], maxAgeS: 86400 },
  )
  assert.deepEqual(parseStsPolicy('version: STSv1\nmode: none\nmax_age: 86400\n'), {
    mode: 'none',
    mx: [],
    maxAgeS: 86400,
  })
})

test('an invalid policy file throws MtaStsError', () => {
  const bad = [
    'mode: enforce\nmx: a.test\nmax_age: 86400\n', // no version
    'version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 86400\n',
    'version: STSv1\nmode: strict\nmx: a.test\nmax_age: 86400\n',
    'version: STSv1\nmode: enforce\nmax_age: 86400\n', // enforce without mx
    'version: STSv1\nmode: enforce\nmx: a.test\n', // no max_age
    'version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n', // over a year
    'version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n',
    'version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 86400\n',
    '<html>not a policy</html>',
  ]
  for (const text of bad) assert.throws(() => parseStsPolicy(text), MtaStsError, text)
})

test('MX patterns match exactly or by one leftmost label (RFC 8461 §4.1)', () => {
  const patterns = ['mail.example.com', '*.example.net']
  assert.ok(mxMatches('mail.example.com', patterns))
  assert.ok(mxMatches('MAIL.Example.COM.', patterns))
  assert.ok(mxMatches('mx1.example.net', patterns))
  assert.ok(!mxMatches('example.net', patterns))
  assert.ok(!mxMatches('a.b.example.net', patterns))
  assert.ok(!mxMatches('mx1.example.net.evil.test', patterns))
  assert.ok(!mxMatches('xexample.net', patterns))
  assert.ok(!mxMatches('other.example.com', patterns))
  assert.ok(!mxMatches('*.example.net', patterns))
  // An address is no host name, whatever the patterns say.
  assert.ok(!mxMatches('192.0.2.1', ['*.0.2.1', '192.0.2.1']))
  // IDNs are compared as A-labels (§3.2).
  assert.ok(mxMatches('mx.bücher.example', ['mx.xn--bcher-kva.example']))
  assert.ok(!mxMatches('anything.test', []))
})

test('a certificate matches a host by a subjectAltName DNS-ID only (RFC 8461 §4.2)', async () => {
  const raw = (pem: string) => new X509Certificate(pem).raw
  const exact = await issue(['mx1.example.test'])
  assert.ok(certificateMatchesHost('mx1.example.test', raw(exact.cert)))
  assert.ok(certificateMatchesHost('MX1.example.test', raw(exact.cert)))
  assert.ok(!certificateMatchesHost('mx2.example.test', raw(exact.cert)))
  const wildcard = await issue(['*.example.test'])
  assert.ok(certificateMatchesHost('mx2.example.test', raw(wildcard.cert)))
  assert.ok(!certificateMatchesHost('a.mx2.example.test', raw(wildcard.cert)))
  // A CN without a SAN does not count.
  const cnOnly = await issue([], { commonName: 'mx1.example.test' })
  assert.ok(!certificateMatchesHost('mx1.example.test', raw(cnOnly.cert)))
})

test('the own policy lists every configured MX and its id follows the text', () => {
  const config = (mode: 'none' | 'testing' | 'enforce', mx: string[], maxAgeS = 604800) => ({
    mtaSts: {
      enforceOutbound: true,
      httpsPort: 443,
      caFile: null,
      fetchTimeoutMs: 10_000,
      mode,
      mx,
      maxAgeS,
    },
  })
  const enforce = config('enforce', ['mail.example.com', '*.Backup.example.com', 'mx.bücher.de'])
  const text = ownPolicyText(enforce)
  assert.equal(
    text,
    'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.backup.example.com\r\n' +
      'mx: mx.xn--bcher-kva.de\r\nmax_age: 604800\r\n',
  )
  // What we serve is what we would accept from anyone else.
  assert.deepEqual(parseStsPolicy(text ?? '').mx, [
    'mail.example.com',
    '*.backup.example.com',
    'mx.xn--bcher-kva.de',
  ])
  const id = ownPolicyId(enforce)
  assert.match(id ?? '', /^[0-9a-f]{32}$/)
  assert.equal(ownPolicyId(config('enforce', [...enforce.mtaSts.mx])), id, 'stable')
  assert.notEqual(ownPolicyId(config('testing', enforce.mtaSts.mx)), id)
  assert.notEqual(ownPolicyId(config('enforce', ['mail.example.com'])), id)
  assert.notEqual(ownPolicyId(config('enforce', enforce.mtaSts.mx, 86400)), id)
  assert.equal(ownStsRecord(enforce), `v=STSv1; id=${id}`)
  assert.deepEqual(parseStsRecord([[ownStsRecord(enforce) ?? '']]), { kind: 'id', id })
  // Mode "none" serves nothing and needs no record.
  assert.equal(ownPolicyText(config('none', ['mail.example.com'])), null)
  assert.equal(ownPolicyId(config('none', ['mail.example.com'])), null)
  assert.equal(ownStsRecord(config('none', ['mail.example.com'])), null)
})
