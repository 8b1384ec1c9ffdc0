import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { startDnsServer } from '../../test/support/dns-server.ts'
import { makeTempDir } from '../../test/support/temp-dir.ts'
import { loadConfig } from '../config/index.ts'
import { dkimDnsRecord, generateDkimKey, ownStsRecord } from '../mailauth/index.ts'
import { type CliIo, runCli } from './index.ts'

/** `postern domain check` in process, against a loopback DNS the test fills. */
test('domain check: each record marked OK, MISSING or WRONG, and the exit code says so', async (t) => {
  const dns = await startDnsServer(t, {})
  const dir = makeTempDir(t)
  const config = path.join(dir, 'postern.toml')
  writeFileSync(
    config,
    `hostname = "mail.example.test"\ndata_dir = "data"\n[dns]\nservers = ["127.0.0.1:${dns.port}"]\ntimeout_ms = 200\ntries = 1\n[mta_sts]\nmode = "enforce"\n`,
  )
  const run = async (args: string[]) => {
    let out = ''
    let err = ''
    const io: CliIo = {
      out: (text) => {
        out += `${text}\n`
      },
      error: (text) => {
        err += `${text}\n`
      },
      env: {},
      readStdin: async () => '',
    }
    const code = await runCli([...args, '--config', config], io)
    return { code, out, err }
  }
  assert.equal((await run(['domain', 'add', 'example.test'])).code, 0)
  const dataDir = path.join(dir, 'data')
  const key = await generateDkimKey(dataDir, 'example.test', { algorithm: 'rsa' })

  // Nothing published: everything but TLS-RPT is missing, and the exit code is 1.
  const empty = await run(['domain', 'check', 'example.test'])
  assert.equal(empty.code, 1, empty.err)
  assert.match(empty.out, /^MISSING MX +example\.test$/m)
  assert.match(empty.out, /^MISSING SPF +example\.test$/m)
  assert.match(
    empty.out,
    new RegExp(`^MISSING DKIM active +${key.selector}\\._domainkey\\.example\\.test$`, 'm'),
  )
  assert.match(empty.out, /^MISSING DMARC +_dmarc\.example\.test$/m)
  assert.match(empty.out, /^MISSING MTA-STS +_mta-sts\.example\.test$/m)
  assert.match(empty.out, /publish: v=STSv1; id=[0-9a-f]+/)
  assert.match(empty.out, /some records are missing or wrong/)

  // Published as printed: all OK, exit 0; a wrong one is WRONG.
  const record = dkimDnsRecord(key)
  const sts = ownStsRecord(loadConfig({ path: config })) ?? ''
  dns.set('example.test', 'MX', [{ exchange: 'mail.example.test', priority: 10 }])
  dns.set('example.test', 'TXT', [['v=spf1 mx -all']])
  dns.set(record.name, 'TXT', [record.strings])
  dns.set('_dmarc.example.test', 'TXT', [['v=DMARC1; p=quarantine']])
  dns.set('_mta-sts.example.test', 'TXT', [[sts]])
  dns.set('_smtp._tls.example.test', 'TXT', [['v=TLSRPTv1; rua=mailto:tls@example.test']])
  const full = await run(['domain', 'check', 'example.test'])
  assert.equal(full.code, 0, full.out)
  assert.doesNotMatch(full.out, /^(MISSING|WRONG|UNKNOWN)/m)
  assert.match(full.out, /everything needed is published/)

  dns.set('example.test', 'MX', [{ exchange: 'elsewhere.test', priority: 10 }])
  dns.set('_dmarc.example.test', 'TXT', [['v=DMARC1; p=none'], ['v=DMARC1; p=reject']])
  const wrong = await run(['domain', 'check', 'example.test'])
  assert.equal(wrong.code, 1)
  assert.match(
    wrong.out,
    /^WRONG +MX +example\.test\n.*\n.*found: +10 elsewhere\.test\.\n.*no MX names mail\.example\.test/m,
  )
  assert.match(wrong.out, /^WRONG +DMARC/m)

  // A DNS failure is UNKNOWN, not MISSING; a domain that is not ours is refused.
  dns.set('_dmarc.example.test', 'servfail', true)
  assert.match((await run(['domain', 'check', 'example.test'])).out, /^UNKNOWN DMARC/m)
  const other = await run(['domain', 'check', 'other.test'])
  assert.equal(other.code, 1)
  assert.match(other.err, /other\.test is not a local domain/)
})
