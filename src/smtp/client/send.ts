import { type Reply, reply } from '../proto/index.ts'
import type { SmtpCapabilities } from './capabilities.ts'
import { DotStuffer } from './dot-stuffer.ts'
import {
  type MessageSource,
  mailCommand,
  rcptCommand,
  type SendEnvelope,
  type SendResult,
} from './envelope.ts'
import { SmtpClientError } from './errors.ts'
import type { SmtpTimeouts } from './options.ts'
import type { SmtpTransport } from './transport.ts'

interface Transaction {
  transport: SmtpTransport
  capabilities: SmtpCapabilities
  timeouts: SmtpTimeouts
}

/** One mail transaction (RFC 5321 §3.3): MAIL, RCPT for each recipient, then DATA or BDAT. */
export async function sendMessage(
  transaction: Transaction,
  envelope: SendEnvelope,
  message: MessageSource,
): Promise<SendResult> {
  const { capabilities } = transaction
  if (envelope.recipients.length === 0) throw new TypeError('A message needs a recipient')
  const limit = capabilities.size
  // RFC 1870 §6: a message larger than the server's fixed maximum is not offered at all.
  if (limit !== null && limit > 0 && message.size > limit) {
    const refusal = reply(
      552,
      '5.3.4',
      `Message size ${message.size} exceeds the peer's fixed limit of ${limit} octets`,
    )
    return { mail: refusal, recipients: envelope.recipients.map(() => refusal), data: null }
  }
  // Built before anything is written: a bad address throws with the connection untouched.
  const mail = mailCommand(envelope, message.size, capabilities)
  const rcpts = envelope.recipients.map((recipient) => rcptCommand(recipient, capabilities))
  return capabilities.pipelining
    ? pipelined(transaction, mail, rcpts, message)
    : lockstep(transaction, mail, rcpts, message)
}

/**
 * RFC 2920 §3.1: MAIL, every RCPT and DATA go out as one group (DATA may end a group), and the
 * replies are read in order. BDAT waits for the RCPT replies instead, so a message nobody
 * accepted is never sent (RFC 3030 §4.2 would allow it in the group).
 */
async function pipelined(
  transaction: Transaction,
  mailLine: string,
  rcptLines: string[],
  message: MessageSource,
): Promise<SendResult> {
  const { transport, capabilities, timeouts } = transaction
  const useBdat = capabilities.chunking
  await transport.write(
    `${mailLine}${rcptLines.join('')}${useBdat ? '' : 'DATA\r\n'}`,
    'MAIL',
    timeouts.mail,
  )
  const mail = await transport.readReply('MAIL', timeouts.mail)
  if (mail.code === 421) return mailFailed(mail, rcptLines.length)
  const recipients: Reply[] = []
  for (let i = 0; i < rcptLines.length; i += 1) {
    const answer = await transport.readReply('RCPT', timeouts.rcpt)
    recipients.push(answer)
    if (answer.code === 421) return closedDuring(mail, recipients, rcptLines.length, answer)
  }
  const dataInit = useBdat ? null : await transport.readReply('DATA', timeouts.dataInit)
  if (dataInit?.code === 421) return closedDuring(mail, recipients, rcptLines.length, dataInit)
  const isMailAccepted = isCompletion(mail)
  const isAnyAccepted = recipients.some(isCompletion)
  if (!isMailAccepted || !isAnyAccepted) {
    // RFC 2920 §3.1: a server that still answers DATA with 354 gets an empty message, a lone
    // dot, which it must refuse for want of recipients.
    if (dataInit?.code === 354) await ignoring(transport, '.\r\n', 'DATA', timeouts.dataEnd)
    // A transaction may be open (MAIL accepted; or a server that took RCPT after a refused
    // MAIL): RSET closes it, so the connection can carry the next message.
    if (isMailAccepted || isAnyAccepted)
      await ignoring(transport, 'RSET\r\n', 'RSET', timeouts.command)
    return isMailAccepted ? { mail, recipients, data: null } : mailFailed(mail, rcptLines.length)
  }
  if (useBdat) return { mail, recipients, data: await sendBdat(transaction, message) }
  if (dataInit === null || dataInit.code !== 354) return { mail, recipients, data: dataInit }
  return { mail, recipients, data: await sendData(transaction, message) }
}

