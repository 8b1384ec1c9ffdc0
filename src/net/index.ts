export {
  Connection,
  type ConnectionOptions,
  isLoopback,
  isSocketError,
  normalizeAddress,
} from './connection.ts'
export { newConnectionId } from './connection-id.ts'
export {
  createDnsResolver,
  DnsError,
  type DnsErrorCode,
  type DnsResolver,
  type DnsResolverOptions,
  type MxRecord,
} from './dns-resolver.ts'
export { type AdmitResult, ConnectionLimiter, limitKey } from './ip-limits.ts'
export { ConnectionClosedError, type Line, LineReader, LineTooLongError } from './line-reader.ts'
export {
  type Listener,
  type ListenerOptions,
  type ProtocolHandler,
  startListener,
} from './listener.ts'
export { mayAuthenticateOn, OutputBuffer, type PlaintextPolicy } from './output-buffer.ts'
export { acceptTls } from './tls-accept.ts'
