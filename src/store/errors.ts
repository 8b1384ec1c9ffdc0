/** A thing the caller named does not exist (an account, a mailbox, a domain, a message). */
export class NotFoundError extends Error {
  override name = 'NotFoundError'
}

/** The change would contradict what is stored: a duplicate, INBOX deleted, a non-empty domain. */
export class ConflictError extends Error {
  override name = 'ConflictError'
}

/** A mailbox name, flag or address the store cannot hold. */
export class InvalidNameError extends Error {
  override name = 'InvalidNameError'
}

/** A copy or move would take the account past its quota (RFC 9208 §4.1: nothing is copied). */
export class QuotaExceededError extends Error {
  override name = 'QuotaExceededError'
  readonly resource: 'storage' | 'messages'

  constructor(resource: 'storage' | 'messages', message: string) {
    super(message)
    this.resource = resource
  }
}
