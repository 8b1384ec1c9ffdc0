import type { LocalRecipient } from '../directory/index.ts'
import type { AccountId, DsnNotify } from '../store/index.ts'

/** One accepted RCPT TO, with what it resolved to when it was accepted. */
export interface EnvelopeRecipient {
  /** The forward-path mailbox as the client wrote it. */
  address: string
  /** RFC 3461 ORCPT ("rfc822;user@example.org"), or null. */
  originalRecipient: string | null
  /** RFC 3461 NOTIFY: null when absent, [] for NEVER. */
  notify: DsnNotify[] | null
  /** Local accounts it reaches (after alias expansion), each with its subaddress tag. */
  local: LocalRecipient[]
  /** Addresses to relay to: the recipient itself when it is remote, or an alias's remote targets. */
  remote: string[]
}

/** A message's envelope: what MAIL FROM and RCPT TO said (RFC 5321 §2.3.1). */
export interface Envelope {
  /** The reverse-path; '' for the null sender <>. */
  sender: string
  recipients: readonly EnvelopeRecipient[]
  body: '7bit' | '8bitmime'
  smtputf8: boolean
  /** RFC 3461 ENVID and RET. */
  envelopeId: string | null
  ret: 'full' | 'hdrs' | null
  /** The authenticated account that submitted the message; null for MX mail. */
  submittedBy: AccountId | null
  /**
   * Recipients (as written in RCPT TO) whose local copies go to the account's Junk mailbox:
   * inbound authentication said to quarantine the message for their domain.
   */
  quarantine?: ReadonlySet<string>
  /**
   * Fields only the copy relayed onwards gets, above the trace fields: the ARC set sealed for
   * mail an alias forwards to a remote address (RFC 8617 §5.1).
   */
  forwardHead?: string
}
