import { setTimeout as sleep } from 'node:timers/promises'
import { throttleKey } from '../../directory/index.ts'
import { capabilityText } from './capabilities.ts'
import type { ImapSession } from './session.ts'

/**
 * Whether passwords may be sent here; answers the refusal when not. RFC 9051 §6.2.3 has LOGIN
 * refused under LOGINDISABLED, and RFC 5530 §3 names the reason PRIVACYREQUIRED.
 */
export async function mayUsePassword(session: ImapSession, tag: string): Promise<boolean> {
  if (session.mayAuthenticate) return true
  await session.tagged(tag, 'NO', '[PRIVACYREQUIRED] Logging in needs TLS here, use STARTTLS first')
  return false
}

/**
 * Whether authentication may be tried from this client now; answers the refusal when not. The
 * IP's lock is checked before any password is looked at (src/auth's throttle); RFC 5530 §3
 * UNAVAILABLE is "try again later".
 */
export async function mayTryLogin(session: ImapSession, tag: string): Promise<boolean> {
  const gate = session.deps.throttle.check(session.connection.remoteAddress, null)
  if (gate.isAllowed) return true
  await session.tagged(tag, 'NO', '[UNAVAILABLE] Too many authentication failures, try again later')
  return false
}

/**
 * A wrong password (or user, or a locked account: all answered alike, after the throttle's
 * growing delay, so guessing learns nothing from the answer or its timing). RFC 5530 §3
 * AUTHENTICATIONFAILED.
 */
export async function refuseLogin(
  session: ImapSession,
  tag: string,
  attemptedLogin: string | null,
  reason: string,
): Promise<void> {
  const ip = session.connection.remoteAddress
  const key = attemptedLogin === null ? null : throttleKey(attemptedLogin)
  const delayMs = session.deps.throttle.recordFailure(ip, key)
  session.log.info({ login: attemptedLogin, reason, delayMs, ip }, 'IMAP authentication failed')
  if (delayMs > 0) await sleep(delayMs)
  await session.tagged(tag, 'NO', '[AUTHENTICATIONFAILED] Invalid credentials')
}

/**
 * Credentials were right for `login`: enters the authenticated state (RFC 9051 §3.2) with the
 * new capabilities in the OK (§6.2.2 lets the server send them there so the client need not ask).
 */
export async function completeLogin(
  session: ImapSession,
  tag: string,
  login: string,
  mechanism: string,
  verb: string,
): Promise<void> {
  const { store, throttle } = session.deps
  const account = await store.getAccount(login)
  if (account === null || !throttle.check(session.connection.remoteAddress, login).isAllowed) {
    await refuseLogin(session, tag, login, 'account locked or gone')
    return
  }
  throttle.recordSuccess(login)
  session.enterAuthenticated(account)
  session.log.info({ login: account.address, mechanism }, 'IMAP logged in')
  await session.tagged(tag, 'OK', `[${capabilityText(session)}] ${verb} completed`)
}
