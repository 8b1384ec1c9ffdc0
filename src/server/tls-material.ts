import { X509Certificate } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { createSecureContext, type SecureContext } from 'node:tls'
import { generate } from 'selfsigned'
import type { Config } from '../config/index.ts'
import { type Logger, writeFileDurably } from '../util/index.ts'
import { StartupError } from './startup-error.ts'

export interface TlsMaterial {
  secureContext: SecureContext
  certPath: string
  keyPath: string
  isSelfSigned: boolean
  /** SHA-256 fingerprint, what a user compares when a client asks whether to trust it. */
  fingerprint256: string
  validTo: Date
  certificate: X509Certificate
}

const SELF_SIGNED_DIR = 'tls'
const SELF_SIGNED_CERT = 'self-signed.crt'
const SELF_SIGNED_KEY = 'self-signed.key'
/** Ten years: a self-signed pair is replaced by a real one, not renewed, and must not expire under a user. */
const SELF_SIGNED_VALIDITY_DAYS = 3650

/**
 * The certificate every TLS listener uses: the configured pair, or a self-signed one kept in
 * data_dir/tls. The self-signed pair is made once, on the first start, and logged with its
 * fingerprint; it is never replaced silently, because clients that accepted it would then see a
 * different certificate. If one half of the pair is missing the server refuses to start.
 */
export async function loadTlsMaterial(config: Config, log: Logger): Promise<TlsMaterial> {
  if (config.tls) return loadPair(config.tls.certPath, config.tls.keyPath, false, 'tls.cert', log)

  const dir = path.join(config.dataDir, SELF_SIGNED_DIR)
  const certPath = path.join(dir, SELF_SIGNED_CERT)
  const keyPath = path.join(dir, SELF_SIGNED_KEY)
  const hasCert = existsSync(certPath)
  const hasKey = existsSync(keyPath)
  if (hasCert !== hasKey) {
    const [present, missing] = hasCert ? [certPath, keyPath] : [keyPath, certPath]
    throw new StartupError(
      'tls',
      `"${present}" exists but "${missing}" is missing; restore it, or remove both to make a new self-signed pair`,
    )
  }
  if (!hasCert) {
    try {
      await generateSelfSigned(config.hostname, dir, certPath, keyPath)
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
      throw new StartupError('tls', `cannot make a self-signed certificate in "${dir}": ${reason}`)
    }
    const material = loadPair(certPath, keyPath, true, 'tls', log)
    log.warn(
      { cert: certPath, fingerprint256: material.fingerprint256, validTo: material.validTo },
      'generated a self-signed certificate; clients will ask to trust it (set [tls] cert and key for a real one)',
    )
    return material
  }
  const material = loadPair(certPath, keyPath, true, 'tls', log)
  if (material.certificate.checkHost(config.hostname) === undefined) {
    log.warn(
      { cert: certPath, hostname: config.hostname, subject: material.certificate.subject },
      'the self-signed certificate does not name the configured hostname; remove it to make a new one',
    )
  }
  return material
}

function loadPair(
  certPath: string,
  keyPath: string,
  isSelfSigned: boolean,
  key: string,
  log: Logger,
): TlsMaterial {
  let certificate: X509Certificate
  let secureContext: SecureContext
  try {
    const cert = readFileSync(certPath)
    const privateKey = readFileSync(keyPath)
    certificate = new X509Certificate(cert)
    // RFC 8996: TLS 1.0 and 1.1 are deprecated; RFC 8314 §4.1 asks for TLS 1.2 or later.
    secureContext = createSecureContext({ cert, key: privateKey, minVersion: 'TLSv1.2' })
  } catch (error) {
    throw new StartupError(
      key,
      `cannot use "${certPath}" with "${keyPath}": ${(error as Error).message}`,
    )
  }
  const validTo = new Date(certificate.validTo)
  if (validTo.getTime() < Date.now()) {
    log.error(
      { cert: certPath, validTo },
      'the TLS certificate has expired; clients will refuse it',
    )
  }
  return {
    secureContext,
    certPath,
    keyPath,
    isSelfSigned,
    fingerprint256: certificate.fingerprint256,
    validTo,
    certificate,
  }
}

async function generateSelfSigned(
  hostname: string,
  dir: string,
  certPath: string,
  keyPath: string,
): Promise<void> {
  const now = new Date()
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + SELF_SIGNED_VALIDITY_DAYS * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          ...(hostname === 'localhost' ? [] : [{ type: 2 as const, value: 'localhost' }]),
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  })
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  // The key first: a crash between the two leaves a key without a certificate, which the next
  // start reports instead of silently making a new pair.
  writeFileDurably(keyPath, pems.private, 0o600)
  writeFileDurably(certPath, pems.cert, 0o644)
}
