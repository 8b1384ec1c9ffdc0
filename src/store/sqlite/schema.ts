import {
  type Migration,
  pendingMigrations,
  type SchemaStatus,
  SchemaVersionError,
} from '../index.ts'
import type { Connection } from './connection.ts'

// System flag bits (store/names.ts systemFlagBit): \Seen = 1, \Deleted = 8. The triggers keep
// every counter in the same transaction as the change, so counts can never drift from rows.
const VERSION_1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

CREATE TABLE domains (
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  address TEXT NOT NULL UNIQUE,
  domain TEXT NOT NULL REFERENCES domains (name),
  password_hash TEXT NOT NULL,
  scram_sha256 TEXT NOT NULL,
  quota_storage INTEGER,
  quota_messages INTEGER,
  storage_used INTEGER NOT NULL DEFAULT 0,
  messages_used INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE INDEX accounts_domain ON accounts (domain);

CREATE TABLE aliases (
  source TEXT NOT NULL,
  target TEXT NOT NULL,
  domain TEXT NOT NULL REFERENCES domains (name),
  position INTEGER NOT NULL,
  PRIMARY KEY (source, target)
) WITHOUT ROWID;
CREATE INDEX aliases_domain ON aliases (domain);

CREATE TABLE mailboxes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id INTEGER NOT NULL REFERENCES accounts (id),
  name TEXT NOT NULL,
  role TEXT,
  uid_validity INTEGER NOT NULL,
  uid_next INTEGER NOT NULL DEFAULT 1,
  highest_modseq INTEGER NOT NULL DEFAULT 1,
  messages INTEGER NOT NULL DEFAULT 0,
  unseen INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  UNIQUE (account_id, name),
  UNIQUE (account_id, role)
);

CREATE TABLE subscriptions (
  account_id INTEGER NOT NULL REFERENCES accounts (id),
  name TEXT NOT NULL,
  PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

-- One row per distinct message content: its metadata, parsed once, and how many mailbox
-- entries refer to it. A row whose refcount reaches 0 is garbage; its file goes with it.
CREATE TABLE blobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  blob_id TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  refcount INTEGER NOT NULL,
  metadata TEXT NOT NULL
);
CREATE INDEX blobs_garbage ON blobs (refcount) WHERE refcount = 0;

-- IMAP SEARCH is substring matching: the trigram tokenizer indexes every 3-character run.
-- detail=column keeps which column a trigram is in but not where: half the size of a full
-- index, and the candidates it finds are checked against the text anyway (search.ts).
CREATE VIRTUAL TABLE blob_text USING fts5 (headers, body, tokenize = 'trigram', detail = column);

CREATE TABLE messages (
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  blob INTEGER NOT NULL REFERENCES blobs (id),
  flags INTEGER NOT NULL,
  keywords TEXT,
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);

-- What QRESYNC's VANISHED (RFC 7162 §3.2.10) needs: which UID went, at which MODSEQ.
CREATE TABLE expunged (
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);

CREATE TRIGGER messages_insert AFTER INSERT ON messages BEGIN
  UPDATE mailboxes SET
    messages = messages + 1,
    unseen = unseen + ((NEW.flags & 1) = 0),
    deleted = deleted + ((NEW.flags & 8) != 0),
    size = size + NEW.size
  WHERE id = NEW.mailbox_id;
  UPDATE accounts SET storage_used = storage_used + NEW.size, messages_used = messages_used + 1
  WHERE id = (SELECT account_id FROM mailboxes WHERE id = NEW.mailbox_id);
  UPDATE blobs SET refcount = refcount + 1 WHERE id = NEW.blob;
END;

CREATE TRIGGER messages_delete AFTER DELETE ON messages BEGIN
  UPDATE mailboxes SET
    messages = messages - 1,
    unseen = unseen - ((OLD.flags & 1) = 0),
    deleted = deleted - ((OLD.flags & 8) != 0),
    size = size - OLD.size
  WHERE id = OLD.mailbox_id;
  UPDATE accounts SET storage_used = storage_used - OLD.size, messages_used = messages_used - 1
  WHERE id = (SELECT account_id FROM mailboxes WHERE id = OLD.mailbox_id);
  UPDATE blobs SET refcount = refcount - 1 WHERE id = OLD.blob;
