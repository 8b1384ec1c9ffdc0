// The messages the store benchmark delivers: deterministic, varied in size like personal mail
// (most a few KB, one in fifty with a 50–200 KB attachment), each unique.

const WORDS =
  'the mail server stores every message once and serves it back over IMAP and POP3 while the queue relays outbound mail to other domains by MX lookup with retries and bounces'.split(
    ' ',
  )

/** A small deterministic generator, so every run (and both peers) get the same bytes. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

export function benchMessage(n: number): Buffer {
  const next = random(n + 1)
  const words = 40 + Math.floor(next() * 600)
  const lines: string[] = []
  let line: string[] = []
  for (let i = 0; i < words; i += 1) {
    line.push(WORDS[Math.floor(next() * WORDS.length)] ?? 'mail')
    if (line.length === 12) {
      lines.push(line.join(' '))
      line = []
    }
  }
  lines.push(line.join(' '))
  const header =
    `Return-Path: <sender${n % 97}@example.org>\r\n` +
    `From: Sender ${n % 97} <sender${n % 97}@example.org>\r\n` +
    'To: Bench <bench@example.test>\r\n' +
    `Subject: Benchmark message ${n}\r\n` +
    `Date: Thu, 26 Nov 2026 10:${String(n % 60).padStart(2, '0')}:00 +0000\r\n` +
    `Message-ID: <bench.${n}@example.org>\r\n` +
    'MIME-Version: 1.0\r\n'
  const text = `${lines.join('\r\n')}\r\n`
  if (n % 50 !== 0) {
    return Buffer.from(`${header}Content-Type: text/plain; charset=utf-8\r\n\r\n${text}`)
  }
  const attachment = Buffer.alloc(50_000 + Math.floor(next() * 150_000), n % 251)
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n')
  return Buffer.from(
    `${header}Content-Type: multipart/mixed; boundary="b${n}"\r\n\r\n` +
      `--b${n}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}` +
      `--b${n}\r\nContent-Type: application/octet-stream; name="file${n}.bin"\r\n` +
      `Content-Transfer-Encoding: base64\r\n\r\n${attachment}\r\n--b${n}--\r\n`,
  )
}
