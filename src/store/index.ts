// src/store: the storage interface the protocols and services use, and its shared types. Each
// backend lives in its own folder; only server/open-store.ts picks one.
export {
  type AcceptPlan,
  type AttemptPlan,
  type PlannedDelivery,
  type PlannedTarget,
  planAccept,
  planAttempt,
  queuePage,
} from './accept-plan.ts'
export { type BlobId, BlobNotFoundError, type BlobStore, isBlobId } from './blob-store.ts'
export { ChangeFeed } from './change-feed.ts'
export { describeMessage, type MessageDescription } from './describe-message.ts'
export { ConflictError, InvalidNameError, NotFoundError, QuotaExceededError } from './errors.ts'
export { applyFlags, type StoredFlags } from './flag-changes.ts'
export * from './limits.ts'
export {
  holdsMailboxLock,
  type MailboxLockRequest,
  type MailboxLockRow,
  planMailboxLock,
  toMailboxLockRow,
} from './mailbox-lock.ts'
export {
  checkFlags,
  checkMailboxName,
  flagList,
  MAILBOX_SEPARATOR,
  parentNames,
  systemFlagBit,
} from './names.ts'
export * as shape from './row-shape.ts'
export {
  type Migration,
  pendingMigrations,
  type SchemaStatus,
  SchemaVersionError,
} from './schema-version.ts'
export { queryTrigrams, textMatches } from './text-match.ts'
export * from './types.ts'
export { normalizeRanges } from './uid-ranges.ts'
