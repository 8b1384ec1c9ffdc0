// The PostgreSQL backend: several Postern nodes on one database. Only server/open-store.ts (and
// this folder's tests) import it.
export {
  migratePostgresStore,
  openPostgresStore,
  type PostgresStoreOptions,
  postgresSchemaStatus,
} from './postgres-store.ts'
export { MIGRATIONS as POSTGRES_MIGRATIONS } from './schema.ts'
