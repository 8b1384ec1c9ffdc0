// src/mailauth: the policy around mail authentication, with the npm package mailauth doing the
// cryptography and record parsing: inbound SPF, DKIM, DMARC and ARC on the MX listener with
// one Authentication-Results field (RFC 8601), DKIM signing of submitted mail, ARC sealing of
// forwarded mail, and MTA-STS (RFC 8461) for relaying and for Postern's own domains.

// Inbound verification (inbound.ts, auth-results.ts, dns.ts).
export { authservIdOf, removeForgedAuthResults } from './auth-results.ts'
// DKIM keys and signing (dkim-keys.ts, dkim-sign.ts).
export {
  activateDkimKey,
  type DkimAlgorithm,
  type DkimDnsRecord,
  type DkimKey,
  type DkimKeyProblem,
  type DkimKeyState,
  dkimDnsRecord,
  dkimDomain,
  generateDkimKey,
  type LoadedDkimKey,
  listDkimKeys,
  loadDkimKeys,
  removeDkimKey,
} from './dkim-keys.ts'
export {
  createDkimSigner,
  DKIM_SIGNED_HEADERS,
  type DkimSigner,
  type DkimSignerOptions,
} from './dkim-sign.ts'
export { type MailauthResolver, mailauthResolver } from './dns.ts'
export {
  type CheckRow,
  type CheckStatus,
  checkDomain,
  type DomainCheckInput,
  formatDomainCheck,
} from './domain-check.ts'
export {
  createInboundVerifier,
  type InboundAction,
  type InboundMessage,
  type InboundVerdict,
  type InboundVerifier,
  type SealKey,
} from './inbound.ts'

// MTA-STS (mta-sts*.ts).
export {
  certificateMatchesHost,
  MAX_AGE_LIMIT_S,
  MtaStsError,
  type MtaStsMode,
  type MtaStsPolicy,
  mxMatches,
  ownPolicyId,
  ownPolicyText,
  ownStsRecord,
  parseStsPolicy,
  parseStsRecord,
  policyExpiresAt,
  type StsRecord,
  verifiedTlsOptions,
} from './mta-sts.ts'
export {
  CACHE_FILE as MTA_STS_CACHE_FILE,
  MtaStsPolicies,
  type MtaStsPoliciesOptions,
  type OpenMtaStsOptions,
  openMtaStsPolicies,
} from './mta-sts-cache.ts'
export { fetchPolicyText, MAX_POLICY_OCTETS, type PolicyFetchOptions } from './mta-sts-fetch.ts'
