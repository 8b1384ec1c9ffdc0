import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto'
import { saslprep } from '@mongodb-js/saslprep'

/**
 * What the server keeps for SCRAM-SHA-256 (RFC 5802 §3, RFC 7677 §3): enough to verify a client
 * proof and to prove itself, never the password nor anything that logs in on its own.
 */
export interface ScramCredentials {
  salt: Buffer
  iterations: number
  storedKey: Buffer
  serverKey: Buffer
}

/** RFC 7677 §4 asks for at least 4096; 10,000 costs a client a few milliseconds. */
export const SCRAM_ITERATIONS = 10_000

export async function deriveScramCredentials(
  password: string,
  salt: Buffer = randomBytes(16),
  iterations: number = SCRAM_ITERATIONS,
): Promise<ScramCredentials> {
  // SaltedPassword := Hi(Normalize(password), salt, i), Hi being PBKDF2 with HMAC   (RFC 5802 §2.2)
  const salted = await new Promise<Buffer>((resolve, reject) => {
    pbkdf2(prepare(password), salt, iterations, 32, 'sha256', (error, key) =>
      error ? reject(error) : resolve(key),
    )
  })
  const clientKey = hmac(salted, 'Client Key')
  return { salt, iterations, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') }
}

/** Normalize() of RFC 5802 §2.2: SASLprep (RFC 4013 §2), falling back to the raw string when the
 * password holds characters SASLprep prohibits, as clients do. */
export function prepare(text: string): string {
  try {
    return saslprep(text)
  } catch {
    return text
  }
}

export function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest()
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest()
}

/** Stored as "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>" (base64 parts). */
export function formatScramCredentials(credentials: ScramCredentials): string {
  const { iterations, salt, storedKey, serverKey } = credentials
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`
}

export function parseScramCredentials(text: string): ScramCredentials | null {
  const match =
    /^SCRAM-SHA-256\$(\d{1,7}):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(text)
  if (!match) return null
  const [, iterations, salt, storedKey, serverKey] = match
  return {
    iterations: Number(iterations),
    salt: Buffer.from(salt as string, 'base64'),
    storedKey: Buffer.from(storedKey as string, 'base64'),
    serverKey: Buffer.from(serverKey as string, 'base64'),
  }
}
