import { type Logger, silentLogger } from '../util/index.ts'

export interface ThrottleOptions {
  /** Failures are counted over this window. */
  windowMs: number
  /** Failures for one account (from anywhere) before it is locked. */
  maxAccountFailures: number
  /** Failures from one IP (for any accounts) before it is locked. */
  maxIpFailures: number
  lockoutMs: number
  /** The delay before answering the second failure; it doubles with each one after. */
  baseDelayMs: number
  maxDelayMs: number
  /** Keys tracked at once; the oldest are forgotten past it, so a flood cannot grow memory. */
  maxEntries: number
}

/**
 * Guessing passwords costs time, then is stopped: 10 failures for an account or 30 from an IP
 * within 15 minutes lock it for 15 minutes; before that, each failure after the first is
 * answered a little later (0.25 s, 0.5 s, 1 s … up to 8 s).
 */
export const DEFAULT_THROTTLE: ThrottleOptions = {
  windowMs: 15 * 60_000,
  maxAccountFailures: 10,
  maxIpFailures: 30,
  lockoutMs: 15 * 60_000,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxEntries: 100_000,
}

interface Entry {
  failures: number
  windowStart: number
  lockedUntil: number
}

export type ThrottleCheck =
  | { isAllowed: true }
  | { isAllowed: false; retryAfterMs: number; reason: string }

/**
 * Failed-authentication bookkeeping shared by SMTP, IMAP and POP3. Protocols ask `check` before
 * verifying credentials, report each outcome, and wait the returned delay before answering a
 * failure. Accounts are keyed lower-cased, so "Alice" and "alice" share a count.
 */
export class AuthThrottle {
  readonly #options: ThrottleOptions
  readonly #now: () => number
  readonly #log: Logger
  readonly #entries = new Map<string, Entry>()

  constructor(
    options: Partial<ThrottleOptions> = {},
    log: Logger = silentLogger,
    now: () => number = Date.now,
  ) {
    this.#options = { ...DEFAULT_THROTTLE, ...options }
    this.#log = log
    this.#now = now
  }

  check(ip: string, account: string | null): ThrottleCheck {
    const now = this.#now()
    for (const key of this.#keys(ip, account)) {
      const entry = this.#entries.get(key)
      if (entry !== undefined && entry.lockedUntil > now) {
        return {
          isAllowed: false,
          retryAfterMs: entry.lockedUntil - now,
          reason: `${key} is locked`,
        }
      }
    }
    return { isAllowed: true }
  }

  /** Counts a failure; returns how long to wait before answering it. */
  recordFailure(ip: string, account: string | null): number {
    const now = this.#now()
    let delayMs = 0
    for (const key of this.#keys(ip, account)) {
      const entry = this.#entry(key, now)
      entry.failures += 1
      const limit = key.startsWith('ip:')
        ? this.#options.maxIpFailures
        : this.#options.maxAccountFailures
      if (entry.failures >= limit && entry.lockedUntil <= now) {
        entry.lockedUntil = now + this.#options.lockoutMs
        this.#log.warn(
          { key, failures: entry.failures, lockoutMs: this.#options.lockoutMs, ip },
          'too many authentication failures, locked',
        )
      }
      const steps = entry.failures - 1
      if (steps > 0)
        delayMs = Math.max(
          delayMs,
          Math.min(this.#options.baseDelayMs * 2 ** (steps - 1), this.#options.maxDelayMs),
        )
    }
    return delayMs
  }

  /** A success clears the account's count (not the IP's: one right password among many guesses). */
  recordSuccess(account: string): void {
    this.#entries.delete(`account:${account.toLowerCase()}`)
  }

  get size(): number {
    return this.#entries.size
  }

  #keys(ip: string, account: string | null): string[] {
    return account === null ? [`ip:${ip}`] : [`ip:${ip}`, `account:${account.toLowerCase()}`]
  }

  #entry(key: string, now: number): Entry {
    let entry = this.#entries.get(key)
    if (
      entry !== undefined &&
      entry.lockedUntil <= now &&
      now - entry.windowStart > this.#options.windowMs
    ) {
      this.#entries.delete(key)
      entry = undefined
    }
    if (entry === undefined) {
      if (this.#entries.size >= this.#options.maxEntries) {
        const oldest = this.#entries.keys().next().value
        if (oldest !== undefined) this.#entries.delete(oldest)
      }
      entry = { failures: 0, windowStart: now, lockedUntil: 0 }
      this.#entries.set(key, entry)
    }
    return entry
  }
}
