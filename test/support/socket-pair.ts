import { connect, createServer, type Socket } from 'node:net'
import type { TestContext } from 'node:test'

/** Two ends of one real loopback TCP connection; both are destroyed when the test ends. */
export async function socketPair(t: TestContext): Promise<{ server: Socket; client: Socket }> {
  const listener = createServer()
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const address = listener.address()
  if (typeof address !== 'object' || address === null) throw new Error('no port')
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve))
  const client = connect(address.port, '127.0.0.1')
  const server = await accepted
  listener.close()
  t.after(() => {
    client.destroy()
    server.destroy()
  })
  return { server, client }
}

/** Collects what a socket receives as text, and waits for a pattern in it. */
export class Received {
  text = ''
  #waiters: Array<() => void> = []

  constructor(socket: Socket) {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.text += chunk
      for (const wake of this.#waiters.splice(0)) wake()
    })
    socket.on('close', () => {
      for (const wake of this.#waiters.splice(0)) wake()
    })
    socket.on('error', () => {})
  }

  async waitFor(pattern: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    const matches = () =>
      typeof pattern === 'string' ? this.text.includes(pattern) : pattern.test(this.text)
    while (!matches()) {
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${String(pattern)}; received ${JSON.stringify(this.text)}`,
        )
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return this.text
  }
}
