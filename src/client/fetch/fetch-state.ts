// What `postern fetch` remembers of one account between runs: the POP3 UIDLs or IMAP UIDs
// already written to the local mailbox. With --keep this is what keeps a message from being
// fetched twice; without it, it lets a run that died after the local write but before the
// server's deletion delete that message the next time instead of fetching it again. The file is
// replaced durably after each message, so it never says "fetched" of a message that is not
// fsynced in the local mailbox (it may lag by the one message being written: at least once).
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { writeFileDurably } from '../local/index.ts'

export interface FetchStateFile {
  version: 1
  /** IMAP: the UIDVALIDITY the UIDs belong to; null for POP3. */
  uidValidity: number | null
  /** UIDL strings (POP3) or UIDs as strings (IMAP). */
  seen: string[]
}

export class FetchState {
  readonly file: string
  #state: FetchStateFile
  #seen: Set<string>

  private constructor(file: string, state: FetchStateFile) {
    this.file = file
    this.#state = state
    this.#seen = new Set(state.seen)
  }

  /** The state of the account (protocol, server, user, mailbox) under `dir`. */
  static open(dir: string, account: string): FetchState {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const name = createHash('sha256').update(account).digest('hex').slice(0, 24)
    const file = path.join(dir, `${name}.json`)
    let state: FetchStateFile = { version: 1, uidValidity: null, seen: [] }
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<FetchStateFile>
      if (parsed.version === 1 && Array.isArray(parsed.seen)) {
        state = {
          version: 1,
          uidValidity: typeof parsed.uidValidity === 'number' ? parsed.uidValidity : null,
          seen: parsed.seen.filter((value): value is string => typeof value === 'string'),
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(`cannot read the fetch state ${file}: ${(error as Error).message}`)
      }
    }
    return new FetchState(file, state)
  }

  get uidValidity(): number | null {
    return this.#state.uidValidity
  }

  /** A new UIDVALIDITY: the UIDs remembered name other messages now (RFC 9051 §2.3.1.1). */
  async resetFor(uidValidity: number): Promise<void> {
    this.#state = { version: 1, uidValidity, seen: [] }
    this.#seen = new Set()
    await this.#save()
  }

  has(id: string): boolean {
    return this.#seen.has(id)
  }

  /** Remembers a message as written locally, durably, before anything else happens to it. */
  async add(id: string): Promise<void> {
    if (this.#seen.has(id)) return
    this.#seen.add(id)
    await this.#save()
  }

  /** Forgets what the server no longer has, so the file does not grow without end. */
  async keepOnly(present: ReadonlySet<string>): Promise<void> {
    const before = this.#seen.size
    for (const id of [...this.#seen]) if (!present.has(id)) this.#seen.delete(id)
    if (this.#seen.size !== before) await this.#save()
  }

  async #save(): Promise<void> {
    this.#state = { ...this.#state, seen: [...this.#seen] }
    await writeFileDurably(this.file, `${JSON.stringify(this.#state)}\n`, 0o600)
  }
}
