import { LineTooLongError } from '../../../net/index.ts'
import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'

/** The longest line read while idling: "DONE" is all a client may send. */
const MAX_IDLE_LINE_OCTETS = 1024

/**
 * IDLE (RFC 2177, RFC 9051 §6.3.13): after "+ idling", changes to the selected mailbox are sent
 * as they happen (EXPUNGE included: no command is in progress) until the client sends DONE.
 * Anything else ends the IDLE with BAD. The session's idle timer (at least 30 minutes, which
 * RFC 2177 §3 asks clients to stay under) still ends a silent connection.
 */
export const idle: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.end()
    const { connection } = session
    await session.send('+ idling\r\n')
    await session.reportUpdates(true)
    await session.flush()
    const line = connection.reader.readLine(MAX_IDLE_LINE_OCTETS).catch((error: unknown) => error)
    let onShutdown = () => {}
    const shutdown = new Promise<'shutdown'>((resolve) => {
      onShutdown = () => resolve('shutdown')
      if (connection.shutdownSignal.aborted) resolve('shutdown')
    })
    connection.shutdownSignal.addEventListener('abort', onShutdown)
    try {
      await idleUntilDone(session, tag, line, shutdown)
    } finally {
      connection.shutdownSignal.removeEventListener('abort', onShutdown)
    }
  },
}

async function idleUntilDone(
  session: Parameters<ImapCommandEntry['handle']>[0],
  tag: string,
  line: Promise<unknown>,
  shutdown: Promise<'shutdown'>,
): Promise<void> {
  const selected = session.selected
  for (;;) {
    const changed = new Promise<'changed'>((resolve) => {
      if (selected === null) return
      selected.onChange = () => resolve('changed')
      if (selected.hasPendingChanges) resolve('changed')
    })
    const outcome = await Promise.race([line, changed, shutdown])
    if (selected !== null) selected.onChange = null
    if (outcome === 'changed') {
      await session.reportUpdates(true)
      await session.flush()
      if (session.isClosing) return // the selected mailbox was deleted: BYE went out
      continue
    }
    if (outcome === 'shutdown') {
      await session.untagged('BYE Server shutting down')
      session.isClosing = true
      return
    }
    if (outcome instanceof Error && !(outcome instanceof LineTooLongError)) throw outcome
    if (outcome instanceof LineTooLongError) {
      await session.tagged(tag, 'BAD', 'Expected DONE to end IDLE')
      return
    }
    if (outcome === null) {
      session.isClosing = true // the client went away
      return
    }
    const text = (outcome as { bytes: Buffer }).bytes.toString('latin1')
    if (text.toUpperCase() === 'DONE') await session.tagged(tag, 'OK', 'IDLE terminated')
    else await session.tagged(tag, 'BAD', 'Expected DONE to end IDLE')
    return
  }
}
