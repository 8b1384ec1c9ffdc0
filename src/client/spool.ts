// The `postern sendmail` spool: a directory where messages wait while the submission server
// cannot take them. Each entry is one file, `<id>.msg`: a first line of JSON (the envelope and
// the retry state), "\n", then the message exactly as given (CRLF). Entries move between
// folders only by rename, so each is always whole in exactly one place:
//
//   tmp/      files being written; moved into queue/ or failed/ when whole and fsynced
//   queue/    waiting to be sent, `<id>.msg`
//   sending/  claimed by a flusher, `<id>.<pid>.msg`; back to queue/ if that process dies
//   failed/   refused or unreadable, `<id>.msg` with `failedAt` and `reason`; kept for people
//
// A flusher killed after the server took a message but before complete() sends it again:
// delivery is at least once, never at most once.
import { randomBytes } from 'node:crypto'
import { link, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import { ensurePrivateDirectory, fsyncDirectory } from './local/index.ts'
import {
  byAge,
  type ClaimedEntry,
  type FailedEntry,
  type Head,
  headerOf,
  newSpoolId,
  readHead,
  SAFE_ID,
  type SpoolEntry,
  type SpoolHeader,
  splitEntry,
  unreadableHeader,
} from './spool-entry.ts'

export {
  type ClaimedEntry,
  type FailedEntry,
  newSpoolId,
  type SpoolEntry,
  type SpoolHeader,
  UNREADABLE_REASON,
} from './spool-entry.ts'

/** Leftovers in tmp/ older than this belong to a writer that died, and `open` removes them. */
const STALE_TEMPORARY_MS = 60 * 60_000
const SENDING_NAME = /^([0-9A-Za-z_-]{1,128})\.(\d+)\.msg$/

/** True while a process with this pid exists (one of another user's counts as alive). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The sendmail spool in one directory; see the top of this file for the layout. */
export class Spool {
  readonly dir: string
  private readonly tmpDir: string
  private readonly queueDir: string
  private readonly sendingDir: string
  private readonly failedDir: string

  private constructor(dir: string) {
    this.dir = dir
    this.tmpDir = path.join(dir, 'tmp')
    this.queueDir = path.join(dir, 'queue')
    this.sendingDir = path.join(dir, 'sending')
    this.failedDir = path.join(dir, 'failed')
  }

  /**
   * Opens the spool at `dir`, creating it and its folders (mode 0700) if missing, removing tmp/
   * leftovers older than an hour and recovering entries claimed by processes that are gone.
   */
  static async open(dir: string): Promise<Spool> {
    const spool = new Spool(dir)
    await ensurePrivateDirectory(dir)
    for (const sub of [spool.tmpDir, spool.queueDir, spool.sendingDir, spool.failedDir]) {
      await ensurePrivateDirectory(sub)
    }
    await spool.removeStaleTemporaries(Date.now())
    await spool.recover()
    return spool
  }

  /**
   * Puts a message (CRLF, as it will be sent) in the queue, due at once. Resolves once the entry
   * is durable in queue/; a crash before leaves nothing there.
   */
  async add(
    envelope: {
      sender: string
      recipients: string[]
      /** Why it is spooled: a first attempt that failed (it then counts as one attempt). */
      lastError?: string
      nextAttemptAt?: number
    },
    message: Buffer,
    now = Date.now(),
  ): Promise<SpoolEntry> {
    if (envelope.recipients.length === 0) throw new RangeError('a spool entry needs a recipient')
    const header: SpoolHeader = {
      version: 1,
      id: newSpoolId(now),
      sender: envelope.sender,
      recipients: [...envelope.recipients],
      queuedAt: now,
      attempts: envelope.lastError === undefined ? 0 : 1,
      nextAttemptAt: envelope.nextAttemptAt ?? now,
      lastError: envelope.lastError ?? null,
    }
    await this.writeEntry(header, message, path.join(this.queueDir, `${header.id}.msg`))
    return { ...header, state: 'queued', size: message.length }
  }

  /** The queued and sending entries (headers only), oldest first. Corrupt ones go to failed/. */
  async list(): Promise<SpoolEntry[]> {
    const entries: SpoolEntry[] = []
    for (const name of await listNames(this.queueDir)) {
      const id = name.slice(0, -'.msg'.length)
      const head = await this.readHeadOrSetAside(path.join(this.queueDir, name), id)
      if (head !== null) entries.push({ ...head.header, state: 'queued', size: head.size })
    }
    for (const name of await listNames(this.sendingDir)) {
      const match = SENDING_NAME.exec(name)
      if (match === null) continue
      // A claimed entry is never moved from here: its flusher is at work on it.
      const head = await readHead(path.join(this.sendingDir, name), match[1]).catch(() => null)
      if (head !== null) entries.push({ ...head.header, state: 'sending', size: head.size })
    }
    return entries.sort(byAge)
  }

  /** The entries in failed/, oldest first; one whose header cannot be read is listed as such. */
  async listFailed(): Promise<FailedEntry[]> {
    const entries: FailedEntry[] = []
    for (const name of await listNames(this.failedDir)) {
      const file = path.join(this.failedDir, name)
      const id = name.slice(0, -'.msg'.length)
      try {
        const head = await readHead(file, id, true)
        entries.push({ ...(head.header as FailedEntry), size: head.size })
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
        const info = await stat(file).catch(() => null)
        if (info === null) continue
        entries.push({ ...unreadableHeader(id, info.mtimeMs), size: info.size })
      }
    }
    return entries.sort(byAge)
  }

  /** The queued entries whose next attempt is due at `now`, oldest first. */
  async due(now = Date.now()): Promise<SpoolEntry[]> {
    const entries = await this.list()
    return entries.filter((entry) => entry.state === 'queued' && entry.nextAttemptAt <= now)
  }

  /**
   * Claims a queued entry for sending by renaming it into sending/. Resolves to the header and
   * the message, or null when the entry is not queued (another flusher took it, it is gone, or
   * it was unreadable and has been moved to failed/).
   */
  async claim(id: string): Promise<ClaimedEntry | null> {
    if (!SAFE_ID.test(id)) return null
    const file = path.join(this.sendingDir, `${id}.${process.pid}.msg`)
    try {
      await rename(path.join(this.queueDir, `${id}.msg`), file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
    const content = await readFile(file)
    const split = splitEntry(content, id, false)
    if (split === null) {
      await this.setAsideUnreadable(file, id, content)
      return null
    }
    return { ...split.header, message: split.message, file }
  }

  /** Removes a claimed entry once the server took the message for every recipient. */
  async complete(claimed: ClaimedEntry): Promise<void> {
    await unlinkIfPresent(claimed.file)
    await fsyncDirectory(this.sendingDir)
  }

  /**
   * Puts a claimed entry back in the queue with one more attempt counted, the error, when to
   * try next and, when some recipients were delivered to, the ones left. The new queue/ file is
   * durable before the sending/ one is removed.
   */
  async retryLater(
    claimed: ClaimedEntry,
    options: { error: string; nextAttemptAt: number; recipients?: string[] },
  ): Promise<void> {
    const header: SpoolHeader = {
      ...headerOf(claimed),
      recipients: [...(options.recipients ?? claimed.recipients)],
      attempts: claimed.attempts + 1,
      lastError: options.error,
      nextAttemptAt: options.nextAttemptAt,
    }
    if (header.recipients.length === 0) throw new RangeError('no recipients left to retry')
    await this.writeEntry(header, claimed.message, path.join(this.queueDir, `${claimed.id}.msg`))
    await this.complete(claimed)
  }

  /**
   * Moves a claimed entry into failed/ with the reason (and, if given, the recipients it failed
   * for). The spool keeps it there until `remove` is called.
   */
  async fail(
    claimed: ClaimedEntry,
    options: { reason: string; recipients?: string[] },
    now = Date.now(),
  ): Promise<void> {
    const header = {
      ...headerOf(claimed),
      recipients: [...(options.recipients ?? claimed.recipients)],
      failedAt: now,
      reason: options.reason,
    }
    await this.writeEntry(header, claimed.message, path.join(this.failedDir, `${claimed.id}.msg`))
    await this.complete(claimed)
  }

  /**
   * Puts entries in sending/ whose process is gone back in the queue, so they are sent again.
   * One that already has a newer copy in queue/ or failed/ (its process died between writing
   * that and removing the claim) is only removed. Resolves to how many went back.
   */
  async recover(isAlive: (pid: number) => boolean = isProcessAlive): Promise<number> {
    let recovered = 0
    let isChanged = false
    for (const name of await listNames(this.sendingDir)) {
      const match = SENDING_NAME.exec(name)
      if (match === null || isAlive(Number(match[2]))) continue
      const file = path.join(this.sendingDir, name)
      const isFailed = await exists(path.join(this.failedDir, `${match[1]}.msg`))
      if (!isFailed && (await linkIfAbsent(file, path.join(this.queueDir, `${match[1]}.msg`)))) {
        recovered += 1
      }
      await unlinkIfPresent(file)
      isChanged = true
    }
    if (recovered > 0) await fsyncDirectory(this.queueDir)
    if (isChanged) await fsyncDirectory(this.sendingDir)
    return recovered
  }

  /**
   * Deletes a queued or failed entry (administration: `sendmail --queue` and the like). Resolves
   * to false when there is no such entry; one being sent is not touched.
   */
  async remove(id: string): Promise<boolean> {
    if (!SAFE_ID.test(id)) return false
    for (const dir of [this.queueDir, this.failedDir]) {
      if (await unlinkIfPresent(path.join(dir, `${id}.msg`))) {
        await fsyncDirectory(dir)
        return true
      }
    }
    return false
  }

  /** Writes header and message into tmp/, fsyncs, renames to `target`, fsyncs its folder. */
  private async writeEntry(header: object, message: Buffer, target: string): Promise<void> {
    const name = path.basename(target, '.msg')
    const temporary = path.join(this.tmpDir, `${name}.${process.pid}.${randomHex()}.tmp`)
    const handle = await open(temporary, 'wx', 0o600)
    try {
      // writeFile writes all of each buffer (a writev may stop short), one after the other.
      await handle.writeFile(`${JSON.stringify(header)}\n`)
      await handle.writeFile(message)
      await handle.sync()
      await handle.close()
      await rename(temporary, target)
    } catch (error) {
      await handle.close().catch(() => {})
      await unlink(temporary).catch(() => {})
      throw error
    }
    await fsyncDirectory(path.dirname(target))
  }

  /** The header of a queue/ file; null when it is gone, or unreadable and moved to failed/. */
  private async readHeadOrSetAside(file: string, id: string): Promise<Head | null> {
    try {
      return await readHead(file, id)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    }
    // Claimed first, so a flusher that takes it meanwhile and this move cannot both happen.
    const keptId = SAFE_ID.test(id) ? id : newSpoolId()
    const claimedFile = path.join(this.sendingDir, `${keptId}.${process.pid}.msg`)
    try {
      await rename(file, claimedFile)
    } catch {
      return null
    }
    await this.setAsideUnreadable(claimedFile, keptId, await readFile(claimedFile))
    return null
  }

  /** Moves an unreadable claimed file into failed/, whole, after a header saying why. */
  private async setAsideUnreadable(file: string, id: string, content: Buffer): Promise<void> {
    const info = await stat(file)
    const header = unreadableHeader(id, info.mtimeMs)
    await this.writeEntry(header, content, path.join(this.failedDir, `${id}.msg`))
    await unlinkIfPresent(file)
    await fsyncDirectory(this.sendingDir)
  }

  private async removeStaleTemporaries(now: number): Promise<void> {
    for (const name of await readdir(this.tmpDir)) {
      const file = path.join(this.tmpDir, name)
      const info = await stat(file).catch(() => null)
      if (info?.isFile() && now - info.mtimeMs > STALE_TEMPORARY_MS) await unlinkIfPresent(file)
    }
  }
}

/** The `.msg` names in a folder, sorted. */
async function listNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.msg')).sort()
}

function randomHex(): string {
  return randomBytes(6).toString('hex')
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  )
}

/** Error codes of a file system that cannot make hard links. */
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])

/** Gives `file` the name `target` too, unless that exists; true when it did. */
async function linkIfAbsent(file: string, target: string): Promise<boolean> {
  try {
    await link(file, target)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? ''
    if (code === 'EEXIST') return false
    if (!LINK_UNSUPPORTED.has(code)) throw error
  }
  if (await exists(target)) return false
  // No hard links here: a rename, which checks and moves in two steps instead of one.
  await rename(file, target)
  return true
}

/** Unlinks `file`; false when it was not there. */
async function unlinkIfPresent(file: string): Promise<boolean> {
  try {
    await unlink(file)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}
