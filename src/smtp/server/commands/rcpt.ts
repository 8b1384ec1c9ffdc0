import { type EnvelopeRecipient, isOverQuota } from '../../../delivery/index.ts'
import { MAX_QUEUE_RECIPIENTS } from '../../../store/index.ts'
import { parseRcptParams } from '../../proto/index.ts'
import type { CommandHandler } from '../command.ts'

/**
 * RCPT TO (RFC 5321 §4.1.1.3). A local address is checked now, so an unknown user gets 550 5.1.1
 * here rather than a bounce later. A remote address is relayed only for an authenticated
 * submission client (DESIGN.md invariant 6): the MX listener answers 554 5.7.1. Every classic
 * relay trick (user%remote@local, remote!user@local, "user@remote"@local, @local:user@remote)
 * is either a local address that no account has, or a remote one.
 */
export const rcpt: CommandHandler<'RCPT'> = async (session, command) => {
  const { deps } = session
  const transaction = session.transaction
  if (transaction === null) {
    session.reply(503, '5.5.1', 'Send MAIL first')
    return
  }
  if (transaction.chunks !== null) {
    session.reply(503, '5.5.1', 'RCPT is not allowed after BDAT has begun')
    return
  }
  if (!session.isEsmtp && command.params.trim() !== '') {
    session.reply(555, '5.5.4', 'RCPT parameters need EHLO, not HELO')
    return
  }
  if (transaction.recipients.length >= deps.config.maxRecipients) {
    // RFC 5321 §4.5.3.1.10: 452 tells the client to send the rest in another transaction.
    session.reply(452, '4.5.3', `Too many recipients, at most ${deps.config.maxRecipients}`)
    return
  }
  const params = parseRcptParams(command.params)
  if ('code' in params) {
    session.send(params)
    return
  }
  const { path } = command
  const mailbox = path.mailbox
  if (mailbox === null) {
    session.reply(501, '5.1.3', 'RCPT needs an address')
    return
  }
  if (mailbox.hasNonAscii && !transaction.params.smtputf8) {
    session.reply(553, '5.6.7', 'A non-ASCII recipient address needs SMTPUTF8 in MAIL FROM')
    return
  }
  // RFC 5321 §4.1.1.3: <Postmaster> with no domain means this server's postmaster.
  const address = path.isPostmaster ? `postmaster@${deps.hostname}` : mailbox.text
  // The same recipient again is already accepted; resolving a large alias again would cost as
  // much as the first time, for nothing.
  if (transaction.recipients.some((known) => known.address === address)) {
    session.reply(250, '2.1.5', 'Ok')
    return
  }
  const isLocal = !mailbox.isAddressLiteral && (await deps.directory.isLocalDomain(mailbox.domain))
  let recipient: EnvelopeRecipient
  if (isLocal || path.isPostmaster) {
    const resolution = await deps.directory.resolve(address)
    if (resolution.kind !== 'deliver') {
      session.log.info({ recipient: address, why: resolution.kind }, 'recipient refused')
      session.reply(550, '5.1.1', `<${mailbox.text}>: Recipient address rejected: User unknown`)
      return
    }
    if (resolution.truncated) {
      session.log.warn({ recipient: address }, 'alias expansion reached its bound; truncated')
    }
    if (resolution.remote.length === 0 && (await allMailboxesFull(session, resolution.local))) {
      session.reply(452, '4.2.2', `<${mailbox.text}>: Mailbox full, try again later`)
      return
    }
    recipient = {
      address,
      originalRecipient: params.originalRecipient,
      notify: params.notify,
      local: resolution.local,
      remote: resolution.remote,
    }
  } else {
    if (deps.mode !== 'submission' || session.login === null) {
      session.log.info(
        { recipient: mailbox.text, remote: session.connection.remoteAddress },
        'relay refused',
      )
      session.reply(554, '5.7.1', `<${mailbox.text}>: Relay access denied`)
      return
    }
    recipient = {
      address: mailbox.text,
      originalRecipient: params.originalRecipient,
      notify: params.notify,
      local: [],
      remote: [mailbox.text],
    }
  }
  // One message's remote recipients go into one queue entry, which has a bound: past it the
  // client sends the rest in another transaction (RFC 5321 §4.5.3.1.10).
  const remote = new Set(transaction.recipients.flatMap((known) => known.remote))
  for (const target of recipient.remote) remote.add(target)
  if (remote.size > MAX_QUEUE_RECIPIENTS) {
    session.reply(452, '4.5.3', `Too many recipients to relay to, at most ${MAX_QUEUE_RECIPIENTS}`)
    return
  }
  transaction.recipients.push(recipient)
  session.reply(250, '2.1.5', 'Ok')
}

/** True when every account reached is at its quota already, so no copy could be stored now. */
async function allMailboxesFull(
  session: Parameters<CommandHandler<'RCPT'>>[0],
  local: EnvelopeRecipient['local'],
): Promise<boolean> {
  for (const { account } of local) {
    if (!(await isOverQuota(session.deps.store, account, 1, 1))) return false
  }
  return local.length > 0
}
