import { connect } from 'node:net'

const GREETING_TIMEOUT_MS = 5_000

/**
 * The first line a server sends on a new connection to 127.0.0.1:port (SMTP's 220, POP3's +OK),
 * after which it says QUIT: how the benchmarks learn that a server they started is serving.
 */
export function readGreeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no greeting within ${GREETING_TIMEOUT_MS} ms`))
    }, GREETING_TIMEOUT_MS)
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      received += chunk
      if (!received.includes('\r\n')) return
      clearTimeout(timer)
      socket.end('QUIT\r\n')
      resolve(received.slice(0, received.indexOf('\r\n')))
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      // The code (ECONNREFUSED…) stays on the error: callers retry while the server starts.
      reject(error)
    })
  })
}
