import type { Socket } from 'node:net'
import { type SecureContext, TLSSocket } from 'node:tls'
import { TLS_HANDSHAKE_TIMEOUT_MS } from './limits.ts'

/**
 * Runs the server side of a TLS handshake over an accepted socket and resolves with the
 * encrypted socket once it is secure. Used for implicit TLS (RFC 8314 §3.3) right after accept,
 * and for STARTTLS upgrades in place.
 */
export function acceptTls(
  socket: Socket,
  secureContext: SecureContext,
  timeoutMs = TLS_HANDSHAKE_TIMEOUT_MS,
): Promise<TLSSocket> {
  const tlsSocket = new TLSSocket(socket, { isServer: true, secureContext })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(new Error(`TLS handshake did not finish within ${timeoutMs} ms`))
    }, timeoutMs)
    const fail = (error: Error) => {
      cleanup()
      tlsSocket.destroy()
      reject(error)
    }
    const onClose = () => fail(new Error('Connection closed during the TLS handshake'))
    const onSecure = () => {
      cleanup()
      resolve(tlsSocket)
    }
    const cleanup = () => {
      clearTimeout(timer)
      tlsSocket.off('secure', onSecure)
      tlsSocket.off('error', fail)
      tlsSocket.off('close', onClose)
    }
    tlsSocket.on('secure', onSecure)
    tlsSocket.on('error', fail)
    tlsSocket.on('close', onClose)
  })
}
