// src/store: the storage interface the protocols and services use, and its shared types. Each
// backend lives in its own folder; only server/open-store.ts picks one.
export { type BlobId, BlobNotFoundError, type BlobStore, isBlobId } from './blob-store.ts'
