import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import { type BlobId, BlobNotFoundError, type BlobStore, isBlobId } from '../index.ts'

/**
 * Blobs as files under `root`: root/ab/abcd…(64 hex). A put writes a temporary file, fsyncs
 * it, renames it into place and fsyncs the directory, so a blob is either whole or absent after
 * a crash, never half-written under its name. The 256 shard folders are made (and made
 * durable) when the store opens, so a put never creates a folder: that would cost one more
 * fsync, of the parent, on the delivery path.
 *
 * Each opener writes its temporary files in its own folder, root/tmp/PID-random: the server and
 * an administration command may have the same store open, and one must never remove the other's
 * writes in progress. Folders of processes that no longer run (a crash mid-write) are removed
 * when a store opens.
 */
export async function openFileBlobStore(root: string): Promise<BlobStore> {
  const temporaryRoot = path.join(root, 'tmp')
  await mkdir(temporaryRoot, { recursive: true, mode: 0o700 })
  await makeShardFolders(root)
  await removeAbandonedTemporaries(temporaryRoot)
  const temporaryDir = path.join(temporaryRoot, `${process.pid}-${randomBytes(6).toString('hex')}`)
  await mkdir(temporaryDir, { mode: 0o700 })

  const pathOf = (id: BlobId): string => {
    if (!isBlobId(id)) throw new BlobNotFoundError(id)
    return fileBlobPath(root, id)
  }

  const store: BlobStore = {
    async put(source) {
      const temporary = path.join(temporaryDir, randomBytes(12).toString('hex'))
      const hash = createHash('sha256')
      let size = 0
      const file = await open(temporary, 'wx', 0o600)
      try {
        const chunks = source instanceof Uint8Array ? [source] : source
        for await (const chunk of chunks) {
          hash.update(chunk)
          size += chunk.length
          await file.write(chunk)
        }
        await file.sync()
      } catch (error) {
        await file.close()
        await unlink(temporary).catch(() => {})
        throw error
      }
      await file.close()
      const id = hash.digest('hex')
      const target = pathOf(id)
      const folder = path.dirname(target)
      if (await exists(target)) {
        // The same octets are already stored: keep those. Another put may have renamed them
        // into place a moment ago without having synced the folder yet, so sync it here too.
        await unlink(temporary)
        await syncDirectory(folder)
        return { id, size }
      }
      await rename(temporary, target)
      await syncDirectory(folder)
      return { id, size }
    },

    async get(id) {
      const chunks: Buffer[] = []
      for await (const chunk of store.read(id)) chunks.push(chunk)
      return Buffer.concat(chunks)
    },

    async *read(id, start = 0, end) {
      const file = pathOf(id)
      if (!(await exists(file))) throw new BlobNotFoundError(id)
      if (end !== undefined && end <= start) return
      // createReadStream's end is inclusive.
      yield* createReadStream(file, {
        start,
        end: end === undefined ? undefined : end - 1,
      }) as AsyncIterable<Buffer>
    },

    async has(id) {
      return isBlobId(id) && exists(pathOf(id))
    },

    async delete(id) {
      if (!isBlobId(id)) return
      await unlink(pathOf(id)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error
      })
    },
  }
  return store
}

/** Where the blob with this id lives under root (which may not hold it). */
export function fileBlobPath(root: string, id: BlobId): string {
  return path.join(root, id.slice(0, 2), id)
}

/** Creates root/00 … root/ff where missing and syncs root so that their names are durable. */
async function makeShardFolders(root: string): Promise<void> {
  let isCreated = false
  for (let shard = 0; shard < 256; shard += 1) {
    const folder = path.join(root, shard.toString(16).padStart(2, '0'))
    isCreated = (await mkdir(folder, { recursive: true, mode: 0o700 })) !== undefined || isCreated
  }
  if (isCreated) await syncDirectory(root)
}

/** Removes the temporary folders of processes that no longer run, and anything unexpected. */
async function removeAbandonedTemporaries(temporaryRoot: string): Promise<void> {
  for (const name of await readdir(temporaryRoot)) {
    const pid = Number(/^(\d+)-[0-9a-f]+$/.exec(name)?.[1] ?? Number.NaN)
    if (Number.isInteger(pid) && isRunning(pid)) continue
    await rm(path.join(temporaryRoot, name), { recursive: true, force: true })
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file)
    return true
  } catch {
    return false
  }
}

/** The rename is durable only once the directory that holds the new name is synced. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
