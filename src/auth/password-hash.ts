import { argon2, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * argon2id with OWASP's minimum for interactive logins (19 MiB, 2 passes, 1 lane): memory-hard
 * enough that a stolen database is slow to crack, cheap enough that a burst of logins does not
 * exhaust the server. Old hashes keep their own parameters, which the PHC string records.
 */
const MEMORY_KIB = 19_456
const PASSES = 2
const PARALLELISM = 1
const SALT_OCTETS = 16
const TAG_OCTETS = 32

/**
 * A PHC string with hashPassword's parameters and a salt and tag no password was hashed to.
 * Checking a login for an unknown account against it costs what checking a real one does, so
 * the time a failure takes does not tell which accounts exist.
 */
export const DUMMY_PASSWORD_HASH = `$argon2id$v=19$m=${MEMORY_KIB},t=${PASSES},p=${PARALLELISM}$BocRGcCW6RSiKBHG+rvF1A$rsHv+HfseEsvjpdSapPhWCG1cd1O2hKZHB6zx9XOG9A`

/** Hashes a password into a PHC string: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_OCTETS)
  const tag = await derive(password, salt, MEMORY_KIB, PASSES, PARALLELISM, TAG_OCTETS)
  return `$argon2id$v=19$m=${MEMORY_KIB},t=${PASSES},p=${PARALLELISM}$${b64(salt)}$${b64(tag)}`
}

/** True when `password` matches the PHC string; false for a wrong password or an unknown format. */
export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const match =
    /^\$argon2id\$v=19\$m=(\d{1,8}),t=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(
      phc,
    )
  if (!match) return false
  const [, memory, passes, parallelism, salt, hash] = match
  const expected = Buffer.from(hash as string, 'base64')
  const actual = await derive(
    password,
    Buffer.from(salt as string, 'base64'),
    Number(memory),
    Number(passes),
    Number(parallelism),
    expected.length,
  )
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

function derive(
  password: string,
  salt: Buffer,
  memory: number,
  passes: number,
  parallelism: number,
  tagLength: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2(
      'argon2id',
      { message: password, nonce: salt, memory, passes, parallelism, tagLength },
      (error, tag) => (error ? reject(error) : resolve(tag)),
    )
  })
}

// PHC strings use base64 without padding.
function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '')
}
