// One submission attempt (RFC 6409) to the configured server: connect (implicit TLS, or STARTTLS
// which must then be offered), EHLO, AUTH when credentials are set, one transaction. The result
// sorts the recipients into accepted, "try again later" (a 4xx, an unreachable server, a lost
// connection) and "refused" (a 5xx), which is what the spool needs to decide.
import { isIP } from 'node:net'
import {
  describeReply,
  type SendEnvelope,
  SmtpClient,
  SmtpClientError,
} from '../../smtp/client/index.ts'
import type { SubmissionSettings } from '../config.ts'

export interface SubmitRequest {
  sender: string
  recipients: readonly string[]
  notify?: Array<'success' | 'failure' | 'delay'> | null
  ret?: 'full' | 'hdrs' | null
  envelopeId?: string | null
}

export interface RecipientProblem {
  recipient: string
  reason: string
}

export interface SubmitOutcome {
  accepted: string[]
  /** To try again later. */
  temporary: RecipientProblem[]
  /** Refused for good; the message is set aside for these. */
  permanent: RecipientProblem[]
}

/** Says what happens, for -v. */
export type Narrator = (line: string) => void

/** Submits once; never throws for a server or network problem, only sorts the recipients. */
export async function submitMessage(
  settings: SubmissionSettings,
  request: SubmitRequest,
  message: Buffer,
  narrate: Narrator = () => {},
): Promise<SubmitOutcome> {
  const everyone = (reason: string, isPermanent: boolean): SubmitOutcome => {
    const problems = request.recipients.map((recipient) => ({ recipient, reason }))
    return isPermanent
      ? { accepted: [], temporary: [], permanent: problems }
      : { accepted: [], temporary: problems, permanent: [] }
  }
  let client: SmtpClient | null = null
  try {
    narrate(`connecting to ${settings.host}:${settings.port} (${settings.security})`)
    const tls = settings.ca === null ? {} : { ca: settings.ca }
    client = await SmtpClient.connect({
      host: settings.host,
      port: settings.port,
      implicitTls: settings.security === 'tls',
      tls,
      timeouts: { connect: settings.timeoutMs, greeting: settings.timeoutMs },
    })
    narrate(`<- ${describeReply(client.greeting)}`)
    let capabilities = await client.hello(settings.helo)
    if (settings.security === 'starttls') {
      if (!capabilities.startTls) {
        // Sending on in clear text would hand the password and the message to anyone on the
        // path; a server that stops offering STARTTLS may be under attack, so try again later.
        return everyone(
          `${settings.host} does not offer STARTTLS; not sending in clear text`,
          false,
        )
      }
      await client.startTls()
      narrate('TLS started')
      capabilities = await client.hello(settings.helo)
    }
    if (settings.user !== null) {
      if (settings.password === null) {
        return everyone(`no password for ${settings.user}: set it in the config file`, false)
      }
      if (!client.isSecure && !isLoopback(settings.host)) {
        return everyone('not sending a password over a connection without TLS', false)
      }
      await client.authenticate(settings.user, settings.password)
      narrate(`authenticated as ${settings.user}`)
    }
    const envelope: SendEnvelope = {
      sender: request.sender,
      recipients: request.recipients.map((address) => ({
        address,
        notify: request.notify ?? null,
      })),
      body: hasEightBit(message) ? '8bitmime' : '7bit',
      // RFC 6531 §3.4: an address with non-ASCII characters needs SMTPUTF8.
      smtputf8: [request.sender, ...request.recipients].some(
        (address) => Buffer.byteLength(address) !== address.length,
      ),
      ret: request.ret ?? null,
      envelopeId: request.envelopeId ?? null,
    }
    const result = await client.send(envelope, {
      size: message.length,
      async *chunks() {
        yield message
      },
    })
    narrate(`MAIL: ${describeReply(result.mail)}`)
    const outcome: SubmitOutcome = { accepted: [], temporary: [], permanent: [] }
    request.recipients.forEach((recipient, index) => {
      const reply = result.recipients[index] ?? result.mail
      narrate(`RCPT ${recipient}: ${describeReply(reply)}`)
      if (reply.code >= 200 && reply.code < 300) {
        outcome.accepted.push(recipient)
      } else {
        const problem = { recipient, reason: describeReply(reply) }
        if (reply.code >= 500) outcome.permanent.push(problem)
        else outcome.temporary.push(problem)
      }
    })
    if (outcome.accepted.length > 0) {
      const data = result.data
      if (data === null || data.code < 200 || data.code >= 300) {
        const reason = data === null ? 'the message was not accepted' : describeReply(data)
        if (data !== null) narrate(`DATA: ${reason}`)
        const isPermanent = data !== null && data.code >= 500
        const moved = outcome.accepted.map((recipient) => ({ recipient, reason }))
        outcome.accepted = []
        if (isPermanent) outcome.permanent.push(...moved)
        else outcome.temporary.push(...moved)
      } else {
        narrate(`DATA: ${describeReply(data)}`)
      }
    }
    return outcome
  } catch (error) {
    if (!(error instanceof SmtpClientError)) throw error
    narrate(`failed: ${error.message}`)
    // A 5xx to AUTH is about the credentials, not the message: keep it for after the fix.
    const isPermanent = error.reply !== null && error.reply.code >= 500 && error.phase !== 'AUTH'
    const reason =
      error.phase === 'AUTH' && error.reply !== null
        ? `authentication failed: ${describeReply(error.reply)}`
        : error.message
    return everyone(reason, isPermanent)
  } finally {
    await client?.quit()
  }
}

function hasEightBit(message: Buffer): boolean {
  for (const octet of message) if (octet > 0x7f) return true
  return false
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}
