// src/smtp/proto: the SMTP wire grammar with no I/O — commands, paths, ESMTP parameters, replies
// and DATA transparency. The server, the queue's client and tests share it.
export { type CommandParse, parseCommand, type SmtpCommand, type SmtpVerb } from './command.ts'
export { type BodyCheck, ChunkCollector, DataDecoder, dotStuff } from './dot-stuffing.ts'
export {
  type DsnNotify,
  decodeXtext,
  encodeXtext,
  type MailParams,
  parseMailParams,
  parseRcptParams,
  type RcptParams,
} from './esmtp-params.ts'
export * from './limits.ts'
export {
  formatMailbox,
  type PathParse,
  parseMailbox,
  parsePath,
  type SmtpMailbox,
  type SmtpPath,
} from './path.ts'
export { formatReply, isPositive, type Reply, reply, sanitizeReplyText } from './reply.ts'
