import { createSecureContext, type SecureContext } from 'node:tls'
import { generate } from 'selfsigned'

let pair: Promise<{ cert: string; key: string }> | null = null

/** A throwaway certificate for 127.0.0.1/localhost, made once per test process. */
export function testCertificate(): Promise<{ cert: string; key: string }> {
  pair ??= generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  }).then((pems) => ({ cert: pems.cert, key: pems.private }))
  return pair
}

export async function testSecureContext(): Promise<SecureContext> {
  const { cert, key } = await testCertificate()
  return createSecureContext({ cert, key })
}
