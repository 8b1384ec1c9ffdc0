// The DNS TXT record that publishes a DKIM key (RFC 6376 §3.6.1), as `postern dkim generate`
// prints it: the owner name, the text, and the zone-file line with the text cut into
// character-strings.
import { createPublicKey, type KeyObject } from 'node:crypto'
import { ConflictError } from '../store/index.ts'
import type { DkimKey } from './dkim-keys.ts'

export interface DkimDnsRecord {
  /** The owner name, without the trailing dot: `<selector>._domainkey.<domain>`. */
  name: string
  /** The record's text as one string. */
  value: string
  /** The value cut into DNS character-strings of at most 255 octets. */
  strings: string[]
  /** The zone-file line: `<name>. IN TXT "…" "…"`. */
  zoneLine: string
}

/**
 * The TXT record that publishes a key (RFC 6376 §3.6.1): `v=DKIM1; k=rsa; p=<base64 of the
 * SubjectPublicKeyInfo DER>`, or for Ed25519 `k=ed25519` with the raw 32-byte public key
 * (RFC 8463 §4.2). A TXT character-string holds at most 255 octets, so the zone-file form cuts
 * the value into several, which verifiers join without spaces (RFC 6376 §3.6.2.2, as
 * RFC 7208 §3.3 does for SPF).
 */
export function dkimDnsRecord(
  key: Pick<DkimKey, 'domain' | 'selector' | 'algorithm' | 'publicKey'>,
): DkimDnsRecord {
  if (key.publicKey === null) {
    throw new ConflictError(`The private key of ${key.selector} (${key.domain}) cannot be read`)
  }
  const name = `${key.selector}._domainkey.${key.domain}`
  const k = key.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519'
  const value = `v=DKIM1; k=${k}; p=${key.publicKey}`
  const strings: string[] = []
  for (let start = 0; start < value.length; start += 255) {
    strings.push(value.slice(start, start + 255))
  }
  return {
    name,
    value,
    strings,
    zoneLine: `${name}. IN TXT ${strings.map((part) => `"${part}"`).join(' ')}`,
  }
}

/** The p= value of a key: base64 of the SubjectPublicKeyInfo DER, or of the bare Ed25519 key. */
export function dkimPublicKey(privateKey: KeyObject): string {
  const publicKey = createPublicKey(privateKey)
  if (publicKey.asymmetricKeyType === 'ed25519') {
    // RFC 8463 §4.2: the bare 32-byte key, not wrapped in a SubjectPublicKeyInfo.
    const jwk = publicKey.export({ format: 'jwk' })
    return Buffer.from(jwk.x ?? '', 'base64url').toString('base64')
  }
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
}
