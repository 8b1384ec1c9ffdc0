import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { test } from 'node:test'
import { SmtpClient, SmtpClientError } from '../../src/smtp/client/index.ts'
import { startFakeSmtp } from './fake-smtp.ts'
import { getFreePorts } from './free-port.ts'

const HOST = '127.0.0.9'

function source(text: string) {
  const bytes = Buffer.from(text)
  return {
    size: bytes.length,
    chunks: async function* () {
      yield bytes
    },
  }
}

test('takes a pipelined transaction, unstuffs dots and answers RCPT as scripted', async (t) => {
  const [port = 0] = await getFreePorts(1)
  const fake = await startFakeSmtp(t, {
    host: HOST,
    port,
    onRcpt: (address, attempt) =>
      address.startsWith('no@') ? '550 5.1.1 No such user' : `250 2.1.5 Ok (${attempt})`,
  })
  const client = await SmtpClient.connect({ host: HOST, port })
  const capabilities = await client.hello('client.test')
  assert.equal(capabilities.pipelining, true)
  assert.equal(capabilities.eightBitMime, true)
  const message = 'Subject: dots\r\n\r\n.leading dot\r\n..two\r\nlast\r\n'
  const sent = await client.send(
    {
      sender: 'from@a.test',
      recipients: [{ address: 'yes@c.test' }, { address: 'no@c.test' }],
      body: '8bitmime',
    },
    source(message),
  )
  assert.deepEqual(
    sent.recipients.map((reply) => reply.code),
    [250, 550],
  )
  assert.equal(sent.data?.code, 250)
  // A second transaction on the same connection, after an RSET.
  assert.equal((await client.reset()).code, 250)
  await client.send({ sender: '', recipients: [{ address: 'yes@c.test' }] }, source(''))
  await client.quit()
  assert.equal(fake.connections, 1)
  assert.equal(fake.transactions.length, 2)
  const [first, second] = fake.transactions
  assert.equal(first?.from, 'from@a.test')
  assert.deepEqual(first?.to, ['yes@c.test'])
  assert.equal(first?.body8bit, '8BITMIME')
  assert.match(first?.mailLine ?? '', /^MAIL FROM:<from@a\.test> SIZE=\d+ BODY=8BITMIME$/)
  assert.equal(first?.data.toString(), message)
  assert.equal(second?.from, '')
  assert.equal(second?.body8bit, undefined)
  assert.equal(second?.data.length, 0)
  assert.deepEqual(
    fake.rcpts.map((r) => r.reply),
    ['250 2.1.5 Ok (1)', '550 5.1.1 No such user', '250 2.1.5 Ok (2)'],
  )
})

test('commands written in one packet are answered in order', async (t) => {
  const [port = 0] = await getFreePorts(1)
  const fake = await startFakeSmtp(t, { host: HOST, port, extensions: [] })
  const socket = connect({ host: HOST, port })
  socket.setEncoding('latin1')
  let received = ''
  socket.on('data', (chunk: string) => {
    received += chunk
  })
  await once(socket, 'connect')
  socket.write(
    'HELO c\r\nMAIL FROM:<a@a.test>\r\nRCPT TO:<b@c.test>\r\nDATA\r\nhi\r\n.\r\nNOOP\r\nQUIT\r\n',
  )
  await once(socket, 'close')
  const codes = received
    .split('\r\n')
    .filter((line) => line !== '')
    .map((line) => line.slice(0, 3))
  assert.deepEqual(codes, ['220', '250', '250', '250', '354', '250', '250', '221'])
  assert.equal(fake.transactions[0]?.data.toString(), 'hi\r\n')
})

test('a null greeting hangs; a 421 greeting is refused; STARTTLS when announced', async (t) => {
  const [port = 0] = await getFreePorts(1)
  const hanging = await startFakeSmtp(t, { host: HOST, port, greeting: null })
  await assert.rejects(
    SmtpClient.connect({ host: HOST, port, timeouts: { greeting: 100 } }),
    (error) => error instanceof SmtpClientError && error.kind === 'timeout',
  )
  assert.equal(hanging.connections, 1)
  await hanging.close()

  const busy = await startFakeSmtp(t, { host: HOST, port, greeting: '421 4.3.2 Busy' })
  await assert.rejects(
    SmtpClient.connect({ host: HOST, port }),
    (error) => error instanceof SmtpClientError && error.reply?.code === 421,
  )
  await busy.close()

  const secure = await startFakeSmtp(t, {
    host: HOST,
    port,
    extensions: ['STARTTLS', 'PIPELINING'],
  })
  const client = await SmtpClient.connect({ host: HOST, port, tls: { rejectUnauthorized: false } })
  assert.equal((await client.hello('client.test')).startTls, true)
  await client.startTls()
  const after = await client.hello('client.test')
  assert.equal(client.isSecure, true)
  assert.equal(after.startTls, false)
  await client.send({ sender: 'a@a.test', recipients: [{ address: 'b@c.test' }] }, source('x\r\n'))
  await client.quit()
  assert.equal(secure.transactions.length, 1)
})
