// The PostgreSQL backend: several Postern nodes on one database. Only server/open-store.ts (and
// this folder's tests) import it.
export { openPostgresStore, type PostgresStoreOptions } from './postgres-store.ts'
