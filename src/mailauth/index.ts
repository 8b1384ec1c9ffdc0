// src/mailauth: the policy around mail authentication, with the npm package mailauth doing the
// cryptography and record parsing: inbound SPF, DKIM, DMARC and ARC on the MX listener with
// one Authentication-Results field (RFC 8601), DKIM signing of submitted mail, ARC sealing of
// forwarded mail, and MTA-STS (RFC 8461) for relaying and for Postern's own domains.

// Inbound verification (inbound.ts, auth-results.ts, dns.ts).
export { authservIdOf, removeForgedAuthResults } from './auth-results.ts'
export { type MailauthResolver, mailauthResolver } from './dns.ts'
export {
  createInboundVerifier,
  type InboundAction,
  type InboundMessage,
  type InboundVerdict,
  type InboundVerifier,
} from './inbound.ts'
