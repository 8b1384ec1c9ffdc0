// Many SMTP sessions held open at once: each connects, reads the greeting, says EHLO, reads the
// whole reply and then stays idle, as slow senders and pooled client connections do.
import { connect, type Socket } from 'node:net'

const SESSION_TIMEOUT_MS = 30_000
/** Connections being set up at once, well under the listen backlog. */
const WAVE = 100

export interface HeldSessions {
  /** Sessions still open now. */
  open(): number
  close(): Promise<void>
}

/** Opens `count` sessions to 127.0.0.1:port; rejects with the first failure's reason. */
export async function holdSessions(port: number, count: number): Promise<HeldSessions> {
  const sockets: Socket[] = []
  let closed = 0
  const closeAll = async () => {
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.destroyed) return resolve()
            socket.once('close', () => resolve())
            socket.destroy()
          }),
      ),
    )
  }
  try {
    for (let opened = 0; opened < count; opened += WAVE) {
      const wave = Array.from({ length: Math.min(WAVE, count - opened) }, (_, i) =>
        openSession(port, `client${opened + i}.bench.test`),
      )
      for (const socket of await Promise.all(wave)) {
        sockets.push(socket)
        socket.once('close', () => {
          closed += 1
        })
      }
    }
  } catch (error) {
    await closeAll()
    throw new Error(`session ${sockets.length + 1} of ${count}: ${(error as Error).message}`)
  }
  return {
    open: () => sockets.length - closed,
    close: closeAll,
  }
}

/** One session up to the end of the EHLO reply. */
function openSession(port: number, helo: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    let isGreeted = false
    const fail = (reason: string) => {
      clearTimeout(timer)
      socket.destroy()
      reject(new Error(reason))
    }
    const timer = setTimeout(
      () => fail(`no reply within ${SESSION_TIMEOUT_MS} ms (got ${JSON.stringify(received)})`),
      SESSION_TIMEOUT_MS,
    )
    const onData = (chunk: string) => {
      received += chunk
      // A reply ends with a line whose code is followed by a space (RFC 5321 §4.2.1).
      const final = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(received)
      if (final === null) return
      const expected = isGreeted ? '250' : '220'
      if (final[1] !== expected) return fail(`expected ${expected}, got ${received.trim()}`)
      received = ''
      if (!isGreeted) {
        isGreeted = true
        socket.write(`EHLO ${helo}\r\n`)
        return
      }
      clearTimeout(timer)
      socket.off('data', onData)
      socket.removeAllListeners('error')
      socket.on('error', () => {})
      resolve(socket)
    }
    socket.setEncoding('latin1').on('data', onData)
    socket.on('error', (error) => fail(`${(error as NodeJS.ErrnoException).code ?? error.message}`))
  })
}
