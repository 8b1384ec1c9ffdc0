import { createServer, type Server, type Socket } from 'node:net'
import type { SecureContext } from 'node:tls'
import type { Logger } from '../util/index.ts'
import { Connection } from './connection.ts'
import { newConnectionId } from './connection-id.ts'
import type { ConnectionLimiter } from './ip-limits.ts'
import { acceptTls } from './tls-accept.ts'

/**
 * What a protocol gives the server: how to run a session, and what to say to a connection that
 * is turned away. server/ binds it to the configured addresses.
 */
export interface ProtocolHandler {
  /** Runs one session; resolves when it is over. A rejection is logged and the socket closed. */
  handleConnection(connection: Connection): Promise<void>
  /** The protocol's "try again later" for a connection refused by a limit, e.g. SMTP's 421. */
  refusal(reason: string): string
}

export interface ListenerOptions {
  name: string
  host: string
  port: number
  /** 'implicit': TLS from the first octet (RFC 8314). 'none': plain, STARTTLS up to the protocol. */
  tls: 'none' | 'implicit'
  secureContext: SecureContext
  handler: ProtocolHandler
  limiter: ConnectionLimiter
  log: Logger
}

export interface Listener {
  readonly name: string
  readonly host: string
  /** The bound port (useful when the config asked for port 0). */
  readonly port: number
  readonly connectionCount: number
  /**
   * Stops accepting, asks every session to finish (its shutdownSignal fires), and after
   * `graceMs` cuts the ones still open. Resolves when every connection is closed.
   */
  close(graceMs: number): Promise<void>
}

interface Session {
  done: Promise<void>
  cut: () => void
}

/** Binds a TCP listener and runs `handler` for each admitted connection. */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  const { name, handler, limiter, log } = options
  const shutdown = new AbortController()
  // Each open session, with how to cut it: the raw socket at first, the Connection (which may by
  // then wrap a TLS socket) once the session runs.
  const sessions = new Map<Socket, Session>()

  const accept = async (socket: Socket, id: string, session: Session) => {
    const connLog = log.child({ conn: id })
    const remote = socket.remoteAddress ?? ''
    const admission = limiter.admit(remote)
    if (!admission.isAdmitted) {
      connLog.warn({ listener: name, remote, reason: admission.reason }, 'connection refused')
      // Implicit TLS peers cannot read a plaintext refusal; they just see the close.
      if (options.tls === 'none') socket.end(handler.refusal(admission.reason))
      else socket.destroy()
      socket.setTimeout(5000, () => socket.destroy())
      return
    }
    try {
      connLog.info(
        { listener: name, remote, remotePort: socket.remotePort, tls: options.tls === 'implicit' },
        'connection opened',
      )
      let stream: Socket = socket
      if (options.tls === 'implicit') {
        try {
          stream = await acceptTls(socket, options.secureContext)
        } catch (error) {
          connLog.info({ err: (error as Error).message }, 'TLS handshake failed')
          socket.destroy()
          return
        }
      }
      // A handshake that finished after close() began: the session would never see the abort.
      if (shutdown.signal.aborted) {
        stream.destroy()
        return
      }
      const connection = new Connection(stream, {
        id,
        listenerName: name,
        log: connLog,
        shutdownSignal: shutdown.signal,
      })
      session.cut = () => connection.destroy()
      try {
        await handler.handleConnection(connection)
        // Replies still in flight (answers to commands pipelined before the peer's FIN) go out
        // before the close.
        await connection.end()
      } catch (error) {
        // One session's bug never reaches another: log it with the id and drop this socket.
        connLog.error({ err: error }, 'session failed')
        connection.destroy()
      }
    } finally {
      admission.release()
      connLog.info({}, 'connection closed')
    }
  }

  // allowHalfOpen: a client that sends its last pipelined commands and then FIN still gets the
  // replies; the session closes the socket when it is done.
  const server: Server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {}) // reported through the session; never crash the process
    const session: Session = { done: Promise.resolve(), cut: () => socket.destroy() }
    sessions.set(socket, session)
    session.done = accept(socket, newConnectionId(), session).finally(() => sessions.delete(socket))
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : options.port
  server.on('error', (error) => log.error({ err: error, listener: name }, 'listener error'))

  return {
    name,
    host: options.host,
    port,
    get connectionCount() {
      return sessions.size
    },
    async close(graceMs: number) {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      shutdown.abort()
      const timer = setTimeout(() => {
        if (sessions.size > 0) {
          log.warn(
            { listener: name, sessions: sessions.size },
            'shutdown grace over, closing sessions',
          )
        }
        for (const session of sessions.values()) session.cut()
      }, graceMs)
      await Promise.allSettled([...sessions.values()].map((session) => session.done))
      clearTimeout(timer)
      await stopped
    },
  }
}
