// src/queue: the outbound queue's delivery side. Messages for other domains wait in the store
// until each recipient's server takes them (RFC 5321 §4.5.4.1): MX routing, the SMTP client,
// retries with backoff, and delivery status notifications (RFC 3464) to the sender.
export { buildDsn, type DsnInput, type DsnRecipient } from './dsn.ts'
export { OutboundQueue, type QueueOptions } from './queue.ts'
export { type Route, RouteError, type RouteHost, resolveRoute } from './route.ts'
