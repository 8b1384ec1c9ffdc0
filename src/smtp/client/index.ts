// src/smtp/client: the outbound SMTP client (RFC 5321) the queue delivers with: EHLO with the
// HELO fallback, STARTTLS, AUTH, pipelined transactions, DATA or BDAT, per-reply timeouts.
export { noCapabilities, parseCapabilities, type SmtpCapabilities } from './capabilities.ts'
export { SmtpClient } from './client.ts'
export type {
  MessageSource,
  SendEnvelope,
  SendRecipient,
  SendResult,
} from './envelope.ts'
export { describeReply, SmtpClientError, type SmtpClientErrorKind } from './errors.ts'
export { type ConnectOptions, DEFAULT_TIMEOUTS, type SmtpTimeouts } from './options.ts'
export {
  MAX_REPLY_LINE_OCTETS,
  MAX_REPLY_LINES,
  ReplyReader,
  SmtpReplyError,
} from './reply-reader.ts'
