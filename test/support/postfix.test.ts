import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import { getFreePorts } from './free-port.ts'
import { type Postfix, type PostfixOptions, postfixUnavailable, startPostfix } from './postfix.ts'

const MESSAGE = [
  'From: <sender@sender.test>',
  'Subject: postfix helper check',
  'Message-ID: <check@sender.test>',
  '',
  'Hello from the test.',
  '.leading dot, which SMTP stuffs and Postfix must restore',
  '',
].join('\r\n')

// CI installs Postfix (.ci/run); a machine without Debian's package skips, saying why.
const skip = postfixUnavailable() ?? false

test('maildir mode delivers into the Maildir and refuses unknown users', { skip }, async (t) => {
  const postfix = await start(t, {
    mode: 'maildir',
    domain: 'example.test',
    users: ['alice@example.test', 'bob@example.test'],
  })

  const replies = await sendMail(postfix.port, 'sender@sender.test', ['bob@example.test'], MESSAGE)
  assert.match(replies.at(-2) ?? '', /^250 /, replies.join(''))
  await postfix.waitForEmptyQueue(10_000)

  assert.equal(postfix.countDelivered(), 1, postfix.logTail())
  const [file] = postfix.deliveredFiles()
  assert.match(file ?? '', /\/example\.test\/bob\/new\/[^/]+$/)
  const delivered = readFileSync(file ?? '', 'latin1')
  assert.match(delivered, /^Delivered-To: bob@example\.test$/m)
  assert.match(delivered, /\nSubject: postfix helper check\n/)
  assert.match(delivered, /\n\.leading dot, which/)

  const refused = await sendMail(postfix.port, 'sender@sender.test', ['nobody@example.test'], '')
  assert.match(refused.at(-1) ?? '', /^550 /, refused.join(''))
})

test('relay mode relays any domain to the relay host', { skip }, async (t) => {
  const sink = await startSink(t)
  const postfix = await start(t, { mode: 'relay', relayHost: `[127.0.0.1]:${sink.port}` })

  const replies = await sendMail(postfix.port, 'sender@sender.test', ['x@far.test'], MESSAGE)
  assert.match(replies.at(-2) ?? '', /^250 /, replies.join(''))
  await sink.waitFor(1, 10_000, postfix)
  await postfix.waitForEmptyQueue(5_000)

  const [received] = sink.messages
  assert.deepEqual(received?.recipients, ['x@far.test'])
  assert.equal(received?.sender, 'sender@sender.test')
  assert.match(received?.data ?? '', /^Received: from .*\r\n\tby postfix\.test \(Postfix\)/m)
  assert.match(received?.data ?? '', /\r\nSubject: postfix helper check\r\n/)
  // Still dot-stuffed on the wire: the sink sees SMTP's encoding.
  assert.match(received?.data ?? '', /\r\n\.\.leading dot/)
  assert.equal(postfix.countDelivered(), 0)
})

test('relay mode keeps mail while the relay host is down and flush() sends it', {
  skip,
}, async (t) => {
  const [sinkPort] = await getFreePorts(1)
  const postfix = await start(t, {
    mode: 'relay',
    relayHost: `[127.0.0.1]:${sinkPort}`,
    tlsLevel: 'none',
  })

  await sendMail(postfix.port, 'sender@sender.test', ['y@far.test'], MESSAGE)
  await waitUntil(() => /status=deferred/.test(postfix.logTail()), 10_000, postfix)
  assert.equal(postfix.queueIsEmpty(), false)

  const sink = await startSink(t, sinkPort)
  await postfix.flush()
  await sink.waitFor(1, 10_000, postfix)
  await postfix.waitForEmptyQueue(5_000)
  assert.deepEqual(sink.messages[0]?.recipients, ['y@far.test'])
})

/** Starts Postfix and stops it when the test ends. */
async function start(t: TestContext, options: PostfixOptions): Promise<Postfix> {
  const postfix = await startPostfix(options)
  t.after(() => postfix.stop())
  return postfix
}

/**
 * A minimal SMTP client: EHLO, MAIL, RCPT…, DATA (dot-stuffed here), QUIT. Returns every reply;
 * after a refused RCPT it stops there.
 */
