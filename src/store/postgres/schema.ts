import type pg from 'pg'
import {
  type Migration,
  pendingMigrations,
  type SchemaStatus,
  SchemaVersionError,
} from '../index.ts'

/** Taken while the schema is created, so that nodes starting together do not race. */
const SCHEMA_LOCK = 0x706f7374 // "post"

// System flag bits (store/names.ts systemFlagBit): \Seen = 1, \Deleted = 8. The trigger keeps
// every counter in the same transaction as the change, as the SQLite backend's triggers do.
// Search text is stored folded to lower case (src/store textMatches compares folded text), so
// LIKE is exact whatever the database's collation, and pg_trgm's GIN indexes serve it.
const VERSION_1 = `
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE meta (key text PRIMARY KEY, value bigint NOT NULL);

CREATE TABLE domains (name text PRIMARY KEY, created_at bigint NOT NULL);

CREATE TABLE accounts (
  id bigserial PRIMARY KEY,
  address text NOT NULL UNIQUE,
  domain text NOT NULL REFERENCES domains (name),
  password_hash text NOT NULL,
  scram_sha256 text NOT NULL,
  quota_storage bigint,
  quota_messages bigint,
  storage_used bigint NOT NULL DEFAULT 0,
  messages_used bigint NOT NULL DEFAULT 0,
  created_at bigint NOT NULL
);
CREATE INDEX accounts_domain ON accounts (domain);

CREATE TABLE aliases (
  source text NOT NULL,
  target text NOT NULL,
  domain text NOT NULL REFERENCES domains (name),
  position integer NOT NULL,
  PRIMARY KEY (source, target)
);
CREATE INDEX aliases_domain ON aliases (domain);

CREATE TABLE mailboxes (
  id bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts (id),
  name text NOT NULL,
  role text,
  uid_validity bigint NOT NULL,
  uid_next bigint NOT NULL DEFAULT 1,
  highest_modseq bigint NOT NULL DEFAULT 1,
  messages bigint NOT NULL DEFAULT 0,
  unseen bigint NOT NULL DEFAULT 0,
  deleted bigint NOT NULL DEFAULT 0,
  size bigint NOT NULL DEFAULT 0,
  UNIQUE (account_id, name),
  UNIQUE (account_id, role)
);

CREATE TABLE subscriptions (
  account_id bigint NOT NULL REFERENCES accounts (id),
  name text NOT NULL,
  PRIMARY KEY (account_id, name)
);

CREATE TABLE blobs (
  id bigserial PRIMARY KEY,
  blob_id text NOT NULL UNIQUE,
  size bigint NOT NULL,
  refcount bigint NOT NULL,
  metadata text NOT NULL,
  headers_folded text NOT NULL,
  body_folded text NOT NULL
);
CREATE INDEX blobs_garbage ON blobs (id) WHERE refcount = 0;
CREATE INDEX blobs_headers_trgm ON blobs USING gin (headers_folded gin_trgm_ops);
CREATE INDEX blobs_body_trgm ON blobs USING gin (body_folded gin_trgm_ops);

-- Message bytes, readable by every node. Stored uncompressed so that reading a range (IMAP
-- partial fetches) does not decompress the whole value.
CREATE TABLE blob_data (blob_id text PRIMARY KEY, bytes bytea NOT NULL);
ALTER TABLE blob_data ALTER COLUMN bytes SET STORAGE EXTERNAL;

CREATE TABLE messages (
  mailbox_id bigint NOT NULL,
  uid bigint NOT NULL,
  blob bigint NOT NULL REFERENCES blobs (id),
  flags integer NOT NULL,
  keywords text,
  internal_date bigint NOT NULL,
  size bigint NOT NULL,
  modseq bigint NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE INDEX messages_blob ON messages (blob);

CREATE TABLE expunged (
  mailbox_id bigint NOT NULL,
  uid bigint NOT NULL,
  modseq bigint NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);

CREATE FUNCTION messages_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE mailboxes SET
      messages = messages + 1,
      unseen = unseen + (NEW.flags & 1 = 0)::int,
      deleted = deleted + (NEW.flags & 8 <> 0)::int,
      size = size + NEW.size
    WHERE id = NEW.mailbox_id;
    UPDATE accounts SET storage_used = storage_used + NEW.size, messages_used = messages_used + 1
    WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
    UPDATE blobs SET refcount = refcount + 1 WHERE id = NEW.blob;
    RETURN NEW;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE mailboxes SET
      messages = messages - 1,
      unseen = unseen - (OLD.flags & 1 = 0)::int,
      deleted = deleted - (OLD.flags & 8 <> 0)::int,
      size = size - OLD.size
    WHERE id = OLD.mailbox_id;
    UPDATE accounts SET storage_used = storage_used - OLD.size, messages_used = messages_used - 1
    WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
    UPDATE blobs SET refcount = refcount - 1 WHERE id = OLD.blob;
    RETURN OLD;
  ELSE
    UPDATE mailboxes SET
      unseen = unseen + (NEW.flags & 1 = 0)::int - (OLD.flags & 1 = 0)::int,
      deleted = deleted + (NEW.flags & 8 <> 0)::int - (OLD.flags & 8 <> 0)::int
    WHERE id = NEW.mailbox_id;
    RETURN NEW;
  END IF;
END $$;

CREATE TRIGGER messages_counters AFTER INSERT OR DELETE OR UPDATE OF flags ON messages
  FOR EACH ROW EXECUTE FUNCTION messages_counters();
`

