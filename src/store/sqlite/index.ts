// The embedded backend: SQLite for metadata and files for blobs. Only server/open-store.ts
// (and this folder's tests) import it.
export { openFileBlobStore } from './file-blob-store.ts'
export { MIGRATIONS as SQLITE_MIGRATIONS } from './schema.ts'
export {
  migrateSqliteStore,
  openSqliteStore,
  type SqliteStoreOptions,
  sqliteSchemaStatus,
} from './sqlite-store.ts'
