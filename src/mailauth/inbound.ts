// Inbound mail authentication on the MX listener, at the end of DATA: SPF (RFC 7208) for MAIL
// FROM and HELO, every DKIM signature (RFC 6376), DMARC (RFC 7489) alignment and policy, and
// the ARC chain (RFC 8617), checked by mailauth through Postern's resolver. The results go into
// one Authentication-Results field (RFC 8601) with our hostname as authserv-id; what they lead
// to is Postern's policy, per recipient domain: accept, file into Junk ("quarantine"), or refuse
// (550 5.7.1). A DNS failure is a temporary error (451 4.7.x), never taken as a pass.
import { authenticate } from 'mailauth'
import type { MailauthConfig, MailauthPolicy } from '../config/index.ts'
import type { DnsResolver } from '../net/index.ts'
import type { Logger } from '../util/index.ts'
import { arcSetFields, authResultsField, removeForgedAuthResults } from './auth-results.ts'
import { mailauthResolver } from './dns.ts'

/** Verification gives up after this long and answers 451: the sender tries again later. */
const VERIFY_TIMEOUT_MS = 60_000

export interface InboundMessage {
  /** The message as received (without the Received field we add). */
  message: Buffer
  /** The client's IP address. */
  ip: string
  /** The EHLO/HELO name. */
  helo: string
  /** MAIL FROM; '' for <>. */
  sender: string
  /** The domain (A-label, lower case) of each envelope recipient. */
  recipientDomains: readonly string[]
  /**
   * The local domain whose alias forwards this message to a remote address: the forwarded copy
   * is ARC-sealed (RFC 8617 §5.1) with that domain's active RSA key. Null when not forwarded.
   */
  sealDomain?: string | null
}

export type InboundAction = 'accept' | 'quarantine' | 'reject'

export interface InboundVerdict {
  /**
   * 'deliver' with the recipient domains to quarantine; 'reject' when every recipient's policy
   * refuses it; 'tempfail' when a lookup failed.
   */
  outcome: 'deliver' | 'reject' | 'tempfail'
  /** For 'reject' and 'tempfail': the reply. */
  reply: { code: number; status: string; text: string } | null
  /** Recipient domains whose copies go to Junk. */
  quarantine: Set<string>
  /** The Authentication-Results field to put on top, CRLF-terminated ('' when none). */
  authResults: string
  /** The message with forged Authentication-Results fields removed. */
  message: Buffer
  /**
   * The ARC set (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results) for the forwarded
   * copy only, CRLF-terminated; '' when nothing is forwarded or no key can seal.
   */
  arcHeaders: string
  /** One line's worth for the log. */
  summary: Record<string, unknown>
}

export interface InboundVerifier {
  verify(input: InboundMessage): Promise<InboundVerdict>
}

export interface InboundVerifierOptions {
  hostname: string
  config: MailauthConfig
  resolver: DnsResolver
  log: Logger
  /** For tests: how long before giving up. */
  timeoutMs?: number
  /** The key that seals mail forwarded for `domain` (RSA: ARC has no Ed25519, RFC 8617 §4.1.3). */
  sealKey?: (domain: string) => SealKey | null
}

export interface SealKey {
  selector: string
  privateKeyPem: string
}

export function createInboundVerifier(options: InboundVerifierOptions): InboundVerifier {
  const resolver = mailauthResolver(options.resolver)
  const timeoutMs = options.timeoutMs ?? VERIFY_TIMEOUT_MS
  return {
    async verify(input) {
      const cleaned = removeForgedAuthResults(input.message, options.hostname)
      const sealDomain = input.sealDomain ?? null
      let key: SealKey | null = null
      let keyProblem: string | null = null
      try {
        key = sealDomain === null ? null : (options.sealKey?.(sealDomain) ?? null)
      } catch (error) {
        // A broken key folder costs the seal, not the message.
        keyProblem = (error as Error).message
        options.log.warn({ err: error, domain: sealDomain }, 'ARC: cannot read the sealing key')
      }
      let result: Awaited<ReturnType<typeof authenticate>>
      try {
        result = await withTimeout(
          authenticate(input.message, {
            ip: input.ip,
            helo: input.helo,
            sender: input.sender,
            mta: options.hostname,
            resolver: resolver as never,
            disableBimi: true,
            ...(key === null || sealDomain === null
              ? {}
              : {
                  seal: {
                    signingDomain: sealDomain,
                    selector: key.selector,
                    privateKey: key.privateKeyPem,
                  },
                }),
          }),
          timeoutMs,
        )
      } catch (error) {
        options.log.warn({ err: error }, 'mail authentication failed to run; answering 451')
        return tempfail(cleaned.message, 'Temporary failure checking the message, try again later')
      }
      const summary = summarize(result, cleaned.removed)
      const authResults = authResultsField(result.headers)
      const arcHeaders = arcSetFields(result.headers)
      if (sealDomain !== null) {
        if (keyProblem !== null) summary.arcSeal = `not sealed: ${keyProblem}`
        else if (key === null) summary.arcSeal = `no RSA key for ${sealDomain}`
        else if (arcHeaders === '') summary.arcSeal = `not sealed (chain ${summary.arc})`
        else summary.arcSeal = `sealed by ${sealDomain}`
      }
      // RFC 7208 §2.6.6, RFC 6376 §6.1.2, RFC 7489 §6.6.3: a lookup that failed is temperror,
      // which says nothing either way; the sender retries and the check is made again.
      const failed = temporaryFailures(result)
      if (failed.length > 0) {
        return {
          ...tempfail(cleaned.message, `Temporary DNS failure checking ${failed.join(', ')}`),
          authResults,
          summary,
        }
      }
      const actions = new Map<string, InboundAction>()
      for (const domain of new Set(input.recipientDomains)) {
        actions.set(domain, decide(result, policyFor(options.config, domain)))
      }
      const all = [...actions.values()]
      if (all.length > 0 && all.every((action) => action === 'reject')) {
        return {
          outcome: 'reject',
          reply: rejection(result),
          quarantine: new Set(),
          authResults,
          message: cleaned.message,
          arcHeaders: '',
          summary: { ...summary, action: 'reject' },
        }
      }
      const quarantine = new Set(
        [...actions].filter(([, action]) => action !== 'accept').map(([domain]) => domain),
      )
      return {
        outcome: 'deliver',
        reply: null,
        quarantine,
        authResults,
        message: cleaned.message,
        arcHeaders,
        summary: { ...summary, action: quarantine.size > 0 ? 'quarantine' : 'accept' },
      }
    },
  }
}

