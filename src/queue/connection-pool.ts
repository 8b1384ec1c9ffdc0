import type { SmtpClient } from '../smtp/client/index.ts'

// Idle SMTP sessions kept for the next message to the same host (like Postfix's connection
// cache): a busy destination gets one TCP connection, one TLS handshake and one EHLO for many
// messages instead of one each.

/** How long an idle session waits for another message (Postfix's smtp_connection_cache_time_limit is 2 s). */
export const IDLE_MS = 5000
/** Messages one connection carries before it is closed and a fresh one made. */
export const MAX_USES = 100

interface Idle {
  client: SmtpClient
  uses: number
  timer: NodeJS.Timeout
}

export interface PooledSession {
  client: SmtpClient
  /** Messages sent on this connection before this one. */
  uses: number
  key: string
}

export class ConnectionPool {
  readonly #idle = new Map<string, Idle[]>()
  #isClosed = false

  /** A usable idle session for this key, or null. */
  take(key: string): PooledSession | null {
    const list = this.#idle.get(key)
    while (list !== undefined && list.length > 0) {
      const idle = list.pop() as Idle
      clearTimeout(idle.timer)
      if (list.length === 0) this.#idle.delete(key)
      if (idle.client.isUsable) return { client: idle.client, uses: idle.uses, key }
      idle.client.close()
    }
    return null
  }

  /** Keeps a session for reuse, or ends it when it is worn out or broken. */
  give(session: PooledSession): void {
    const uses = session.uses + 1
    if (this.#isClosed || !session.client.isUsable || uses >= MAX_USES) {
      void session.client.quit()
      return
    }
    const list = this.#idle.get(session.key) ?? []
    const idle: Idle = {
      client: session.client,
      uses,
      timer: setTimeout(() => {
        const at = list.indexOf(idle)
        if (at >= 0) list.splice(at, 1)
        if (list.length === 0 && this.#idle.get(session.key) === list)
          this.#idle.delete(session.key)
        void session.client.quit()
      }, IDLE_MS),
    }
    idle.timer.unref()
    list.push(idle)
    this.#idle.set(session.key, list)
  }

  /**
   * QUITs every idle session, waiting at most `waitMs` for the replies (a peer gone silent would
   * otherwise hold shutdown for the whole command timeout, 5 minutes by default), then closes
   * them. Sessions given back later are ended at once.
   */
  async close(waitMs: number): Promise<void> {
    this.#isClosed = true
    const all = [...this.#idle.values()].flat()
    this.#idle.clear()
    for (const idle of all) clearTimeout(idle.timer)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(all.map((idle) => idle.client.quit())),
      new Promise((resolve) => {
        timer = setTimeout(resolve, waitMs)
      }),
    ])
    clearTimeout(timer)
    for (const idle of all) idle.client.close()
  }
}
