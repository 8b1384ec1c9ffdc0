// src/pop3/proto: the POP3 wire format with no I/O (RFC 1939, RFC 2449, RFC 5034): commands,
// responses, message transparency and unique ids. The server and tests share it.
export {
  POP3_VERBS,
  type Pop3Command,
  type Pop3CommandParse,
  type Pop3Verb,
  parseCommand,
  parseLineCount,
  parseMessageNumber,
} from './command.ts'
export * from './limits.ts'
export { MessageEncoder } from './message-encoder.ts'
export { err, multiline, ok, type Pop3ResponseCode } from './response.ts'
export { uniqueId } from './unique-id.ts'