END;

CREATE TRIGGER messages_flags AFTER UPDATE OF flags ON messages BEGIN
  UPDATE mailboxes SET
    unseen = unseen + ((NEW.flags & 1) = 0) - ((OLD.flags & 1) = 0),
    deleted = deleted + ((NEW.flags & 8) != 0) - ((OLD.flags & 8) != 0)
  WHERE id = NEW.mailbox_id;
END;
`

// The outbound queue (RFC 5321 §4.5.4.1: a message waits until each recipient is delivered or
// given up on). An entry holds one reference to its blob, which never changes, kept by triggers
// as the messages' are, so the collector and the orphan sweep never take bytes the queue needs.
// submitted_by has no foreign key: removing an account leaves what it sent in the queue, and
// account ids are never reused (AUTOINCREMENT), so the number keeps naming who sent it.
const VERSION_2 = `
CREATE TABLE queue_entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  blob INTEGER NOT NULL REFERENCES blobs (id),
  size INTEGER NOT NULL,
  sender TEXT NOT NULL,
  envid TEXT,
  ret TEXT CHECK (ret IN ('full', 'hdrs')),
  body TEXT NOT NULL CHECK (body IN ('7bit', '8bitmime', 'binarymime')),
  smtputf8 INTEGER NOT NULL CHECK (smtputf8 IN (0, 1)),
  submitted_by INTEGER,
  created_at INTEGER NOT NULL
);
-- Removing a blob row checks that no entry refers to it: an index, not a scan of the queue.
CREATE INDEX queue_entries_blob ON queue_entries (blob);

