import { createHash, createHmac, pbkdf2Sync } from 'node:crypto'

/** The client side of SCRAM-SHA-256, written from RFC 5802 §3, to exercise random nonces. */
export function clientProof(
  password: string,
  serverFirst: string,
  clientFirstBare: string,
  withoutProof: string,
): string {
  const fields = Object.fromEntries(
    serverFirst.split(',').map((field) => [field[0], field.slice(2)]),
  )
  const salted = pbkdf2Sync(
    password,
    Buffer.from(fields.s ?? '', 'base64'),
    Number(fields.i),
    32,
    'sha256',
  )
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = createHash('sha256').update(clientKey).digest()
  const signature = createHmac('sha256', storedKey)
    .update(`${clientFirstBare},${serverFirst},${withoutProof}`)
    .digest()
  return Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] as number))).toString('base64')
}
