// MTA-STS (RFC 8461 §4 and §5) applied to one delivery attempt by MX: which hosts may be tried,
// what TLS each connection must have, and what happens when a host falls short. Under an
// "enforce" policy a host that does not match, offers no STARTTLS or shows a certificate that
// is not valid for its name is skipped, and when none is left the recipients are deferred,
// never sent in clear (§5: senders "MUST NOT deliver the message to hosts that fail"). Under
// "testing" everything goes as without a policy, and each would-be failure is logged (§5).
// The policy itself comes from src/mailauth (MtaStsPolicies); the smart host path never gets
// here (relay.ts).
import { type ConnectionOptions, checkServerIdentity } from 'node:tls'
import type { RelayConfig } from '../config/index.ts'
import {
  certificateMatchesHost,
  type MtaStsPolicies,
  type MtaStsPolicy,
  mxMatches,
  verifiedTlsOptions,
} from '../mailauth/index.ts'
import type { SmtpCapabilities } from '../smtp/client/index.ts'
import type { Logger } from '../util/index.ts'

/**
 * The status of a recipient deferred by an enforced policy; RFC 8461 defines none. RFC 3463
 * X.7.5 "cryptographic failure" (what securing the transfer needed was unavailable or invalid)
 * is the closest: Postfix gives it to certificate failures under its own TLS enforcement, and
 * X.7.4 (its choice for a host without STARTTLS) is "useful only as a permanent error". The 4
 * keeps it temporary: §5.1 forbids failing a message for good before looking for a new policy,
 * which every retry does.
 */
export const STS_STATUS = '4.7.5'

/** A host that fails an enforced policy: it gets nothing, the next one is tried (§5.1 step 2). */
export class StsViolation extends Error {
  override readonly name = 'StsViolation'
}

interface Host {
  /** The MX name (or the domain itself for an implicit MX). */
  name: string
}

/**
 * The MTA-STS policy for an MX delivery to `destination`, when it is "enforce" or "testing".
 * Not for the smart host: RFC 8461 §3.4 would make the smart host's domain the policy domain,
 * but a smart host is the operator's own choice with its own TLS settings
 * (`[relay.smart_host] tls`, `verify_certificate`, `ca_file`), which govern it instead. Not for
 * an address literal either: it names no policy domain.
 */
export async function stsGuardFor(
  destination: string,
  options: { mtaSts: MtaStsPolicies | null; config: RelayConfig; log: Logger },
): Promise<StsGuard | null> {
  const { mtaSts, config, log } = options
  if (mtaSts === null || config.smartHost !== null || destination.startsWith('[')) return null
  const policy = await mtaSts.policyFor(destination)
  if (policy === null || policy.mode === 'none') return null
  return new StsGuard(policy, mtaSts.ca, log)
}

/** One delivery attempt's policy: "enforce" or "testing" ("none" never gets this far). */
export class StsGuard {
  readonly policy: MtaStsPolicy
  readonly #ca: Buffer | null
  readonly #log: Logger

  constructor(policy: MtaStsPolicy, ca: Buffer | null, log: Logger) {
    this.policy = policy
    this.#ca = ca
    this.#log = log.child({ domain: policy.domain, stsId: policy.id, stsMode: policy.mode })
  }

  get isEnforced(): boolean {
    return this.policy.mode === 'enforce'
  }

