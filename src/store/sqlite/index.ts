// The embedded backend: SQLite for metadata (coming with the rest of issue 4) and files for blobs.
export { openFileBlobStore } from './file-blob-store.ts'
