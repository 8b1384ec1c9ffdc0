import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import { type BlobId, BlobNotFoundError, type BlobStore, isBlobId } from '../index.ts'

/**
 * Blobs as files under `root`: root/ab/cd/abcd…(64 hex). A put writes a temporary file in
 * root/tmp, fsyncs it, renames it into place and fsyncs the directory, so a blob is either
 * whole or absent after a crash, never half-written under its name. Leftover temporary files
 * (a crash mid-write) are removed when the store opens.
 */
export async function openFileBlobStore(root: string): Promise<BlobStore> {
  const temporaryDir = path.join(root, 'tmp')
  await rm(temporaryDir, { recursive: true, force: true })
  await mkdir(temporaryDir, { recursive: true, mode: 0o700 })

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
      if (await exists(target)) {
        // The same octets are already stored, durably: keep those.
        await unlink(temporary)
        return { id, size }
      }
      await mkdir(path.dirname(target), { recursive: true, mode: 0o700 })
      await rename(temporary, target)
      await syncDirectory(path.dirname(target))
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
  return path.join(root, id.slice(0, 2), id.slice(2, 4), id)
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
