// Delivery into a local mbox file for `postern fetch`, in the mboxrd format: a From_ line, the
// message with LF line ends and every /^>*From / line quoted with one more '>', then a blank
// line. Writers take a dotlock (`<file>.lock`, created with O_EXCL) so appends never interleave,
// and a failed append truncates the file back to its size before, leaving no half message.
import type { Stats } from 'node:fs'
import { type FileHandle, link, open, rename, stat, truncate, unlink } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { uniqueSuffix } from './atomic-file.ts'
import { crlfToLf } from './maildir.ts'

/** How long an append waits for another writer's lock unless told otherwise. */
const LOCK_TIMEOUT_MS = 10_000
/** A lock file older than this is taken to be left by a writer that died, and removed. */
const STALE_LOCK_MS = 5 * 60_000
/** Pause between attempts at a held lock: the least, plus up to the jitter at random. */
const LOCK_RETRY_MS = 20
const LOCK_RETRY_JITTER_MS = 30

const LF = 0x0a
const GREATER_THAN = Buffer.from('>')
const FROM_SPACE = Buffer.from('From ')
const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTH_NAMES = [
  ...['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun'],
  ...['Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'],
]

/** What the From_ line of an appended message says, and how long to wait for the lock. */
export interface MboxAppendOptions {
  /** The envelope sender; empty or `<>` is written as MAILER-DAEMON. */
  sender: string
  /** When the message arrived, written in UTC in asctime form. */
  date: Date
  /** How long to wait while another writer holds the lock; 10 seconds unless given. */
  lockTimeoutMs?: number
}

/**
 * Appends one message (given with CRLF line ends, as on the wire) to the mbox `file`, creating
 * the file (mode 0600) if missing. Resolves once the message is fsynced. Rejects, leaving the
 * file as it was, when the lock cannot be had within the timeout or the write fails.
 */
export async function appendToMbox(
  file: string,
  message: Buffer,
  options: MboxAppendOptions,
): Promise<void> {
  const entry = mboxEntry(message, options.sender, options.date)
  const release = await takeDotlock(`${file}.lock`, options.lockTimeoutMs ?? LOCK_TIMEOUT_MS)
  try {
    await appendWhole(file, entry)
  } finally {
    await release()
  }
}

/** One message as an mboxrd entry: From_ line, quoted LF body ending in LF, blank line. */
export function mboxEntry(message: Buffer, sender: string, date: Date): Buffer {
  const body = quoteFromLines(crlfToLf(message))
  const fromLine = Buffer.from(`From ${fromLineSender(sender)} ${asctime(date)}\n`)
  const isTerminated = body.length === 0 || body[body.length - 1] === LF
  const ending = Buffer.from(isTerminated ? '\n' : '\n\n')
  return Buffer.concat([fromLine, body, ending])
}

/** Adds one '>' before every line that matches /^>*From /, the mboxrd quoting. */
export function quoteFromLines(data: Buffer): Buffer {
  const chunks: Buffer[] = []
  let copiedTo = 0
  let lineStart = 0
  while (lineStart < data.length) {
    if (isFromLine(data, lineStart)) {
      chunks.push(data.subarray(copiedTo, lineStart), GREATER_THAN)
      copiedTo = lineStart
    }
    const lineEnd = data.indexOf(LF, lineStart)
    if (lineEnd === -1) break
    lineStart = lineEnd + 1
  }
  if (chunks.length === 0) return data
  chunks.push(data.subarray(copiedTo))
  return Buffer.concat(chunks)
}

function isFromLine(data: Buffer, lineStart: number): boolean {
  let at = lineStart
  while (data[at] === GREATER_THAN[0]) at += 1
  if (at + FROM_SPACE.length > data.length) return false
  return data.compare(FROM_SPACE, 0, FROM_SPACE.length, at, at + FROM_SPACE.length) === 0
}

/** The sender as one word for the From_ line: no angle brackets, no spaces or controls. */
function fromLineSender(sender: string): string {
  const bare = sender.trim().replace(/^<(.*)>$/, '$1')
  if (bare === '') return 'MAILER-DAEMON'
  return Array.from(bare, (char) => (char <= ' ' || char === '\u007f' ? '_' : char)).join('')
}

