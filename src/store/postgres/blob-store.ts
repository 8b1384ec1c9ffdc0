import { createHash } from 'node:crypto'
import type pg from 'pg'
import { type BlobId, BlobNotFoundError, type BlobStore, isBlobId } from '../index.ts'
import { one, run } from './database.ts'

/** Octets read per query when a blob is streamed. */
const READ_CHUNK = 1024 * 1024

/**
 * Blobs as rows of blob_data, where every node reads them. Stored uncompressed (STORAGE
 * EXTERNAL), so a range is read without decompressing the whole value. Deliveries write their
 * bytes inside their own transaction (see message-rows.ts); put is for other writers.
 */
export function createPostgresBlobStore(pool: pg.Pool): BlobStore {
  const store: BlobStore = {
    async put(source) {
      const chunks: Buffer[] = []
      if (source instanceof Uint8Array) chunks.push(Buffer.from(source))
      else for await (const chunk of source) chunks.push(Buffer.from(chunk))
      const bytes = Buffer.concat(chunks)
      const id = createHash('sha256').update(bytes).digest('hex')
      await run(
        pool,
        'INSERT INTO blob_data (blob_id, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [id, bytes],
      )
      return { id, size: bytes.length }
    },

    async get(id) {
      const chunks: Buffer[] = []
      for await (const chunk of store.read(id)) chunks.push(chunk)
      return Buffer.concat(chunks)
    },

    async *read(id, start = 0, end) {
      if (!isBlobId(id)) throw new BlobNotFoundError(id)
      // The size comes with the first chunk: a small range (a header, a whole message) is one
      // round trip.
      const first = Math.min(READ_CHUNK, Math.max(0, (end ?? Number.MAX_SAFE_INTEGER) - start))
      const row = await one<{ size: number; part: Buffer }>(
        pool,
        `SELECT octet_length(bytes)::bigint AS size, substring(bytes FROM $2 FOR $3) AS part
         FROM blob_data WHERE blob_id = $1`,
        [id, start + 1, first],
      )
      if (!row) throw new BlobNotFoundError(id)
      const stop = Math.min(end ?? row.size, row.size)
      if (start >= stop) return
      yield row.part
      for (let offset = start + row.part.length; offset < stop; offset += READ_CHUNK) {
        const length = Math.min(READ_CHUNK, stop - offset)
        const chunk = await one<{ part: Buffer }>(
          pool,
          'SELECT substring(bytes FROM $2 FOR $3) AS part FROM blob_data WHERE blob_id = $1',
          [id, offset + 1, length],
        )
        if (!chunk) throw new BlobNotFoundError(id)
        yield chunk.part
      }
    },

    async has(id: BlobId) {
      return (
        isBlobId(id) &&
        (await one(pool, 'SELECT 1 FROM blob_data WHERE blob_id = $1', [id])) !== undefined
      )
    },

    async delete(id) {
      await run(pool, 'DELETE FROM blob_data WHERE blob_id = $1', [id])
    },
  }
  return store
}
