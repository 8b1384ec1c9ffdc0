// DKIM signing of outgoing mail (RFC 6376 §5) with the domain's active keys from dkim-keys.ts;
// mailauth computes the signatures. A domain with an active RSA key and an active Ed25519 key
// gets both signatures, under two selectors (RFC 8463 §6). Keys are cached and re-read when
// their directory changes, so `postern dkim activate` takes effect on a running server. Signing
// never fails a message: a key that cannot be used is logged and left out.
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { type DKIMSignOptions, dkimSign } from 'mailauth'
import type { Logger } from '../util/index.ts'
import { type DkimAlgorithm, dkimDomain, type LoadedDkimKey, loadDkimKeys } from './dkim-keys.ts'

/**
 * The header fields signed (RFC 6376 §5.4.1): the ones a verifier or a reader relies on and that
 * relays leave alone. It is mailauth's default list, written out so that it does not change with
 * a mailauth upgrade. mailauth signs each instance present once and cannot over-sign (list a
 * field once more than it occurs, RFC 6376 §8.15), so From is covered by the signature but a
 * second From added later is not caught by DKIM itself; RFC 5322 §3.6 allows only one, and
 * DMARC verifiers refuse such messages.
 */
export const DKIM_SIGNED_HEADERS: readonly string[] = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-ID',
  'Content-Description',
  'Resent-Date',
  'Resent-From',
  'Resent-Sender',
  'Resent-To',
  'Resent-Cc',
  'Resent-Message-ID',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
  'BIMI-Selector',
]

export interface DkimSigner {
  /**
   * The DKIM-Signature fields to put in front of `message` for `domain` (the d= tag), each
   * folded and ending in CRLF; '' when the domain has no usable active key or signing failed.
   */
  sign(message: Buffer, domain: string): Promise<string>
}

export interface DkimSignerOptions {
  dataDir: string
  log: Logger
  /** The cache is re-read at least this often even when the directory looks unchanged. */
  maxCacheAgeMs?: number
}

interface CacheEntry {
  /** The domain directory's identity and mtime when it was read; 'none' when it did not exist. */
  stamp: string
  loadedAt: number
  /** Loaded so soon after the directory changed that a change in the same tick may be missed. */
  racy: boolean
  keys: LoadedDkimKey[]
}

// Signatures in this order: RSA, which every verifier supports, first.
const ORDER: readonly DkimAlgorithm[] = ['rsa-sha256', 'ed25519-sha256']
// A directory modified less than this before it was read may change again with the same mtime.
const RACY_MS = 2_000

export function createDkimSigner(options: DkimSignerOptions): DkimSigner {
  const { dataDir, log } = options
  const maxAge = options.maxCacheAgeMs ?? 60_000
  const cache = new Map<string, CacheEntry>()

  /** The active keys of a domain, re-read when its directory changed. */
  async function activeKeys(domain: string): Promise<LoadedDkimKey[]> {
    const dir = path.join(dataDir, 'dkim', domain)
    let stamp = 'none'
    let mtimeMs = 0
    try {
      const info = await stat(dir)
      stamp = `${info.ino}:${info.mtimeMs}:${info.ctimeMs}`
      mtimeMs = info.mtimeMs
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        log.warn({ domain, err: error }, 'DKIM: cannot read the key directory; not signing')
        return []
      }
    }
    const cached = cache.get(domain)
    const time = Date.now()
    if (
      cached !== undefined &&
      cached.stamp === stamp &&
      !cached.racy &&
      time - cached.loadedAt < maxAge
    ) {
      return cached.keys
    }
    const keys = stamp === 'none' ? [] : pickActive(domain, load(domain))
    cache.set(domain, { stamp, loadedAt: time, racy: time - mtimeMs < RACY_MS, keys })
    return keys
  }

  function load(domain: string): LoadedDkimKey[] {
    try {
      return loadDkimKeys(dataDir, domain, (problem) =>
        log.warn(
          { domain, selector: problem.selector, reason: problem.message },
          'DKIM: cannot read the key metadata; the key is not used',
        ),
      )
    } catch (error) {
      log.warn({ domain, err: error }, 'DKIM: cannot read the keys; not signing')
      return []
    }
  }

  /** One active key per algorithm: the one activated last when a crash left two. */
  function pickActive(domain: string, keys: LoadedDkimKey[]): LoadedDkimKey[] {
    const picked: LoadedDkimKey[] = []
    for (const algorithm of ORDER) {
      const active = keys
        .filter((key) => key.algorithm === algorithm && key.state === 'active')
        .sort((a, b) => (b.activatedAt ?? b.createdAt).localeCompare(a.activatedAt ?? a.createdAt))
      const usable = active.find((key) => key.privateKeyPem !== null)
      for (const key of active) {
        if (key.problem !== null) {
          log.warn(
            { domain, selector: key.selector, algorithm, reason: key.problem },
            'DKIM: the active key cannot be used; mail is signed without it',
          )
        }
      }
      if (usable !== undefined) picked.push(usable)
    }
    return picked
  }

  return {
    async sign(message, domainName) {
      let domain: string
      try {
        domain = dkimDomain(domainName)
      } catch {
        log.debug({ domain: domainName }, 'DKIM: not a domain name; not signing')
        return ''
      }
      const keys = await activeKeys(domain)
      if (keys.length === 0) return ''
      // mailauth reads the signatures from signatureData alone; its type declaration also wants
      // the fields of one signature at the top level, where they would be ignored.
      const options = {
        // RFC 6376 §3.4.2 and §3.4.4: relaxed header and body canonicalization survive the
        // whitespace changes and re-folding that relays make.
        canonicalization: 'relaxed/relaxed',
        headerList: [...DKIM_SIGNED_HEADERS],
        signatureData: keys.map((key) => ({
          signingDomain: domain,
          selector: key.selector,
          privateKey: key.privateKeyPem ?? '',
          algorithm: key.algorithm,
        })),
      } as DKIMSignOptions
      try {
        const result = await dkimSign(message, options)
        for (const { err, selector } of result.errors) {
          log.warn(
            { domain, selector, code: err.code, reason: err.message },
            'DKIM: signing failed; the message goes out without this signature',
          )
        }
        return result.signatures
      } catch (error) {
        log.warn({ domain, err: error }, 'DKIM: signing failed; the message goes out unsigned')
        return ''
      }
    },
  }
}
