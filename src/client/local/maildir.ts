// Delivery into a local Maildir for `postern fetch`: each message is written whole under tmp/,
// fsynced, then given its name in new/ (a hard link, or a rename where links are not supported)
// and new/ is fsynced, so a crash leaves either the whole message in new/ or nothing there.
import { randomBytes } from 'node:crypto'
import { type FileHandle, link, open, rename, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { ensurePrivateDirectory, fsyncDirectory } from './atomic-file.ts'

const CRLF = Buffer.from('\r\n')
const LF = 0x0a

/** Error codes of a file system that cannot make hard links: the message is renamed instead. */
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'])

/** How many fresh names a delivery tries when a name is taken, which random names make rare. */
const MAX_NAME_ATTEMPTS = 5

/**
 * Turns the wire's line ends into local ones: every CR LF pair becomes LF. A CR not followed by
 * LF and an LF not preceded by CR are kept, as is every other octet. Returns `data` itself when
 * it has no CR LF.
 */
export function crlfToLf(data: Buffer): Buffer {
  let index = data.indexOf(CRLF)
  if (index === -1) return data
  const out = Buffer.allocUnsafe(data.length)
  let written = 0
  let start = 0
  while (index !== -1) {
    written += data.copy(out, written, start, index)
    out[written] = LF
    written += 1
    start = index + 2
    index = data.indexOf(CRLF, start)
  }
  written += data.copy(out, written, start)
  return out.subarray(0, written)
}

/** A Maildir (tmp/, new/, cur/) that messages are delivered into. */
export class Maildir {
  /** The Maildir's own directory, the parent of tmp/, new/ and cur/. */
  readonly dir: string

  private constructor(dir: string) {
    this.dir = dir
  }

  /** Opens the Maildir at `dir`, creating it and its tmp/, new/ and cur/ (mode 0700) if missing. */
  static async open(dir: string): Promise<Maildir> {
    await ensurePrivateDirectory(dir)
    for (const sub of ['tmp', 'new', 'cur']) await ensurePrivateDirectory(path.join(dir, sub))
    await fsyncDirectory(dir)
    return new Maildir(dir)
  }

  /**
   * Delivers one message, given with CRLF line ends as on the wire and stored with LF ones (see
   * `crlfToLf`). Resolves, once the message is durable, to its path in new/.
   */
  async deliver(message: Buffer): Promise<string> {
    const data = crlfToLf(message)
    const newDir = path.join(this.dir, 'new')
    for (let attempt = 1; ; attempt += 1) {
      const name = maildirName(data.length)
      const temporary = path.join(this.dir, 'tmp', name)
      const target = path.join(newDir, name)
      try {
        await writeNewFile(temporary, data)
      } catch (error) {
        if (isNameTaken(error) && attempt < MAX_NAME_ATTEMPTS) continue
        throw error
      }
      try {
        await moveIntoPlace(temporary, target)
      } catch (error) {
        await unlink(temporary).catch(() => {})
        if (isNameTaken(error) && attempt < MAX_NAME_ATTEMPTS) continue
        throw error
      }
      await fsyncDirectory(newDir)
      return target
    }
  }
}

/**
 * A unique file name by the Maildir convention:
 * `<seconds>.M<microseconds>P<pid>R<random>.<host>,S=<size>`, with `/` and `:` in the host name
 * written as `\057` and `\072` so the name stays one path segment without an info part.
 */
export function maildirName(
  sizeOctets: number,
  nowMs = performance.timeOrigin + performance.now(),
): string {
  const totalMicros = Math.floor(nowMs * 1000)
  const seconds = Math.floor(totalMicros / 1_000_000)
  const micros = totalMicros % 1_000_000
  const random = randomBytes(8).toString('hex')
  return `${seconds}.M${micros}P${process.pid}R${random}.${escapedHostname()},S=${sizeOctets}`
}

let cachedHostname: string | undefined

function escapedHostname(): string {
  cachedHostname ??= escapeHostname(hostname())
  return cachedHostname
}

/** The host name as a Maildir name carries it: `/` as `\057`, `:` as `\072`. */
export function escapeHostname(name: string): string {
  return name.replaceAll('/', '\\057').replaceAll(':', '\\072')
}

/** Creates `file` (which must not exist), writes `data` and fsyncs it; removes it on failure. */
async function writeNewFile(file: string, data: Buffer): Promise<void> {
  const handle: FileHandle = await open(file, 'wx', 0o600)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (error) {
    await handle.close().catch(() => {})
    await unlink(file).catch(() => {})
    throw error
  }
  await handle.close()
}

/** Gives the file in tmp/ its name in new/ without ever replacing a file there. */
async function moveIntoPlace(temporary: string, target: string): Promise<void> {
  try {
    await link(temporary, target)
  } catch (error) {
    if (!LINK_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? '')) throw error
    await rename(temporary, target)
    return
  }
  // The message is in new/ now; a name left in tmp/ is harmless (readers clean tmp/).
  await unlink(temporary).catch(() => {})
}

function isNameTaken(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EEXIST'
}
