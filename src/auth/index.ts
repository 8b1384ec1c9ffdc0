// src/auth: password hashes, SCRAM secrets, SASL mechanisms and failure throttling, shared by
// SMTP, IMAP and POP3.
export { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from './password-hash.ts'
export {
  createSaslExchange,
  decodeBase64,
  MAX_SASL_RESPONSE_OCTETS,
  malformedResponseText,
  runSaslExchange,
  SASL_MECHANISMS,
  type SaslChannel,
  type SaslCredentialStore,
  type SaslExchange,
  type SaslOutcome,
  type SaslStep,
} from './sasl/index.ts'
export {
  deriveScramCredentials,
  formatScramCredentials,
  parseScramCredentials,
  SCRAM_ITERATIONS,
  type ScramCredentials,
} from './scram-credentials.ts'
export {
  AuthThrottle,
  DEFAULT_THROTTLE,
  type ThrottleCheck,
  type ThrottleOptions,
} from './throttle.ts'
