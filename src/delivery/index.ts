// src/delivery: commits an accepted message for its recipients — a copy per local account into
// the store, remote recipients into the outbound queue — in one transaction, before SMTP says 250.
export type { Envelope, EnvelopeRecipient } from './envelope.ts'
export {
  createDelivery,
  type Delivery,
  type DeliveryOptions,
  type DeliveryOutcome,
  isOverQuota,
  MAILBOX_FULL,
} from './local-delivery.ts'