// The outbound queue, as the SQLite backend keeps it (see its schema.ts for the reasons): an
// entry holds one reference to its blob, which never changes, kept by a trigger as the
// messages' are; submitted_by has no foreign key, so removing an account leaves what it sent
// in the queue (bigserial ids are never reused). lease_owner and lease_until are for the
// delivery side, which claims due recipients with FOR UPDATE SKIP LOCKED.
const VERSION_2 = `
CREATE TABLE queue_entries (
  id bigserial PRIMARY KEY,
  blob bigint NOT NULL REFERENCES blobs (id),
  size bigint NOT NULL,
  sender text NOT NULL,
  envid text,
  ret text CHECK (ret IN ('full', 'hdrs')),
  body text NOT NULL CHECK (body IN ('7bit', '8bitmime', 'binarymime')),
  smtputf8 boolean NOT NULL,
  submitted_by bigint,
  created_at bigint NOT NULL
);
CREATE INDEX queue_entries_blob ON queue_entries (blob);

CREATE TABLE queue_recipients (
  id bigserial PRIMARY KEY,
  entry_id bigint NOT NULL REFERENCES queue_entries (id) ON DELETE CASCADE,
  position integer NOT NULL,
  address text NOT NULL,
  orcpt text,
  notify text,
  status text NOT NULL CHECK (status IN ('pending', 'deferred', 'delivered', 'bounced')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at bigint,
  last_attempt_at bigint,
  last_reply text,
  lease_owner text,
  lease_until bigint,
  UNIQUE (entry_id, position)
);
CREATE INDEX queue_recipients_due ON queue_recipients (status, next_attempt_at);

CREATE FUNCTION queue_entries_blob_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE blobs SET refcount = refcount + 1 WHERE id = NEW.blob;
    RETURN NEW;
  END IF;
  UPDATE blobs SET refcount = refcount - 1 WHERE id = OLD.blob;
  RETURN OLD;
END $$;

CREATE TRIGGER queue_entries_blob_refs AFTER INSERT OR DELETE ON queue_entries
  FOR EACH ROW EXECUTE FUNCTION queue_entries_blob_refs();
`

// The delivery side of the queue, as in the SQLite backend's version 4.
const VERSION_3 = `
ALTER TABLE queue_recipients ADD COLUMN delay_notified boolean NOT NULL DEFAULT false;
CREATE INDEX queue_recipients_lease ON queue_recipients (lease_owner) WHERE lease_owner IS NOT NULL;
`

// What POP3 needs, as in the SQLite backend's version 5 (see there): the size POP3 reports,
// NULL for bytes stored before; mailbox locks (leases, times in milliseconds as elsewhere here);
// the APOP secret.
const VERSION_4 = `
ALTER TABLE blobs ADD COLUMN crlf_size bigint;
ALTER TABLE accounts ADD COLUMN apop_secret text;
CREATE TABLE mailbox_locks (
  mailbox_id bigint PRIMARY KEY,
  holder text,
  expires_at bigint NOT NULL,
  acquired_at bigint NOT NULL
);
`

/** The schema's history; version N's statements take a version N - 1 database to N. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'accounts, mailboxes, messages, message bytes, search text, change triggers',
    sql: `${VERSION_1}
INSERT INTO meta (key, value) VALUES ('schema_version', 0), ('last_uid_validity', 0);`,
  },
  {
    version: 2,
    description: 'outbound queue: entries, recipients, blob references',
    sql: VERSION_2,
  },
  {
    version: 3,
    description: 'outbound queue: delay notices, lease index',
    sql: VERSION_3,
  },
  {
    version: 4,
    description: 'POP3: message sizes as sent, mailbox locks, APOP secrets',
    sql: VERSION_4,
  },
]

async function currentVersion(client: pg.ClientBase): Promise<number> {
  const exists = await client.query("SELECT to_regclass('meta') IS NOT NULL AS found")
  if (!exists.rows[0]?.found) return 0
  const row = await client.query("SELECT value FROM meta WHERE key = 'schema_version'")
  return Number(row.rows[0]?.value ?? 0)
}

export async function schemaStatus(
  pool: pg.Pool,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<SchemaStatus> {
  const client = await pool.connect()
  try {
    const current = await currentVersion(client)
    return {
      current,
      latest: migrations.length,
      pending: pendingMigrations(migrations, current).map(({ version, description }) => ({
        version,
        description,
      })),
    }
  } finally {
    client.release()
  }
}

/**
 * Applies the pending migrations, each in its own transaction with the version it reaches and
 * under an advisory lock, so nodes starting or migrating together apply each step once.
 */
export async function migrate(
  pool: pg.Pool,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<SchemaStatus> {
  const client = await pool.connect()
  try {
    for (const migration of pendingMigrations(migrations, await currentVersion(client))) {
      await client.query('BEGIN')
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK])
        if ((await currentVersion(client)) < migration.version) {
          await client.query(migration.sql)
          await client.query("UPDATE meta SET value = $1 WHERE key = 'schema_version'", [
            migration.version,
          ])
        }
        await client.query('COMMIT')
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        throw error
      }
    }
  } finally {
    client.release()
  }
  return schemaStatus(pool, migrations)
}

/**
 * At open: an empty database gets the whole schema; one at the version this code knows is used
 * as it is; any other is refused with SchemaVersionError, which says what to run.
 */
export async function prepareSchema(
  pool: pg.Pool,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<void> {
  const status = await schemaStatus(pool, migrations)
  if (status.current === 0) {
    await migrate(pool, migrations)
    return
  }
  if (status.current !== status.latest) {
    throw new SchemaVersionError(status.current, status.latest)
  }
}
