import {
  ConflictError,
  InvalidNameError,
  type Mailbox,
  NotFoundError,
  QuotaExceededError,
} from '../../store/index.ts'
import type { ImapSession } from './session.ts'

/**
 * Answers a store error that is the client's to know about with NO and the RFC 5530 code that
 * tells a client what went wrong; returns false for any other error (the session's generic
 * "[UNAVAILABLE]" path logs it). The store's messages are written for people and name only what
 * the client gave, so they are passed on.
 */
export async function answerStoreError(
  session: ImapSession,
  tag: string,
  error: unknown,
  codes: { notFound?: string; conflict?: string } = {},
): Promise<boolean> {
  let code: string
  if (error instanceof NotFoundError) code = codes.notFound ?? 'NONEXISTENT'
  else if (error instanceof ConflictError) code = codes.conflict ?? 'ALREADYEXISTS'
  else if (error instanceof InvalidNameError) code = 'CANNOT'
  else if (error instanceof QuotaExceededError)
    code = 'OVERQUOTA' // RFC 9208 §4.1
  else return false
  await session.tagged(tag, 'NO', `[${code}] ${oneLine(error.message)}`)
  return true
}

/**
 * A response text stays on one line whatever a message held, and holds no control character
 * (RFC 9051 §9: TEXT-CHAR excludes CTL octets; a store message may quote a name that had one).
 */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return text.replace(/[\r\n]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '?')
}

/** Runs `action`, answering the client's store errors as answerStoreError does. */
export async function withStoreErrors(
  session: ImapSession,
  tag: string,
  action: () => Promise<void>,
  codes?: { notFound?: string; conflict?: string },
): Promise<void> {
  try {
    await action()
  } catch (error) {
    if (!(await answerStoreError(session, tag, error, codes))) throw error
  }
}

/**
 * The logged-in account's mailbox of that name, or null once NO [NONEXISTENT] (RFC 5530) has
 * been answered; a null name (one no mailbox can have) is answered the same way.
 */
export async function mailboxNamed(
  session: ImapSession,
  tag: string,
  name: string | null,
): Promise<Mailbox | null> {
  const account = session.account
  if (account === null) throw new Error('a mailbox command without an account')
  const mailbox = name === null ? null : await session.deps.store.getMailbox(account.id, name)
  if (mailbox === null) await session.tagged(tag, 'NO', '[NONEXISTENT] No such mailbox')
  return mailbox
}
