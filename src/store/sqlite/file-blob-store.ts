import { createHash, randomBytes } from 'node:crypto'
import {
  close,
  closeSync,
  fsync,
  open as openCallback,
  openSync,
  readSync,
  rename,
  write,
} from 'node:fs'
import { mkdir, open, readdir, rm, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
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
/** Octets read per call: a whole message of typical size in one read. */
const READ_CHUNK = 256 * 1024

/**
 * A range this small (a header, a small message) is read synchronously: from the page cache that
 * is a few microseconds, while the asynchronous open, read and close are three trips through
 * libuv's thread pool (behind any password hashing there) and a FileHandle's promise machinery
 * on the main thread, which the IMAP benchmark's profile showed as 28% of its time when FETCH read
 * 50 headers. The main thread already waits on SQLite the same way.
 */
const SYNC_READ_MAX = 64 * 1024

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

  // One open descriptor per shard folder, to fsync after a rename: a put on the delivery path
  // makes six file-system calls (open, write, fsync, close, rename, fsync) and no more.
  const shardFolders = new Map<string, number>()
  const shardFolder = async (folder: string): Promise<number> => {
    let fd = shardFolders.get(folder)
    if (fd === undefined) {
      fd = await openAsync(folder, 'r')
      const raced = shardFolders.get(folder)
      if (raced !== undefined) {
        await closeAsync(fd)
        return raced
      }
      shardFolders.set(folder, fd)
    }
    return fd
  }

  const store: BlobStore = {
    async put(source) {
      const temporary = path.join(temporaryDir, randomBytes(12).toString('hex'))
      const hash = createHash('sha256')
      let size = 0
      const fd = await openAsync(temporary, 'wx', 0o600)
      try {
        const chunks = source instanceof Uint8Array ? [source] : source
        for await (const chunk of chunks) {
          hash.update(chunk)
          size += chunk.length
          for (let offset = 0; offset < chunk.length; ) {
            offset += await writeAsync(fd, chunk, offset, chunk.length - offset)
          }
        }
        await fsyncAsync(fd)
      } catch (error) {
        await closeAsync(fd)
        await unlink(temporary).catch(() => {})
        throw error
      }
      await closeAsync(fd)
      const id = hash.digest('hex')
      const target = pathOf(id)
      // When the same octets are already stored, the rename replaces them with themselves: the
      // name never points at anything but whole, synced bytes. The folder is synced either way,
      // since another put may have renamed them into place without having synced it yet.
      await renameAsync(temporary, target)
      await fsyncAsync(await shardFolder(path.dirname(target)))
      return { id, size }
    },

    async get(id) {
      const chunks: Buffer[] = []
      for await (const chunk of store.read(id)) chunks.push(chunk)
      return Buffer.concat(chunks)
    },

    async *read(id, start = 0, end) {
      if (end !== undefined && end - start <= SYNC_READ_MAX) {
        if (end <= start) return
        let fd: number
        try {
          fd = openSync(pathOf(id), 'r')
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(id)
          throw error
        }
        try {
          const buffer = Buffer.allocUnsafe(end - start)
          let read = 0
          while (read < buffer.length) {
            const bytesRead = readSync(fd, buffer, read, buffer.length - read, start + read)
            if (bytesRead === 0) break
            read += bytesRead
          }
          if (read > 0) yield read === buffer.length ? buffer : buffer.subarray(0, read)
        } finally {
          closeSync(fd)
        }
        return
      }
      // open, read until the end, close: the relay reads every queued message once, and a
      // stream's extra stat and EOF read per file showed in its profile.
      let handle: Awaited<ReturnType<typeof open>>
      try {
        handle = await open(pathOf(id), 'r')
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(id)
        throw error
      }
      try {
        let position = start
        for (;;) {
          const want = Math.min(READ_CHUNK, (end ?? Number.MAX_SAFE_INTEGER) - position)
          if (want <= 0) return
          const buffer = Buffer.allocUnsafe(want)
          const { bytesRead } = await handle.read(buffer, 0, want, position)
          if (bytesRead === 0) return
          position += bytesRead
          yield bytesRead === want ? buffer : buffer.subarray(0, bytesRead)
          if (bytesRead < want) return
        }
      } finally {
        await handle.close()
      }
    },

    async has(id) {
      return isBlobId(id) && exists(pathOf(id))
    },

    async close() {
      const open = [...shardFolders.values()]
      shardFolders.clear()
      await Promise.all(open.map((fd) => closeAsync(fd)))
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

const openAsync = promisify(openCallback)
const closeAsync = promisify(close)
const fsyncAsync = promisify(fsync)
const renameAsync = promisify(rename)
const writeAsync = (fd: number, buffer: Uint8Array, offset: number, length: number) =>
  new Promise<number>((resolve, reject) =>
    write(fd, buffer, offset, length, null, (error, written) =>
      error ? reject(error) : resolve(written),
    ),
  )

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