/** `Www Mmm dd hh:mm:ss yyyy` in UTC, the day of the month padded with a space. */
export function asctime(date: Date): string {
  const two = (value: number): string => String(value).padStart(2, '0')
  const day = String(date.getUTCDate()).padStart(2, ' ')
  const minutes = two(date.getUTCMinutes())
  const time = `${two(date.getUTCHours())}:${minutes}:${two(date.getUTCSeconds())}`
  const weekday = DAY_NAMES[date.getUTCDay()] ?? ''
  const month = MONTH_NAMES[date.getUTCMonth()] ?? ''
  return `${weekday} ${month} ${day} ${time} ${date.getUTCFullYear()}`
}

/** Appends `entry` with O_APPEND and fsyncs; on failure cuts the file back to its old size. */
async function appendWhole(file: string, entry: Buffer): Promise<void> {
  const handle = await open(file, 'a', 0o600)
  try {
    const { size } = await handle.stat()
    try {
      await handle.writeFile(entry)
      await handle.sync()
    } catch (error) {
      try {
        await handle.truncate(size)
        await handle.sync()
      } catch {
        // The descriptor itself may be what failed: try again by name.
        await truncate(file, size).catch(() => {})
      }
      throw error
    }
  } finally {
    await handle.close().catch(() => {})
  }
}

/**
 * Takes the dotlock `lockFile`, waiting up to `timeoutMs` for another holder and removing a
 * lock older than five minutes. Resolves to the function that releases it; the release removes
 * the lock file only while it is still the one this call created.
 */
async function takeDotlock(lockFile: string, timeoutMs: number): Promise<() => Promise<void>> {
  const deadlineMs = Date.now() + timeoutMs
  for (;;) {
    const ino = await tryCreateLock(lockFile)
    if (ino !== null) return () => releaseDotlock(lockFile, ino)
    if (await removeIfStale(lockFile)) continue
    if (Date.now() >= deadlineMs) {
      throw new Error(`${lockFile} is held by another writer (waited ${timeoutMs} ms)`)
    }
    await sleep(LOCK_RETRY_MS + Math.random() * LOCK_RETRY_JITTER_MS)
  }
}

/** Creates the lock file holding our pid; its inode, or null when the lock is already held. */
async function tryCreateLock(lockFile: string): Promise<number | null> {
  let handle: FileHandle
  try {
    handle = await open(lockFile, 'wx', 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null
    throw error
  }
  try {
    await handle.writeFile(`${process.pid}\n`)
    return (await handle.stat()).ino
  } catch (error) {
    await unlink(lockFile).catch(() => {})
    throw error
  } finally {
    await handle.close().catch(() => {})
  }
}

/**
 * Removes the lock if it is still ours. Never rejects: the append's outcome is what the caller
 * must hear, and a lock left behind is taken as stale after five minutes.
 */
async function releaseDotlock(lockFile: string, ino: number): Promise<void> {
  try {
    if ((await stat(lockFile)).ino === ino) await unlink(lockFile)
  } catch {
    // already gone, or not ours to remove
  }
}

/**
 * Removes `lockFile` if it is stale. It is first renamed aside, so two writers that both find it
 * stale cannot remove each other's fresh lock; a fresh lock renamed aside by mistake is put back.
 * True when the lock is gone and taking it is worth trying again at once.
 */
async function removeIfStale(lockFile: string): Promise<boolean> {
  let seen: Stats
  try {
    seen = await stat(lockFile)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true
    throw error
  }
  if (Date.now() - seen.mtimeMs < STALE_LOCK_MS) return false
  const aside = `${lockFile}.stale.${uniqueSuffix()}`
  try {
    await rename(lockFile, aside)
  } catch (error) {
    // Gone: someone else removed it first. Otherwise (not ours to move) it counts as held.
    return (error as NodeJS.ErrnoException).code === 'ENOENT'
  }
  try {
    if ((await stat(aside)).ino !== seen.ino) await link(aside, lockFile).catch(() => {})
  } finally {
    await unlink(aside).catch(() => {})
  }
  return true
}
