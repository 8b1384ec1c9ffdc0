import { setTimeout as sleep } from 'node:timers/promises'
import { throttleKey } from '../../directory/index.ts'
import { ok } from '../proto/index.ts'
import { Maildrop } from './maildrop.ts'
import type { Pop3Session } from './session.ts'

/** A maildrop lock outlives a node that died holding it by this much. */
const DEFAULT_LOCK_LEASE_MS = 60_000

/**
 * Whether authentication may be tried from this client now; answers the refusal when not. The
 * IP's lock is checked before any password is looked at (src/auth's throttle).
 */
export async function mayTryLogin(session: Pop3Session): Promise<boolean> {
  const gate = session.deps.throttle.check(session.connection.remoteAddress, null)
  if (gate.isAllowed) return true
  await session.fail('Too many authentication failures, try again later', 'SYS/TEMP')
  return false
}

/**
 * A wrong password (or user, or a locked account: all answered alike, after the throttle's
 * growing delay, so guessing learns nothing from the answer or its timing).
 */
export async function refuseLogin(
  session: Pop3Session,
  attemptedLogin: string | null,
  reason: string,
): Promise<void> {
  const ip = session.connection.remoteAddress
  const key = attemptedLogin === null ? null : throttleKey(attemptedLogin)
  const delayMs = session.deps.throttle.recordFailure(ip, key)
  session.log.info({ login: attemptedLogin, reason, delayMs, ip }, 'POP3 authentication failed')
  session.userName = null
  if (delayMs > 0) await sleep(delayMs)
  await session.fail('Invalid login or password', 'AUTH')
}

/**
 * Credentials were right for `login`: opens and locks the maildrop and enters the TRANSACTION
 * state, or answers why not ([IN-USE], [LOGIN-DELAY]) and stays in AUTHORIZATION.
 */
export async function enterMaildrop(
  session: Pop3Session,
  login: string,
  mechanism: string,
): Promise<void> {
  const { store, throttle, config } = session.deps
  const ip = session.connection.remoteAddress
  const account = await store.getAccount(login)
  if (account === null || !throttle.check(ip, login).isAllowed) {
    await refuseLogin(session, login, 'account locked or gone')
    return
  }
  throttle.recordSuccess(login)
  session.userName = null
  const inbox = await store.getMailbox(account.id, 'INBOX')
  if (inbox === null) {
    // Every account is made with one and INBOX cannot be deleted: damage for the operator.
    session.log.error({ login }, 'POP3 login: the account has no INBOX')
    await session.fail('The maildrop does not exist', 'SYS/PERM')
    return
  }
  const maildrop = await Maildrop.open(store, inbox, {
    leaseMs: session.deps.lockLeaseMs ?? DEFAULT_LOCK_LEASE_MS,
    minIntervalMs: config.loginDelayMs,
    log: session.log,
  })
  if (maildrop === 'in-use') {
    session.log.info({ login }, 'POP3 login refused: the maildrop is in use')
    await session.fail('Another POP3 session has this maildrop open', 'IN-USE')
    return
  }
  if (maildrop === 'too-soon') {
    session.log.info({ login }, 'POP3 login refused: LOGIN-DELAY')
    await session.fail(
      `Logins are allowed once every ${(config.loginDelayMs ?? 0) / 1000} seconds`,
      'LOGIN-DELAY',
    )
    return
  }
  session.maildrop = maildrop
  session.state = 'transaction'
  const { count, size } = maildrop.totals()
  session.log.info({ login, mechanism, messages: count, octets: size }, 'POP3 logged in')
  await session.send(ok(`${account.address} has ${count} messages (${size} octets)`))
}