async function sendMail(
  port: number,
  sender: string,
  recipients: readonly string[],
  message: string,
): Promise<string[]> {
  const session = await SmtpLines.open(port)
  const replies: string[] = [await session.reply()]
  const command = async (line: string) => {
    session.write(`${line}\r\n`)
    const reply = await session.reply()
    replies.push(reply)
    return reply
  }
  try {
    await command('EHLO client.test')
    await command(`MAIL FROM:<${sender}>`)
    for (const recipient of recipients) {
      if (!(await command(`RCPT TO:<${recipient}>`)).startsWith('250')) return replies
    }
    await command('DATA')
    const stuffed = message.replace(/^\./gm, '..')
    await command(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.`)
    await command('QUIT')
    return replies
  } finally {
    session.close()
  }
}

interface SinkMessage {
  sender: string
  recipients: string[]
  /** As received between DATA and the final dot, still dot-stuffed. */
  data: string
}

/** A loopback SMTP server that takes every message and keeps it. */
async function startSink(
  t: TestContext,
  port = 0,
): Promise<{
  port: number
  messages: SinkMessage[]
  waitFor(count: number, timeoutMs: number, postfix: Postfix): Promise<void>
}> {
  const messages: SinkMessage[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffer = ''
    let current: SinkMessage = { sender: '', recipients: [], data: '' }
    let isData = false
    socket.write('220 sink.test ESMTP\r\n')
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      buffer += chunk
      for (let end = buffer.indexOf('\r\n'); end !== -1; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (isData) {
          if (line !== '.') {
            current.data += `${line}\r\n`
            continue
          }
          isData = false
          messages.push(current)
          current = { sender: '', recipients: [], data: '' }
          socket.write('250 2.0.0 kept\r\n')
          continue
        }
        const verb = line.slice(0, 4).toUpperCase()
        if (verb === 'EHLO' || verb === 'HELO') socket.write('250 sink.test\r\n')
        else if (verb === 'MAIL') {
          current.sender = /<(.*)>/.exec(line)?.[1] ?? ''
          socket.write('250 2.1.0 ok\r\n')
        } else if (verb === 'RCPT') {
          current.recipients.push(/<(.*)>/.exec(line)?.[1] ?? '')
          socket.write('250 2.1.5 ok\r\n')
        } else if (verb === 'DATA') {
          isData = true
          socket.write('354 go on\r\n')
        } else if (verb === 'QUIT') socket.end('221 2.0.0 bye\r\n')
        else socket.write('250 2.0.0 ok\r\n')
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    messages,
    waitFor: (count, timeoutMs, postfix) =>
      waitUntil(() => messages.length >= count, timeoutMs, postfix),
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number, postfix: Postfix) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms; Postfix log:\n${postfix.logTail()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Reads SMTP replies (multi-line ones whole) from one connection. */
class SmtpLines {
  #buffer = ''
  #wake: (() => void) | null = null
  #error: Error | null = null
  readonly #socket: Socket

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      this.#buffer += chunk
      this.#wake?.()
    })
    socket.on('error', (error) => {
      this.#error = error
      this.#wake?.()
    })
    socket.on('close', () => {
      this.#error ??= new Error('connection closed')
      this.#wake?.()
    })
  }

  static async open(port: number): Promise<SmtpLines> {
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new SmtpLines(socket)
  }

  write(text: string): void {
    this.#socket.write(text, 'latin1')
  }

  /** One reply: lines up to the one whose code is followed by a space. */
  async reply(): Promise<string> {
    const deadline = Date.now() + 10_000
    for (;;) {
      const last = /(^|\r\n)\d{3} [^\r\n]*\r\n/.exec(this.#buffer)
      if (last !== null) {
        const end = last.index + last[0].length
        const reply = this.#buffer.slice(0, end)
        this.#buffer = this.#buffer.slice(end)
        return reply
      }
      if (this.#error !== null) throw this.#error
      if (Date.now() > deadline) throw new Error(`no SMTP reply; got ${this.#buffer}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = null
    }
  }

  close(): void {
    this.#socket.destroy()
  }
}
