// src/client/fetch: `postern fetch`, which downloads mail from another server, and the POP3 and
// IMAP clients it uses. Other folders import these pieces from here only.
export { type FetchOptions, type FetchSummary, runFetch } from './fetch.ts'
export {
  type IdleOutcome,
  ImapClient,
  type ImapConnectOptions,
  type ImapMailboxInfo,
  type ImapMessageInfo,
} from './imap-client.ts'
export {
  MailClientError,
  type MailClientErrorKind,
  type MailConnectOptions,
} from './mail-socket.ts'
export {
  Pop3Client,
  type Pop3ConnectOptions,
  type Pop3ListEntry,
  type Pop3UidlEntry,
} from './pop3-client.ts'
