// Durable local files for the user's side (`postern sendmail`, `postern fetch`): a file written
// so that after a crash it is either whole or absent, the fsync of a directory that makes a
// rename or a new name durable, and private (0700) directories for spools and mailboxes.
import { randomBytes } from 'node:crypto'
import { type FileHandle, mkdir, open, rename, unlink } from 'node:fs/promises'
import path from 'node:path'

/**
 * Writes `data` to `file` so that after a crash the file holds either the old content or the
 * new, never a mix: the data goes to a temporary name in the same directory (unique per process
 * and call), is fsynced, renamed over `file`, and the directory is fsynced so the rename itself
 * is durable. The temporary file is removed when any step before the rename fails.
 *
 * `mode` applies when the file is created (filtered by the umask); it defaults to 0600 because
 * these are someone's mail and credentials.
 */
export async function writeFileDurably(
  file: string,
  data: Buffer | string,
  mode = 0o600,
): Promise<void> {
  const dir = path.dirname(file)
  const temporary = path.join(dir, `.${path.basename(file)}.${uniqueSuffix()}.tmp`)
  let handle: FileHandle | undefined
  let isCreated = false
  try {
    handle = await open(temporary, 'wx', mode)
    isCreated = true
    await handle.writeFile(data)
    await handle.sync()
    await handle.close()
    handle = undefined
    await rename(temporary, file)
  } catch (error) {
    await handle?.close().catch(() => {})
    // Only a file this call created is removed: 'wx' failing means the name was not ours.
    if (isCreated) await unlink(temporary).catch(() => {})
    throw error
  }
  await fsyncDirectory(dir)
}

/**
 * Fsyncs a directory, which makes the names created, renamed or removed in it durable. Rejects
 * when the directory cannot be opened.
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Creates `dir` and any missing parents with mode 0700 (filtered by the umask). A directory that
 * already exists is left as it is, mode included.
 */
export async function ensurePrivateDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
}

/** `<pid>.<random hex>`: unique across processes and across calls in one process. */
export function uniqueSuffix(): string {
  return `${process.pid}.${randomBytes(6).toString('hex')}`
}
