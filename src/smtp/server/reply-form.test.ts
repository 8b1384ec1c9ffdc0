import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SmtpTestClient, startSmtpServer } from '../../../test/support/smtp.ts'

// The form of replies whatever the client sent (RFC 5321 §4.2, §4.5.3.1.5): a reply line is at
// most 512 octets and its text is printable US-ASCII. Both were found broken by the torture
// suite's SMTP fuzzer (test/torture/fuzz-smtp.test.ts).

/** RFC 5321 §4.2: textstring = 1*(%d09 / %d32-126). */
const REPLY_LINE = /^[2-5][0-9]{2}[ -][\t\x20-\x7e]*$/

function assertWellFormed(raw: string): void {
  const lines = raw.split('\r\n')
  assert.equal(lines.pop(), '', 'a reply ends with CRLF')
  for (const line of lines) {
    assert.match(line, REPLY_LINE)
    assert.ok(Buffer.byteLength(line) + 2 <= 512, `${Buffer.byteLength(line) + 2} octets`)
  }
}

test('an EHLO argument too long for a domain is cut in the greeting', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  // The greeting echoed the whole argument: a reply line of 2,000 octets.
  const reply = await client.command(`EHLO ${'x'.repeat(2000)}`)
  assert.equal(reply.code, 250)
  assertWellFormed(reply.raw)
  assert.equal(reply.lines[0], `mx.example.test Hello ${'x'.repeat(60)}... [127.0.0.1]`)
  // UTF-8 is cut by characters, never inside one.
  const utf8 = await client.command(`EHLO ${'\u00e9'.repeat(700)}`)
  assert.equal(utf8.lines[0], `mx.example.test Hello ${'\u00e9'.repeat(60)}... [127.0.0.1]`)
  // A name of 255 octets, the longest a domain can be, is shown whole.
  const longest = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`
  const whole = await client.command(`HELO ${longest}`)
  assert.equal(whole.raw, `250 mx.example.test Hello ${longest} [127.0.0.1]\r\n`)
  assertWellFormed(whole.raw)
})

test('parameters of any length are refused in a reply of at most 512 octets', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  await client.ehlo()
  // These echoed the keyword or value whole: reply lines of up to 2,000 octets.
  for (const params of [
    `BODY=8BITMIME${'IME'.repeat(600)}`,
    `X${'Y'.repeat(1800)}=1`,
    `SIZE=1 ${'S'.repeat(900)} ${'S'.repeat(900)}`,
  ]) {
    const reply = await client.command(`MAIL FROM:<a@remote.test> ${params}`)
    assert.ok(reply.code >= 500, reply.raw)
    assertWellFormed(reply.raw)
  }
  assert.equal((await client.command('MAIL FROM:<a@remote.test>')).code, 250)
  const rcpt = await client.command(`RCPT TO:<alice@example.test> ${'Z'.repeat(1900)}=1`)
  assert.equal(rcpt.code, 555)
  assertWellFormed(rcpt.raw)
})

test('refusals of overlong paths and message lines are US-ASCII', async (t) => {
  const { ports } = await startSmtpServer(t)
  const client = await SmtpTestClient.connect(t, ports.smtp)
  await client.read()
  await client.ehlo()
  // These named their RFC section with "§", which is not US-ASCII.
  for (const path of [
    `<${'a'.repeat(300)}@remote.test>`,
    `<${'a'.repeat(65)}@remote.test>`,
    `<a@${'abcdefgh.'.repeat(29)}test>`,
  ]) {
    const reply = await client.command(`MAIL FROM:${path}`)
    assert.equal(reply.code, 501, reply.raw)
    assertWellFormed(reply.raw)
  }
  assert.equal((await client.command('MAIL FROM:<a@remote.test>')).code, 250)
  assert.equal((await client.command('RCPT TO:<alice@example.test>')).code, 250)
  assert.equal((await client.command('DATA')).code, 354)
  client.write(`Subject: long\r\n\r\n${'x'.repeat(1200)}\r\n.\r\n`)
  const refused = await client.read()
  assert.equal(refused.code, 554)
  assertWellFormed(refused.raw)
})
