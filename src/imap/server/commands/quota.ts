import { InvalidNameError, type QuotaUsage } from '../../../store/index.ts'
import { formatString, ParseError } from '../../proto/index.ts'
import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'
import { mailboxNamed } from '../mailbox-errors.ts'
import { readMailboxNameOrError, wireName } from '../mailbox-name.ts'

/**
 * Every mailbox of an account shares one quota root, "" (RFC 9208 §3.2): the account's limits on
 * storage and on messages (src/store QuotaLimits), which the operator sets (`postern user`).
 */
const ROOT = '""'

/**
 * "(STORAGE used limit MESSAGE used limit)" (RFC 9208 §5.1) for the resources that have a limit;
 * STORAGE is in units of 1024 octets, rounded up.
 */
function formatQuota(usage: QuotaUsage): string {
  const resources: string[] = []
  if (usage.storage.limit !== null) {
    const used = Math.ceil(usage.storage.used / 1024)
    resources.push(`STORAGE ${used} ${Math.floor(usage.storage.limit / 1024)}`)
  }
  if (usage.messages.limit !== null) {
    resources.push(`MESSAGE ${usage.messages.used} ${usage.messages.limit}`)
  }
  return `QUOTA ${ROOT} (${resources.join(' ')})`
}

/** GETQUOTAROOT mailbox (RFC 9208 §4.3): the mailbox's root, then that root's QUOTA. */
export const getquotaroot: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    const account = session.account
    if (account === null) throw new Error('GETQUOTAROOT without an account')
    reader.space()
    const name = readMailboxNameOrError(reader, session.utf8)
    reader.end()
    // A name no mailbox can have names none, as in SELECT and STATUS.
    const mailbox = await mailboxNamed(session, tag, name instanceof InvalidNameError ? null : name)
    if (mailbox === null) return
    const usage = await session.deps.store.getQuotaUsage(account.id)
    await session.untagged(
      `QUOTAROOT ${formatString(wireName(mailbox.name, session.utf8))} ${ROOT}`,
    )
    await session.untagged(formatQuota(usage))
    await session.tagged(tag, 'OK', 'GETQUOTAROOT completed')
  },
}

/** GETQUOTA root (RFC 9208 §4.2): only "" exists. */
export const getquota: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    const account = session.account
    if (account === null) throw new Error('GETQUOTA without an account')
    reader.space()
    const root = reader.astring().toString('utf8')
    reader.end()
    if (root !== '') {
      await session.tagged(tag, 'NO', '[NONEXISTENT] No such quota root')
      return
    }
    await session.untagged(formatQuota(await session.deps.store.getQuotaUsage(account.id)))
    await session.tagged(tag, 'OK', 'GETQUOTA completed')
  },
}

/**
 * SETQUOTA (RFC 9208 §4.1): limits are the operator's to set, not the user's; the command is
 * parsed (so a malformed one is still BAD) and refused with NO [NOPERM].
 */
export const setquota: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.space()
    reader.astring()
    reader.space()
    reader.list((item) => {
      const resource = item.atom()
      item.space()
      const limit = item.number64()
      if (resource === '') throw new ParseError('expected a resource name')
      return limit
    })
    reader.end()
    await session.tagged(tag, 'NO', '[NOPERM] Quotas are set by the server administrator')
  },
}