type AuthResult = Awaited<ReturnType<typeof authenticate>>

function policyFor(config: MailauthConfig, domain: string): MailauthPolicy {
  return config.domains[domain] ?? config
}

/** What the results lead to under one recipient domain's policy. */
export function decide(result: AuthResult, policy: MailauthPolicy): InboundAction {
  const actions: Array<InboundAction | 'none'> = []
  const dmarc = result.dmarc
  if (dmarc && dmarc.status.result === 'fail') {
    // The effective policy (p=, sp= or np=, lowered one step by t=y) as mailauth found it.
    if (dmarc.policy === 'reject') actions.push(policy.dmarcReject)
    else if (dmarc.policy === 'quarantine') actions.push(policy.dmarcQuarantine)
  }
  if (result.spf && result.spf.status.result === 'fail') actions.push(policy.spfFail)
  if (actions.includes('reject')) return 'reject'
  if (actions.includes('quarantine')) return 'quarantine'
  return 'accept'
}

function rejection(result: AuthResult): { code: number; status: string; text: string } {
  const dmarc = result.dmarc
  if (dmarc && dmarc.status.result === 'fail' && dmarc.policy === 'reject') {
    // RFC 7489 §10.3: a rejection names DMARC; 5.7.1 is "delivery not authorized" (RFC 3463).
    return {
      code: 550,
      status: '5.7.1',
      text: `Message rejected by the DMARC policy of ${dmarc.status.header?.from ?? dmarc.domain}`,
    }
  }
  // RFC 7372 §3.2: 5.7.23, "SPF validation failed".
  const domain = result.spf ? result.spf.domain : 'the sender'
  return { code: 550, status: '5.7.23', text: `SPF check failed for ${domain}` }
}

function temporaryFailures(result: AuthResult): string[] {
  const isTemporary = (value: string | undefined) => value === 'temperror' || value === 'temperr'
  const failed: string[] = []
  if (result.spf && isTemporary(result.spf.status.result)) failed.push('SPF')
  if ((result.dkim.results ?? []).some((row) => isTemporary(row.status?.result)))
    failed.push('DKIM')
  if (result.dmarc && isTemporary(result.dmarc.status.result)) failed.push('DMARC')
  if (result.arc && isTemporary(result.arc.status?.result)) failed.push('ARC')
  return failed
}

function tempfail(message: Buffer, text: string): InboundVerdict {
  return {
    outcome: 'tempfail',
    // RFC 3463: 4.7.0 "other or undefined security status", as a temporary failure.
    reply: { code: 451, status: '4.7.0', text },
    quarantine: new Set(),
    authResults: '',
    message,
    arcHeaders: '',
    summary: { action: 'tempfail' },
  }
}

function summarize(result: AuthResult, forgedRemoved: number): Record<string, unknown> {
  return {
    spf: result.spf ? result.spf.status.result : 'none',
    dkim: (result.dkim.results ?? []).map(
      (row) => `${row.signingDomain ?? '?'}:${row.status?.result ?? '?'}`,
    ),
    dmarc: result.dmarc ? `${result.dmarc.status.result} (p=${result.dmarc.policy})` : 'none',
    arc: result.arc ? result.arc.status?.result : 'none',
    ...(forgedRemoved > 0 ? { forgedAuthResultsRemoved: forgedRemoved } : {}),
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
