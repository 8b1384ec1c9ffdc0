// Runs Node's HTTP/1.1 server on the listener's connections. The listener hands a protocol a
// Connection (its reader and awaited writes), not a socket, so each one is wrapped in a Duplex
// stream and given to an unbound http.Server through its 'connection' event, which takes any
// Duplex. The bounds a bound server would get from its own timers are kept here: an idle
// timeout and a lifetime per connection, and a bounded header section.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Duplex } from 'node:stream'
import type { Connection, ProtocolHandler } from '../net/index.ts'
import type { Logger } from '../util/index.ts'

/** Octets of a request's header section; past it the request is refused with 431. */
export const MAX_HEADER_OCTETS = 8 * 1024
/** A connection without traffic this long is closed. */
export const IDLE_TIMEOUT_MS = 10_000
/** A connection is closed this long after it opened, however busy (slow requests included). */
export const MAX_CONNECTION_MS = 60_000
/** Requests on one kept-alive connection. */
const MAX_REQUESTS_PER_CONNECTION = 100

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>

/** A ProtocolHandler that answers HTTP/1.1 requests with `handle`. */
export function httpProtocol(handle: RequestHandler, log: Logger): ProtocolHandler {
  const server = createServer({
    maxHeaderSize: MAX_HEADER_OCTETS,
    // RFC 9112 §3.2: an HTTP/1.1 request without Host gets 400.
    requireHostHeader: true,
    joinDuplicateHeaders: false,
  })
  server.maxRequestsPerSocket = MAX_REQUESTS_PER_CONNECTION
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const stream = request.socket
    if (stream instanceof ConnectionStream) stream.busy += 1
    response.on('close', () => {
      if (!(stream instanceof ConnectionStream)) return
      stream.busy -= 1
      if (stream.isClosing && stream.busy === 0) stream.end()
    })
    if (stream instanceof ConnectionStream && stream.isClosing) response.shouldKeepAlive = false
    handle(request, response).catch((error: unknown) => {
      log.error({ err: error, path: request.url }, 'admin: request failed')
      if (!response.headersSent) send(response, 500, 'internal error\n')
      else response.destroy()
    })
  })
  server.on('clientError', (error: NodeJS.ErrnoException, stream: Duplex) => {
    // A request that does not parse, or whose header section is too large, gets its status
    // and the connection ends; one that was cut short is just closed.
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
    if (!stream.writable || error.code === 'ECONNRESET') {
      stream.destroy()
      return
    }
    const text = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'
    stream.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  })
  return {
    handleConnection(connection) {
      return new Promise<void>((resolve) => {
        const stream = new ConnectionStream(connection)
        connection.setIdleTimeout(IDLE_TIMEOUT_MS)
        const lifetime = setTimeout(() => connection.destroy(), MAX_CONNECTION_MS)
        const onShutdown = () => {
          stream.isClosing = true
          if (stream.busy === 0) stream.end()
        }
        connection.shutdownSignal.addEventListener('abort', onShutdown, { once: true })
        stream.once('close', () => {
          clearTimeout(lifetime)
          connection.shutdownSignal.removeEventListener('abort', onShutdown)
          resolve()
        })
        server.emit('connection', stream)
      })
    },
    refusal: (reason) => {
      const body = `Too many connections (${reason}), try later\n`
      return (
        'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n' +
        `Retry-After: 10\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      )
    },
  }
}

/** A plain-text answer with its length; `extra` adds header fields. */
export function send(
  response: ServerResponse,
  status: number,
  body: string,
  extra: Record<string, string> = {},
): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain',
    'Content-Length': String(Buffer.byteLength(body)),
    ...extra,
  })
  response.end(body)
}

/** A Connection as the Duplex stream http.Server reads requests from and writes answers to. */
class ConnectionStream extends Duplex {
  /** Requests being answered now. */
  busy = 0
  /** Shutting down: no keep-alive, and the connection ends once idle. */
  isClosing = false
  readonly #connection: Connection
  #isReading = false

  constructor(connection: Connection) {
    super()
    this.#connection = connection
  }

  override _read(): void {
    if (this.#isReading) return
    this.#isReading = true
    this.#connection.reader.readChunk().then(
      (chunk) => {
        this.#isReading = false
        this.push(chunk)
      },
      (error: unknown) => {
        this.#isReading = false
        this.destroy(error instanceof Error ? error : new Error(String(error)))
      },
    )
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    this.#connection.write(chunk).then(() => done(), done)
  }

  override _final(done: (error?: Error) => void): void {
    this.#connection.end().then(() => done(), done)
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#connection.destroy()
    done(error)
  }
}
