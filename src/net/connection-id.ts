import { randomBytes } from 'node:crypto'

/**
 * A short id for one connection, put on every log line of it. 48 random bits: unique enough
 * across restarts and nodes that an operator can grep a day of logs for one session.
 */
export function newConnectionId(): string {
  return randomBytes(6).toString('base64url')
}