  /**
   * The hosts to try, in order (RFC 8461 §4.1: only those matching an "mx" pattern under
   * "enforce"), or the reply for the recipients when no host is left.
   */
  select<T extends Host>(targets: T[]): { targets: T[] } | { reply: string } {
    const matching = targets.filter((target) => mxMatches(target.name, this.policy.mx))
    const outside = [...new Set(targets.map((t) => t.name))].filter(
      (name) => !matching.some((t) => t.name === name),
    )
    if (outside.length === 0) return { targets }
    const fields = { outside, patterns: this.policy.mx }
    if (!this.isEnforced) {
      this.#log.warn(
        fields,
        'MTA-STS testing: MX hosts outside the policy (enforce would skip them)',
      )
      return { targets }
    }
    if (matching.length === 0) {
      this.#log.warn(fields, 'MTA-STS: no MX host matches the enforced policy; deferring')
      return {
        reply: `MTA-STS policy of ${this.policy.domain} (mode enforce) lists none of its MX hosts (${outside.join(', ')}); not sent`,
      }
    }
    this.#log.info(fields, 'MTA-STS: skipping MX hosts the enforced policy does not list')
    return { targets: matching }
  }

  /** The checks of one connection to `host`. */
  connection(host: string): StsConnection {
    return new StsConnection(host, this.isEnforced, this.#ca, this.#log)
  }

  /** The recipients' reply when every host was refused, some for this policy. */
  deferral(lastFailure: string): string {
    return `MTA-STS policy of ${this.policy.domain} (mode enforce) not met, not sent in clear: ${lastFailure}`
  }
}

/** What one SMTP connection must show under the policy, and the warnings in testing mode. */
export class StsConnection {
  /** For the STARTTLS handshake. */
  readonly tls: ConnectionOptions
  readonly #host: string
  readonly #isEnforced: boolean
  readonly #log: Logger
  /** Testing mode: what the certificate check saw (it runs only when the chain is trusted). */
  #chainTrusted = false
  #identityError: string | null = null

  constructor(host: string, isEnforced: boolean, ca: Buffer | null, log: Logger) {
    this.#host = host
    this.#isEnforced = isEnforced
    this.#log = log
    // §4.2: a certificate that chains to a trusted CA, with a DNS-ID for the MX host name.
    this.tls = isEnforced ? verifiedTlsOptions(ca) : this.#observing(ca)
  }

  /** After EHLO: under "enforce" a host without STARTTLS is refused (§4.2, §5). */
  checkOffer(capabilities: SmtpCapabilities): void {
    if (this.#isEnforced && !capabilities.startTls) {
      throw this.#refuse('no STARTTLS offered')
    }
  }

  /** A failed STARTTLS: under "enforce" the host is refused, never spoken to in clear. */
  tlsFailed(error: Error): Error {
    if (!this.#isEnforced) return error
    return this.#refuse(error.message, error)
  }

  /** Once the session is ready: in testing mode, what "enforce" would have refused. */
  checkSession(isSecure: boolean, capabilities: SmtpCapabilities): void {
    if (this.#isEnforced) {
      if (!isSecure) throw this.#refuse('the session is not encrypted')
      return
    }
    let reason: string | null = null
    if (!isSecure) {
      reason = capabilities.startTls
        ? 'STARTTLS failed, so the message goes in clear'
        : 'no STARTTLS offered'
    } else if (!this.#chainTrusted) {
      reason = 'the certificate does not chain to a trusted CA'
    } else if (this.#identityError !== null) {
      reason = this.#identityError
    }
    if (reason !== null) {
      this.#log.warn(
        { host: this.#host, reason },
        'MTA-STS testing: enforce would refuse this MX host; delivering anyway',
      )
    }
  }

  #refuse(reason: string, cause?: Error): StsViolation {
    this.#log.warn({ host: this.#host, reason }, 'MTA-STS: MX host fails the enforced policy')
    return new StsViolation(reason, { cause })
  }

  /** Opportunistic TLS that records whether the certificate would have passed (§5 testing). */
  #observing(ca: Buffer | null): ConnectionOptions {
    return {
      rejectUnauthorized: false,
      ...(ca !== null && { ca }),
      checkServerIdentity: (name, cert) => {
        this.#chainTrusted = true
        const error = checkServerIdentity(name, cert)
        if (error !== undefined) this.#identityError = error.message
        else if (!certificateMatchesHost(name, cert.raw)) {
          this.#identityError = `the certificate has no subjectAltName DNS-ID for ${name}`
        }
        return undefined
      },
    }
  }
}
