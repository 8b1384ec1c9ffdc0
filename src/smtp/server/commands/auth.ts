import { setTimeout as sleep } from 'node:timers/promises'
import {
  createSaslExchange,
  malformedResponseText,
  runSaslExchange,
  type SaslStep,
} from '../../../auth/index.ts'
import { throttleKey } from '../../../directory/index.ts'
import { MAX_AUTH_LINE_OCTETS } from '../../proto/index.ts'
import type { CommandHandler } from '../command.ts'
import type { SmtpSession } from '../session.ts'

/**
 * AUTH (RFC 4954) on the submission listeners, once TLS is on. Challenges go out as "334
 * base64", "*" cancels, and a final server message (SCRAM's signature) is sent as one more 334
 * that the client answers with an empty line (§4). Failures are throttled per IP and account.
 */
export const auth: CommandHandler<'AUTH'> = async (session, command) => {
  const { deps, connection } = session
  if (deps.mode !== 'submission') {
    session.reply(503, '5.5.1', 'AUTH is only offered on the submission ports')
    return
  }
  if (session.helo === null || !session.isEsmtp) {
    session.reply(503, '5.5.1', 'Send EHLO first')
    return
  }
  if (!session.isTls) {
    session.reply(538, '5.7.11', 'Encryption required: send STARTTLS first')
    return
  }
  if (session.login !== null) {
    session.reply(503, '5.5.1', 'Already authenticated')
    return
  }
  if (session.transaction !== null) {
    session.reply(503, '5.5.1', 'AUTH is not allowed during a mail transaction')
    return
  }
  const ip = connection.remoteAddress
  const gate = deps.throttle.check(ip, null)
  if (!gate.isAllowed) {
    session.reply(454, '4.7.0', 'Too many authentication failures, try again later')
    return
  }
  const exchange = createSaslExchange(command.mechanism, deps.directory.credentialStore())
  if (exchange === null) {
    session.reply(504, '5.5.4', `Mechanism ${command.mechanism} is not supported`)
    return
  }
  const outcome = await runSaslExchange(exchange, command.initialResponse, {
    challenge: async (data) => {
      session.reply(334, null, data.toString('base64'))
      return readResponse(session)
    },
  })
  switch (outcome.kind) {
    case 'failure':
      await fail(session, outcome.step)
      return
    case 'closed':
      session.isClosing = true
      return
    case 'cancelled':
      session.reply(501, '5.0.0', 'Authentication cancelled')
      return
    case 'malformed':
      session.reply(501, '5.5.2', malformedResponseText(outcome))
      return
  }
  const login = outcome.login
  const account = await deps.store.getAccount(login)
  const locked = deps.throttle.check(ip, login)
  if (account === null || !locked.isAllowed) {
    // A locked account answers a right password exactly as a wrong one (the same 535 after the
    // same growing delay), so guessing from many addresses cannot learn when it has hit.
    session.log.warn({ login, ip }, 'authentication refused: account locked')
    await fail(session, {
      kind: 'failure',
      reason: 'credentials',
      message: 'Invalid credentials',
      attemptedLogin: login,
    })
    return
  }
  deps.throttle.recordSuccess(login)
  session.login = account
  session.log.info({ login: account.address, mechanism: exchange.mechanism }, 'authenticated')
  session.reply(235, '2.7.0', 'Authentication successful')
}

async function fail(session: SmtpSession, step: Extract<SaslStep, { kind: 'failure' }>) {
  const ip = session.connection.remoteAddress
  const key = step.attemptedLogin === null ? null : throttleKey(step.attemptedLogin)
  const delayMs = session.deps.throttle.recordFailure(ip, key)
  session.log.info(
    { login: step.attemptedLogin, reason: step.reason, delayMs, ip },
    'authentication failed',
  )
  if (delayMs > 0) await sleep(delayMs)
  if (step.reason === 'malformed') session.reply(501, '5.5.2', step.message)
  else session.reply(535, '5.7.8', 'Authentication credentials invalid')
}

/** The client's next SASL line as sent, null when the connection closed. */
async function readResponse(session: SmtpSession): Promise<string | null> {
  await session.flush()
  const { connection } = session
  const line = await connection.withinDeadline(session.deps.config.timeoutMs, () =>
    connection.reader.readLine(MAX_AUTH_LINE_OCTETS),
  )
  return line === null ? null : line.bytes.toString('latin1')
}
