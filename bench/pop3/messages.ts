// The messages the pop3 benchmark puts in every maildrop, on both sides: deterministic, each
// unique (so that Postern's content-addressed blobs store each once, as Dovecot's Maildir does),
// 2–50 KB spread log-uniformly (about 15 KB on average), with the headers of mail as it arrives
// (Return-Path, Received, DKIM-Signature, Authentication-Results…). Up to 12 KB a message is
// text/plain; above, a short text part and a base64 PDF-like attachment. About one text line in
// 25 starts with "." so that RETR's dot-stuffing is exercised. Lines end in CRLF.

const WORDS =
  'the mail server stores every message once and serves it back over IMAP and POP3 while the queue relays outbound mail to other domains by MX lookup with retries and bounces meeting agenda invoice report attached please find below regards thanks'.split(
    ' ',
  )
const SENDERS = [
  ['Alice Martin', 'alice@example.org', 'mx1.example.org'],
  ['Bob Lee', 'bob.lee@mail.example.net', 'smtp.example.net'],
  ['Newsletter', 'news@lists.example.com', 'out.lists.example.com'],
  ['Carol Diaz', 'carol@example.co.uk', 'mail.example.co.uk'],
] as const
const TEXT_ONLY_UP_TO = 12_000
const MIN_OCTETS = 2048
const MAX_OCTETS = 50 * 1024

/** A small deterministic generator, so every run (and both servers) get the same bytes. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

/** Message `n` (0-based) of account number `user` (0-based), whose address is `address`. */
export function pop3Message(user: number, n: number, address: string): Buffer {
  const next = random(user * 7919 + n * 104_729 + 1)
  const target = Math.round(MIN_OCTETS * (MAX_OCTETS / MIN_OCTETS) ** next())
  const [name, from, host] = SENDERS[(user + n) % SENDERS.length] ?? SENDERS[0]
  const date = new Date(Date.UTC(2026, 0, 1 + n, 8 + (user % 12), (user * 7 + n) % 60, n % 60))
  const dateText = date.toUTCString().replace('GMT', '+0000')
  const id = `${(user * 1000 + n).toString(36)}.${Math.floor(next() * 2 ** 32).toString(16)}`
  const header = [
    `Return-Path: <${from}>`,
    `Delivered-To: ${address}`,
    `Received: from ${host} (${host} [192.0.2.${(user + n) % 250}])`,
    `\tby postern.bench.test with ESMTPS id ${id}`,
    `\tfor <${address}>; ${dateText}`,
    `Received: by ${host} with SMTP id ${id}-${n}; ${dateText}`,
    `Authentication-Results: postern.bench.test; spf=pass smtp.mailfrom=${from};`,
    `\tdkim=pass header.d=${from.split('@')[1]}; dmarc=pass`,
    `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${from.split('@')[1]}; s=sel1;`,
    '\th=from:to:subject:date:message-id:mime-version:content-type;',
    `\tbh=${base64Of(next, 32)};`,
    `\tb=${base64Of(next, 128).slice(0, 70)}`,
    `\t ${base64Of(next, 128).slice(0, 70)}`,
    `\t ${base64Of(next, 128).slice(0, 70)}`,
    `From: ${name} <${from}>`,
    `To: ${address}`,
    `Subject: ${sentence(next, 4 + Math.floor(next() * 6))} (${user}/${n})`,
    `Date: ${dateText}`,
    `Message-ID: <${id}@${host}>`,
    'MIME-Version: 1.0',
  ].join('\r\n')
  if (target <= TEXT_ONLY_UP_TO) {
    const head = `${header}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`
    return Buffer.from(head + text(next, target - head.length), 'latin1')
  }
  const boundary = `=_bench_${id}`
  const body = text(next, 1000 + Math.floor(next() * 3000))
  const head =
    `${header}\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n` +
    'This is a multi-part message in MIME format.\r\n\r\n' +
    `--${boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${body}\r\n` +
    `--${boundary}\r\nContent-Type: application/pdf; name="report-${n}.pdf"\r\n` +
    `Content-Disposition: attachment; filename="report-${n}.pdf"\r\n` +
    'Content-Transfer-Encoding: base64\r\n\r\n'
  const tail = `--${boundary}--\r\n`
  // 76 base64 characters and CRLF per line: 57 octets of attachment.
  const lines = Math.max(1, Math.floor((target - head.length - tail.length) / 78))
  const attachment = base64Of(next, lines * 57).replace(/.{76}/g, '$&\r\n')
  return Buffer.from(`${head}${attachment}\r\n${tail}`, 'latin1')
}

/** Lines of words, about 72 octets each, until `octets`; some start with a dot. */
function text(next: () => number, octets: number): string {
  const lines: string[] = []
  let length = 0
  while (length < octets) {
    let line = sentence(next, 10 + Math.floor(next() * 4))
    const kind = next()
    if (kind < 0.04) line = `.${line}`
    else if (kind < 0.05) line = '.'
    else if (kind < 0.12) line = `> ${line}`
    else if (kind < 0.16) line = ''
    lines.push(line)
    length += line.length + 2
  }
  return `${lines.join('\r\n')}\r\n`
}

function sentence(next: () => number, words: number): string {
  const picked: string[] = []
  for (let i = 0; i < words; i += 1) {
    picked.push(WORDS[Math.floor(next() * WORDS.length)] ?? 'mail')
  }
  return picked.join(' ')
}

function base64Of(next: () => number, octets: number): string {
  const bytes = Buffer.alloc(octets)
  for (let i = 0; i < octets; i += 1) bytes[i] = Math.floor(next() * 256)
  return bytes.toString('base64')
}
