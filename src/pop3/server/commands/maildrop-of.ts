import { parseMessageNumber } from '../../proto/index.ts'
import type { Maildrop, MaildropMessage } from '../maildrop.ts'
import type { Pop3Session } from '../session.ts'

/** The session's maildrop; TRANSACTION-state commands run only with one. */
export function openMaildrop(session: Pop3Session): Maildrop {
  const maildrop = session.maildrop
  if (maildrop === null) throw new Error('A TRANSACTION command ran without a maildrop')
  return maildrop
}

/**
 * The message a command's argument names, or null once the error is answered: not a number,
 * no such message, or one marked deleted (RFC 1939 §5: those may not be referred to).
 */
export async function messageArgument(
  session: Pop3Session,
  arg: string | undefined,
): Promise<{ n: number; message: MaildropMessage } | null> {
  const n = parseMessageNumber(arg)
  if (n === null) {
    await session.fail('Invalid message number')
    return null
  }
  const maildrop = openMaildrop(session)
  const message = maildrop.message(n)
  if (message === null) {
    await session.fail(
      n <= maildrop.messages.length ? `Message ${n} is deleted` : `No message ${n}`,
    )
    return null
  }
  return { n, message }
}
