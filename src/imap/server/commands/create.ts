import {
  type AccountId,
  ConflictError,
  checkMailboxName,
  type MailboxRole,
} from '../../../store/index.ts'
import { type CommandReader, ParseError } from '../../proto/index.ts'
import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'
import { ROLE_BY_USE } from '../list.ts'
import { answerStoreError } from '../mailbox-errors.ts'
import { decodeWireName, HIERARCHY_DELIMITER } from '../mailbox-name.ts'
import type { ImapSession } from '../session.ts'

/** What a create-param list asked for: the special uses of RFC 6154 §3, as written. */
type CreateParams = { uses: string[] }

/**
 * CREATE mailbox [SP "(" create-param *(SP create-param) ")"] (RFC 9051 §6.3.4, RFC 4466 §2.2).
 * A trailing delimiter only declares that children will follow, and is dropped; missing parents
 * are created with the mailbox (the store does both in one go). The one parameter is RFC 6154
 * §3 USE: a mailbox may take one special use that no other mailbox has; \All and \Flagged
 * (virtual mailboxes) and unknown uses are refused with USEATTR.
 */
export const create: ImapCommandEntry = {
  states: AUTHENTICATED,
  async handle(session, { tag, reader }) {
    reader.space()
    const octets = reader.astring()
    const params: CreateParams = { uses: [] }
    if (reader.take(' ')) reader.list((item) => readCreateParam(item, params))
    reader.end()
    const account = session.account
    if (account === null) throw new Error('CREATE without an account')
    let name = decodeWireName(octets, session.utf8)
    if (name.endsWith(HIERARCHY_DELIMITER)) name = name.slice(0, -1)
    let role: MailboxRole | undefined
    if (params.uses.length > 0) {
      const roles = params.uses.map((use) => ROLE_BY_USE.get(use.toLowerCase()))
      const [only] = roles
      if (roles.length > 1 || only === undefined) {
        await session.tagged(
          tag,
          'NO',
          '[USEATTR] A mailbox takes one of \\Sent \\Drafts \\Trash \\Junk \\Archive',
        )
        return
      }
      role = only
    }
    try {
      const canonical = checkMailboxName(name)
      await session.deps.store.createMailbox(
        account.id,
        canonical,
        role === undefined ? {} : { role },
      )
    } catch (error) {
      if (error instanceof ConflictError) {
        await answerConflict(session, tag, account.id, name, role)
        return
      }
      if (await answerStoreError(session, tag, error)) return
      throw error
    }
    await session.tagged(tag, 'OK', 'CREATE completed')
  },
}

/** create-param = "USE" SP "(" [use-attr *(SP use-attr)] ")" (RFC 6154 §6). */
function readCreateParam(reader: CommandReader, params: CreateParams): void {
  const name = reader.keyword()
  if (name !== 'USE') throw new ParseError(`unknown CREATE parameter ${name}`)
  reader.space()
  params.uses.push(...reader.list(readUseAttr))
}

/** use-attr: a flag-like "\" atom. */
function readUseAttr(reader: CommandReader): string {
  reader.expect('\\', 'a special-use attribute')
  return `\\${reader.atom()}`
}

/**
 * The store refuses with ConflictError for three reasons; the response code tells them apart
 * (RFC 5530 ALREADYEXISTS and LIMIT, RFC 6154 §3 USEATTR for a special use already taken).
 */
async function answerConflict(
  session: ImapSession,
  tag: string,
  accountId: AccountId,
  name: string,
  role: MailboxRole | undefined,
): Promise<void> {
  const { store } = session.deps
  if ((await store.getMailbox(accountId, name)) !== null) {
    await session.tagged(tag, 'NO', '[ALREADYEXISTS] Mailbox already exists')
    return
  }
  const mailboxes = await store.listMailboxes(accountId)
  if (role !== undefined && mailboxes.some((mailbox) => mailbox.role === role)) {
    await session.tagged(tag, 'NO', '[USEATTR] Another mailbox has that special use')
    return
  }
  await session.tagged(tag, 'NO', '[LIMIT] Too many mailboxes')
}
