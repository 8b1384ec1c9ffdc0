import type { SecureContext } from 'node:tls'
import type { Connection, ProtocolHandler } from '../../src/net/index.ts'

/**
 * A line protocol small enough to read at a glance: greets, echoes each line, and understands
 * QUIT, STARTTLS, CRASH (throws) and WAIT (ignores shutdown until the grace runs out).
 */
export function echoProtocol(secureContext?: SecureContext): ProtocolHandler {
  return {
    refusal: (reason) => `BUSY ${reason}\r\n`,
    async handleConnection(connection: Connection) {
      let isWaiting = false
      connection.shutdownSignal.addEventListener('abort', () => {
        if (!isWaiting) void connection.end('BYE shutting down\r\n')
      })
      connection.log.info({ remote: connection.remoteAddress }, 'echo session started')
      await connection.write(`HELLO ${connection.id}\r\n`)
      for (;;) {
        const line = await connection.reader.readLine(512)
        if (line === null) return
        const command = line.bytes.toString()
        if (command === 'QUIT') return connection.end('BYE\r\n')
        if (command === 'CRASH') throw new Error('handler bug')
        if (command === 'WAIT') isWaiting = true
        if (command === 'STARTTLS' && secureContext) {
          await connection.startTls(secureContext, 'GO\r\n')
          continue
        }
        await connection.write(`ECHO ${command}\r\n`)
      }
    },
  }
}
