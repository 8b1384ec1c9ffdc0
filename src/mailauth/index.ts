// src/mailauth: the policy around mail authentication, with the npm package mailauth doing the
// cryptography and record parsing: inbound SPF, DKIM, DMARC and ARC on the MX listener with
// one Authentication-Results field (RFC 8601), DKIM signing of submitted mail, ARC sealing of
// forwarded mail, and MTA-STS (RFC 8461) for relaying and for Postern's own domains.

// Inbound verification (inbound.ts, auth-results.ts, dns.ts).

// DKIM keys and signing (dkim-keys.ts, dkim-sign.ts).

// MTA-STS (mta-sts*.ts).
