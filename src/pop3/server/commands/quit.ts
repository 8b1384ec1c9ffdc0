import { ok } from '../../proto/index.ts'
import { ANY_STATE, type Pop3CommandEntry } from '../command.ts'
import { openMaildrop } from './maildrop-of.ts'

/**
 * QUIT (RFC 1939 §6). After login it enters the UPDATE state: the marked messages (and with
 * EXPIRE 0 every message retrieved) are removed in one transaction, or, if that fails, none is
 * and the answer says so. Either way the session ends and the lock goes.
 */
export const quit: Pop3CommandEntry = {
  states: ANY_STATE,
  async handle(session) {
    session.isClosing = true
    const { hostname, config } = session.deps
    if (session.state === 'authorization') {
      await session.send(ok(`${hostname} POP3 server signing off`))
      return
    }
    const maildrop = openMaildrop(session)
    let removed: number | null
    try {
      removed = await maildrop.commit({ removeRetrieved: config.expire === 0 })
    } catch (error) {
      await session.releaseMaildrop()
      session.log.error({ err: error }, 'POP3 UPDATE failed; no message was removed')
      await session.fail('No message was removed, the store failed; try again', 'SYS/TEMP')
      return
    }
    // Released before the answer, so a client that logs in again at once is not [IN-USE].
    await session.releaseMaildrop()
    if (removed === null) {
      session.log.warn({}, 'POP3 UPDATE skipped: the maildrop lock was lost')
      await session.fail(
        'No message was removed: another session took over the maildrop',
        'SYS/TEMP',
      )
      return
    }
    // What is there now, deliveries since login included: what the next session will see.
    // The removal is done; a store that fails now only loses the count from the goodbye.
    const left = await session.deps.store
      .getMailboxStatus(maildrop.mailbox.id)
      .then((status) => status.messages)
      .catch(() => null)
    session.log.info({ removed, left }, 'POP3 session ended')
    const count = left === null ? '' : ` (${left} messages left)`
    await session.send(ok(`${hostname} POP3 server signing off${count}`))
  },
}
