import type { Envelope } from '../../delivery/index.ts'
import type { BodyCheck } from '../proto/index.ts'
import { receivedHeader } from './received-header.ts'
import type { SmtpSession } from './session.ts'
import { checkSubmission } from './submission-headers.ts'

/**
 * The end of DATA or of the last BDAT: checks the body, commits the message for every
 * recipient, and only then says 250 (DESIGN.md invariant 1). Any failure to commit is a 451:
 * the client keeps the message and tries again. The transaction is over either way.
 */
export async function acceptMessage(
  session: SmtpSession,
  body: BodyCheck,
  readMessage: () => Buffer,
): Promise<void> {
  const { deps } = session
  const transaction = session.transaction
  session.transaction = null
  if (transaction === null) return
  const refusal = session.checkBody(body)
  if (refusal !== null) {
    session.log.info({ size: body.size, reason: refusal.lines[0] }, 'message refused')
    session.send(refusal)
    return
  }
  const message = readMessage()
  let added = ''
  if (deps.mode === 'submission' && session.login !== null) {
    const checked = await checkSubmission(message, session.login, deps.directory, deps.hostname)
    if ('code' in checked) {
      session.log.info(
        { login: session.login.address, reason: checked.lines[0] },
        'message refused',
      )
      session.send(checked)
      return
    }
    added = checked.added
    // RFC 6376 §5: signed as it leaves the submission server, over what submission added too;
    // a domain without an active key, or a signing problem (logged), leaves it unsigned.
    if (deps.signer) {
      const signed = Buffer.concat([Buffer.from(added, 'utf8'), message])
      added = (await deps.signer.sign(signed, checked.fromDomain)) + added
    }
  }
  session.messageCount += 1
  const id = `${session.connection.id}.${session.messageCount}`
  const recipients = transaction.recipients
  let stored = message
  let authResults = ''
  let quarantine: Set<string> | undefined
  let forwardHead = ''
  if (deps.mode === 'mx' && deps.inbound) {
    // A local alias that sends the message on to a remote address: that copy is ARC-sealed.
    const forwarding = recipients.find((recipient) =>
      recipient.remote.some((target) => target !== recipient.address),
    )
    let verdict: Awaited<ReturnType<typeof deps.inbound.verify>>
    try {
      verdict = await deps.inbound.verify({
        message,
        ip: session.connection.remoteAddress,
        helo: session.helo ?? '',
        sender: transaction.sender,
        recipientDomains: recipients.map((recipient) => domainOf(recipient.address)),
        sealDomain: forwarding === undefined ? null : domainOf(forwarding.address),
      })
    } catch (error) {
      // A bug in the checks must not lose the message: the client keeps it and tries again.
      session.log.error({ err: error, id }, 'mail authentication failed; the client will retry')
      session.reply(451, '4.3.0', 'Temporary failure checking the message, try again later')
      return
    }
    session.log.info(
      { id, from: transaction.sender, ...verdict.summary, quarantine: [...verdict.quarantine] },
      'mail authentication',
    )
    if (verdict.reply !== null) {
      session.reply(verdict.reply.code, verdict.reply.status, verdict.reply.text)
      return
    }
    stored = verdict.message
    authResults = verdict.authResults
    forwardHead = verdict.arcHeaders
    quarantine = new Set(
      recipients
        .filter((recipient) => verdict.quarantine.has(domainOf(recipient.address)))
        .map((recipient) => recipient.address),
    )
  }
  const received = receivedHeader({
    helo: session.helo ?? 'unknown',
    isEsmtp: session.isEsmtp,
    remoteAddress: session.connection.remoteAddress,
    hostname: deps.hostname,
    tls: session.connection.tlsInfo,
    isAuthenticated: session.login !== null,
    smtputf8: transaction.params.smtputf8,
    id,
    recipient: recipients.length === 1 ? (recipients[0]?.address ?? null) : null,
    date: new Date(),
  })
  const envelope: Envelope = {
    sender: transaction.sender,
    recipients,
    body: transaction.params.body,
    smtputf8: transaction.params.smtputf8,
    envelopeId: transaction.params.envelopeId,
    ret: transaction.params.ret,
    submittedBy: session.login?.id ?? null,
    quarantine,
    forwardHead,
  }
  try {
    // RFC 8601 §5: Authentication-Results goes above the trace fields, our Received included.
    const head = authResults + received + added
    const outcome = await deps.delivery.deliver(envelope, head, stored)
    session.log.info(
      {
        id,
        from: envelope.sender,
        to: recipients.map((recipient) => recipient.address),
        size: Buffer.byteLength(head) + stored.length,
        stored: outcome.stored,
        queueId: outcome.queueId,
      },
      'message accepted',
    )
    session.reply(250, '2.0.0', `Ok: queued as ${id}`)
  } catch (error) {
    session.log.error({ err: error, id }, 'delivery failed; the client will retry')
    session.reply(451, '4.3.0', 'Temporary failure storing the message, try again later')
  }
}

/** The domain of a forward-path, lower case (the policy table is keyed so). */
function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase()
}