/** Without PIPELINING: one command, then its reply (RFC 5321 §4.3.1). */
async function lockstep(
  transaction: Transaction,
  mailLine: string,
  rcptLines: string[],
  message: MessageSource,
): Promise<SendResult> {
  const { transport, capabilities, timeouts } = transaction
  await transport.write(mailLine, 'MAIL', timeouts.mail)
  const mail = await transport.readReply('MAIL', timeouts.mail)
  if (!isCompletion(mail)) return mailFailed(mail, rcptLines.length)
  const recipients: Reply[] = []
  for (const line of rcptLines) {
    await transport.write(line, 'RCPT', timeouts.rcpt)
    const answer = await transport.readReply('RCPT', timeouts.rcpt)
    recipients.push(answer)
    if (answer.code === 421) return closedDuring(mail, recipients, rcptLines.length, answer)
  }
  if (!recipients.some(isCompletion)) {
    await ignoring(transport, 'RSET\r\n', 'RSET', timeouts.command)
    return { mail, recipients, data: null }
  }
  if (capabilities.chunking) return { mail, recipients, data: await sendBdat(transaction, message) }
  await transport.write('DATA\r\n', 'DATA', timeouts.dataInit)
  const dataInit = await transport.readReply('DATA', timeouts.dataInit)
  if (dataInit.code !== 354) return { mail, recipients, data: dataInit }
  return { mail, recipients, data: await sendData(transaction, message) }
}

/**
 * DATA's body (RFC 5321 §4.1.1.4) after the 354: dot-stuffed as it streams (§4.5.2), a CRLF
 * added if the message lacks its last one, then the lone dot.
 */
async function sendData(transaction: Transaction, message: MessageSource): Promise<Reply> {
  const { transport, timeouts } = transaction
  const stuffer = new DotStuffer()
  await streamBody(transport, 'DATA', message, async (chunk) => {
    const stuffed = stuffer.push(chunk)
    if (stuffed.length > 0) await transport.write(stuffed, 'DATA', timeouts.dataBlock)
  })
  await transport.write(stuffer.end(), 'DATA', timeouts.dataBlock)
  return transport.readReply('DATA', timeouts.dataEnd)
}

/** RFC 3030 §2: the whole message as one last chunk, its octets exactly as they are. */
async function sendBdat(transaction: Transaction, message: MessageSource): Promise<Reply> {
  const { transport, timeouts } = transaction
  await transport.write(`BDAT ${message.size} LAST\r\n`, 'BDAT', timeouts.dataBlock)
  let sent = 0
  await streamBody(transport, 'BDAT', message, async (chunk) => {
    sent += chunk.length
    // The peer counts octets: one more or less than announced would misframe what follows.
    if (sent > message.size) throw sizeMismatch(message.size, 'more')
    await transport.write(chunk, 'BDAT', timeouts.dataBlock)
  })
  if (sent !== message.size) {
    transport.fail(new SmtpClientError('closed', 'BDAT', 'The message source fell short'))
    throw sizeMismatch(message.size, 'fewer')
  }
  return transport.readReply('BDAT', timeouts.dataEnd)
}

/**
 * Feeds the message's chunks to `write`. If the source fails, the connection is dropped: ending
 * the DATA or BDAT normally would have the peer accept a truncated message.
 */
async function streamBody(
  transport: SmtpTransport,
  phase: string,
  message: MessageSource,
  write: (chunk: Buffer) => Promise<void>,
): Promise<void> {
  try {
    for await (const chunk of message.chunks()) {
      if (chunk.length > 0) await write(chunk)
    }
  } catch (error) {
    if (!(error instanceof SmtpClientError)) {
      transport.fail(new SmtpClientError('closed', phase, 'The message source failed mid-message'))
    }
    throw error
  }
}

function sizeMismatch(size: number, which: 'more' | 'fewer'): RangeError {
  return new RangeError(`The message source yielded ${which} octets than its size, ${size}`)
}

/** Sends a command whose reply does not matter; the connection's fate shows in isUsable. */
async function ignoring(
  transport: SmtpTransport,
  line: string,
  phase: string,
  timeoutMs: number,
): Promise<void> {
  try {
    await transport.write(line, phase, timeoutMs)
    await transport.readReply(phase, timeoutMs)
  } catch (error) {
    if (!(error instanceof SmtpClientError)) throw error
  }
}

/** MAIL was refused: no transaction, and each recipient gets MAIL's reply. */
function mailFailed(mail: Reply, count: number): SendResult {
  return { mail, recipients: Array.from({ length: count }, () => mail), data: null }
}

/**
 * A 421 ended the session mid-transaction: the recipients not answered yet get it, and so does
 * the message, unless nothing had been accepted for it to be refused for.
 */
function closedDuring(mail: Reply, answered: Reply[], count: number, closing: Reply): SendResult {
  if (!isCompletion(mail)) return mailFailed(mail, count)
  const recipients = [...answered]
  while (recipients.length < count) recipients.push(closing)
  const isAnyAccepted = answered.some(isCompletion)
  return { mail, recipients, data: isAnyAccepted ? closing : null }
}

function isCompletion(answer: Reply): boolean {
  return answer.code >= 200 && answer.code < 300
}
