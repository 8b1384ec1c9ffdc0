/** A blob's id: the SHA-256 of its octets, in lower-case hex. Equal bytes share one blob. */
export type BlobId = string

/**
 * Where message bytes live (DESIGN.md invariant 5): content-addressed, immutable, written
 * durably before anything refers to them. Which messages refer to a blob is the store's
 * business (reference counts live with the metadata); the blob store only keeps bytes.
 * The embedded backend keeps files under the data dir; PostgreSQL will keep rows.
 */
export interface BlobStore {
  /**
   * Stores the octets and resolves with their id once they are durable: after that, a crash
   * cannot lose them. Storing bytes that are already stored writes nothing new.
   */
  put(source: Uint8Array | AsyncIterable<Uint8Array>): Promise<{ id: BlobId; size: number }>
  /** The whole blob. @throws BlobNotFoundError */
  get(id: BlobId): Promise<Buffer>
  /** Octets [start, end) of the blob, streamed (IMAP partial fetches of large messages). */
  read(id: BlobId, start?: number, end?: number): AsyncIterable<Buffer>
  has(id: BlobId): Promise<boolean>
  /** Removes the blob; removing one that is not there is not an error. */
  delete(id: BlobId): Promise<void>
  /** Releases what the store holds open (file descriptors); no call may follow. */
  close?(): Promise<void>
}

export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError'
  readonly id: BlobId

  constructor(id: BlobId) {
    super(`Cannot find blob "${id}"`)
    this.id = id
  }
}

export function isBlobId(text: string): boolean {
  return /^[0-9a-f]{64}$/.test(text)
}
