// The file format of one sendmail spool entry: a first line of JSON (the envelope and the retry
// state), "\n", then the message exactly (CRLF). Reading only the header line, splitting a whole
// file, checking a header, and the ids entries are named by.
import { randomBytes } from 'node:crypto'
import { open } from 'node:fs/promises'

/** The envelope and retry state of one entry, the JSON first line of its file. */
export interface SpoolHeader {
  version: 1
  id: string
  /** The envelope sender; empty for the null sender. */
  sender: string
  /** The recipients not yet delivered to. */
  recipients: string[]
  queuedAt: number
  attempts: number
  nextAttemptAt: number
  lastError: string | null
}

/** An entry as `list()` sees it: the header, where it is, and the message's size. */
export interface SpoolEntry extends SpoolHeader {
  state: 'queued' | 'sending'
  /** The message's octets, the header line not counted. */
  size: number
}

/** An entry in failed/: the header with when and why it was set aside. */
export interface FailedEntry extends SpoolHeader {
  failedAt: number
  reason: string
  size: number
}

/** An entry this process claimed for sending: the header, the message and its sending/ file. */
export interface ClaimedEntry extends SpoolHeader {
  message: Buffer
  /** The entry's file in sending/, which complete(), retryLater() and fail() act on. */
  readonly file: string
}

/** The reason recorded for an entry whose header cannot be read. */
export const UNREADABLE_REASON = 'unreadable spool entry'

/** A header line longer than this is taken as corrupt rather than read on forever. */
const MAX_HEADER_OCTETS = 4 * 1024 * 1024
const HEADER_CHUNK_OCTETS = 16 * 1024
const LF = 0x0a
/** What an id may look like: one path segment without dots, so never a path of its own. */
export const SAFE_ID = /^[0-9A-Za-z_-]{1,128}$/

/** A time-sortable unique id: `<ms base36, 9 digits>-<pid base36>-<random hex>`. */
export function newSpoolId(nowMs = Date.now()): string {
  const time = nowMs.toString(36).padStart(9, '0')
  return `${time}-${process.pid.toString(36)}-${randomBytes(6).toString('hex')}`
}

/** An entry's header line, parsed, and the octets of the message after it. */
export interface Head {
  header: SpoolHeader
  size: number
}

/** Reads only the header line of an entry file; throws on a missing file or a bad header. */
export async function readHead(
  file: string,
  id: string | undefined,
  isFailed = false,
): Promise<Head> {
  const handle = await open(file, 'r')
  try {
    const { size } = await handle.stat()
    const chunks: Buffer[] = []
    let position = 0
    for (;;) {
      const chunk = Buffer.alloc(Math.min(HEADER_CHUNK_OCTETS, size - position))
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position)
      const newline = chunk.subarray(0, bytesRead).indexOf(LF)
      if (newline !== -1) {
        chunks.push(chunk.subarray(0, newline))
        const header = parseHeader(Buffer.concat(chunks).toString('utf8'), id, isFailed)
        if (header === null) break
        return { header, size: size - (position + newline + 1) }
      }
      chunks.push(chunk.subarray(0, bytesRead))
      position += bytesRead
      if (bytesRead === 0 || position > MAX_HEADER_OCTETS) break
    }
  } finally {
    await handle.close()
  }
  throw new Error(`${UNREADABLE_REASON}: ${file}`)
}

/** Splits a whole entry file into header and message; null when the header is unreadable. */
export function splitEntry(
  content: Buffer,
  id: string,
  isFailed: boolean,
): { header: SpoolHeader; message: Buffer } | null {
  const newline = content.indexOf(LF)
  if (newline === -1) return null
  const header = parseHeader(content.subarray(0, newline).toString('utf8'), id, isFailed)
  return header === null ? null : { header, message: content.subarray(newline + 1) }
}

/** The header in `line` if it is whole and well-typed (and names `id`, when given). */
export function parseHeader(
  line: string,
  id: string | undefined,
  isFailed: boolean,
): SpoolHeader | null {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const header = value as Record<string, unknown>
  const isWellTyped =
    header.version === 1 &&
    typeof header.id === 'string' &&
    (id === undefined || header.id === id) &&
    typeof header.sender === 'string' &&
    Array.isArray(header.recipients) &&
    header.recipients.every((recipient) => typeof recipient === 'string') &&
    Number.isFinite(header.queuedAt) &&
    Number.isFinite(header.attempts) &&
    Number.isFinite(header.nextAttemptAt) &&
    (header.lastError === null || typeof header.lastError === 'string') &&
    (!isFailed || (Number.isFinite(header.failedAt) && typeof header.reason === 'string'))
  return isWellTyped ? (header as unknown as SpoolHeader) : null
}

/** The header fields alone, without what list() or claim() added. */
export function headerOf(entry: SpoolHeader): SpoolHeader {
  const { version, id, sender, recipients, queuedAt, attempts, nextAttemptAt, lastError } = entry
  return { version, id, sender, recipients, queuedAt, attempts, nextAttemptAt, lastError }
}

/** The header given to an unreadable entry set aside in failed/, its whole file kept after it. */
export function unreadableHeader(id: string, modifiedMs: number): Omit<FailedEntry, 'size'> {
  const queuedAt = Math.floor(modifiedMs)
  return {
    version: 1,
    id,
    sender: '',
    recipients: [],
    queuedAt,
    attempts: 0,
    nextAttemptAt: queuedAt,
    lastError: null,
    failedAt: Date.now(),
    reason: UNREADABLE_REASON,
  }
}

export function byAge(a: SpoolHeader, b: SpoolHeader): number {
  return a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}