-- notify is RFC 3461 NOTIFY as sent ("NEVER", "SUCCESS,DELAY"), NULL when none was given.
-- lease_owner and lease_until are for the delivery side: a worker claims a due recipient for a
-- while, so that two never relay the same one (PostgreSQL: FOR UPDATE SKIP LOCKED).
CREATE TABLE queue_recipients (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  entry_id INTEGER NOT NULL REFERENCES queue_entries (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  address TEXT NOT NULL,
  orcpt TEXT,
  notify TEXT,
  status TEXT NOT NULL CHECK (status IN ('pending', 'deferred', 'delivered', 'bounced')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  last_attempt_at INTEGER,
  last_reply TEXT,
  lease_owner TEXT,
  lease_until INTEGER,
  UNIQUE (entry_id, position)
);
-- What the scheduler asks: which recipients are due.
CREATE INDEX queue_recipients_due ON queue_recipients (status, next_attempt_at);

CREATE TRIGGER queue_entries_insert AFTER INSERT ON queue_entries BEGIN
  UPDATE blobs SET refcount = refcount + 1 WHERE id = NEW.blob;
END;

CREATE TRIGGER queue_entries_delete AFTER DELETE ON queue_entries BEGIN
  UPDATE blobs SET refcount = refcount - 1 WHERE id = OLD.blob;
END;
`

// Search text waiting for the trigram index. A delivery writes its text here, which costs a
// plain row; text-index.ts moves it into blob_text moments later, outside the delivery's
// transaction, because building the trigram index of a large body took a third of the time of
// receiving it. searchText reads both tables, so a search never misses a message.
const VERSION_3 = `
CREATE TABLE blob_text_pending (
  id INTEGER PRIMARY KEY,
  headers TEXT NOT NULL,
  body TEXT NOT NULL
);
`

// The delivery side of the queue: whether a delay notice went out per recipient, and an index
// for the leases a node renews and releases.
const VERSION_4 = `
ALTER TABLE queue_recipients ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;
CREATE INDEX queue_recipients_lease ON queue_recipients (lease_owner) WHERE lease_owner IS NOT NULL;
`

// What POP3 needs. crlf_size is the size POP3 reports (src/mime crlfSize), computed when the
// bytes are first stored; rows stored before stay NULL and their readers compute it. A mailbox
// lock is POP3's exclusive maildrop (RFC 1939 §8) as a lease, in the database so that it holds
// across processes: holder is NULL once released, and acquired_at (kept on release) is when it was
// last taken, for RFC 2449 LOGIN-DELAY. Rows go with their mailbox, as its expunged rows do.
// apop_secret is APOP's shared secret (RFC 1939 §7), NULL unless the operator turned APOP on.
const VERSION_5 = `
ALTER TABLE blobs ADD COLUMN crlf_size INTEGER;
ALTER TABLE accounts ADD COLUMN apop_secret TEXT;
CREATE TABLE mailbox_locks (
  mailbox_id INTEGER PRIMARY KEY,
  holder TEXT,
  expires_at INTEGER NOT NULL,
  acquired_at INTEGER NOT NULL
);
`

// Claiming due recipients: the unleased ones by due time, the leased ones by when their lease
// ends. A claim then reads the first rows of each, where the old (status, next_attempt_at) index
// made it step over every live lease (they are the oldest due rows) and sort every due row, for
// each claim: 8% of the main thread when relaying 2,000 queued messages, and more as the queue
// grows. The queries that read the old index otherwise are rare commands that may scan.
const VERSION_6 = `
DROP INDEX queue_recipients_due;
CREATE INDEX queue_recipients_waiting ON queue_recipients (next_attempt_at)
  WHERE status IN ('pending', 'deferred') AND lease_owner IS NULL;
CREATE INDEX queue_recipients_leased ON queue_recipients (lease_until)
  WHERE lease_owner IS NOT NULL;
`

/** The schema's history; version N's statements take a version N - 1 database to N. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'accounts, mailboxes, messages, search text, blob references',
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
    description: 'search text indexed after delivery, not during it',
    sql: VERSION_3,
  },
  {
    version: 4,
    description: 'outbound queue: delay notices, lease index',
    sql: VERSION_4,
  },
  {
    version: 5,
    description: 'POP3: message sizes as sent, mailbox locks, APOP secrets',
    sql: VERSION_5,
  },
  {
    version: 6,
    description: 'outbound queue: claims read due and expired-lease recipients by index',
    sql: VERSION_6,
  },
]

/** The version recorded in the database; 0 when it is empty. */
function currentVersion(connection: Connection): number {
  const hasMeta = connection.get(
    "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
  )
  if (!hasMeta) return 0
  return Number(
    connection.get<{ value: number }>("SELECT value FROM meta WHERE key = 'schema_version'")
      ?.value ?? 0,
  )
}

export function schemaStatus(
  connection: Connection,
  migrations: readonly Migration[] = MIGRATIONS,
): SchemaStatus {
  const current = currentVersion(connection)
  return {
    current,
    latest: migrations.length,
    pending: pendingMigrations(migrations, current).map(({ version, description }) => ({
      version,
      description,
    })),
  }
}

/**
 * Applies the pending migrations, each in its own transaction with the version it reaches, so
 * a crash leaves the database at one version or the next, never between.
 */
export function migrate(
  connection: Connection,
  migrations: readonly Migration[] = MIGRATIONS,
): SchemaStatus {
  for (const migration of pendingMigrations(migrations, currentVersion(connection))) {
    connection.write(() => {
      // Another process may have migrated meanwhile; the write lock makes this check exact.
      if (currentVersion(connection) >= migration.version) return
      connection.db.exec(migration.sql)
      connection.run("UPDATE meta SET value = ? WHERE key = 'schema_version'", migration.version)
    })
  }
  return schemaStatus(connection, migrations)
}

/**
 * At open: an empty database gets the whole schema (the embedded default needs no set-up); one
 * at the version this code knows is used as it is; any other is refused with
 * SchemaVersionError, which says what to run.
 */
export function prepareSchema(
  connection: Connection,
  migrations: readonly Migration[] = MIGRATIONS,
): void {
  const current = currentVersion(connection)
  if (current === 0) {
    migrate(connection, migrations)
    return
  }
  if (current !== migrations.length) throw new SchemaVersionError(current, migrations.length)
}
