// A deterministic corpus of mail shaped like what a server receives: plain notes, Gmail-style
// alternative text+HTML, Outlook-style mixed with attachments, Apple-style related with inline
// images, forwarded messages, and a few multi-megabyte attachments; plus the hand-written test
// fixtures. Written once to bench/.cache and reused.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))
export const CORPUS_DIR = path.resolve(HERE, '../.cache/mime-corpus-v1')
const FIXTURES = path.resolve(HERE, '../../test/fixtures/mime')
const GENERATED = 10_000

/** The corpus as file paths, generating it on first use. */
export function corpusFiles(): string[] {
  if (!existsSync(path.join(CORPUS_DIR, 'done'))) generate()
  const generated = readdirSync(CORPUS_DIR)
    .filter((name) => name.endsWith('.eml'))
    .sort()
    .map((name) => path.join(CORPUS_DIR, name))
  const fixtures = existsSync(FIXTURES)
    ? readdirSync(FIXTURES)
        .filter((name) => name.endsWith('.eml'))
        .sort()
        .map((name) => path.join(FIXTURES, name))
    : []
  return [...generated, ...fixtures]
}

function generate(): void {
  mkdirSync(CORPUS_DIR, { recursive: true })
  const random = mulberry32(20261126)
  for (let i = 0; i < GENERATED; i += 1) {
    const roll = random()
    let message: string
    if (i % 1000 === 999) message = mixed(random, i, 1_000_000 + Math.floor(random() * 7_000_000))
    else if (roll < 0.4) message = plain(random, i)
    else if (roll < 0.7) message = alternative(random, i)
    else if (roll < 0.9) message = mixed(random, i, 20_000 + Math.floor(random() * 300_000))
    else if (roll < 0.97) message = related(random, i)
    else message = forwarded(random, i)
    writeFileSync(
      path.join(CORPUS_DIR, `${String(i).padStart(5, '0')}.eml`),
      Buffer.from(message, 'utf8'),
    )
  }
  writeFileSync(path.join(CORPUS_DIR, 'done'), '')
}

const WORDS =
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part'.split(
    ' ',
  )
const UNICODE_WORDS = [
  'café',
  'naïve',
  'Grüße',
  'straße',
  'привет',
  'мир',
  'こんにちは',
  '世界',
  'señor',
  'øre',
]

function text(random: () => number, words: number, unicode: boolean): string {
  const out: string[] = []
  let line = 0
  for (let i = 0; i < words; i += 1) {
    const word = unicode && random() < 0.08 ? pick(random, UNICODE_WORDS) : pick(random, WORDS)
    out.push(word)
    line += word.length + 1
    if (line > 68) {
      out.push(random() < 0.15 ? '\r\n\r\n' : '\r\n')
      line = 0
    } else out.push(' ')
  }
  return out.join('').replace(/ \r\n/g, '\r\n')
}

function quotedPrintable(value: string): string {
  const bytes = Buffer.from(value, 'utf8')
  let out = ''
  let column = 0
  for (let i = 0; i < bytes.length; i += 1) {
    const byte = bytes[i] as number
    if (byte === 0x0d && bytes[i + 1] === 0x0a) {
      out += '\r\n'
      column = 0
      i += 1
      continue
    }
    const piece =
      (byte >= 33 && byte <= 126 && byte !== 61) || byte === 32
        ? String.fromCharCode(byte)
        : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`
    if (column + piece.length > 75) {
      out += '=\r\n'
      column = 0
    }
    out += piece
    column += piece.length
  }
  return out
}

function base64(random: () => number, size: number): string {
  const bytes = Buffer.alloc(size)
  for (let i = 0; i < size; i += 4)
    bytes.writeUInt32LE((random() * 2 ** 32) >>> 0, Math.min(i, size - 4))
  return (bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n')
}

function headers(random: () => number, i: number, extra: string): string {
  const subject =
    random() < 0.3
      ? `=?UTF-8?B?${Buffer.from(`Re: ${pick(random, UNICODE_WORDS)} ${text(random, 5, false).trim()}`).toString('base64')}?=`
      : `Re: ${text(random, 6, false).replace(/\r\n/g, ' ').trim()}`
  const received = Array.from(
    { length: 2 + Math.floor(random() * 3) },
    (_, hop) =>
      `Received: from mx${hop}.example.net (mx${hop}.example.net [192.0.2.${hop + 1}])\r\n\tby mail.example.org (Postfix) with ESMTPS id 4F${i}${hop}\r\n\tfor <user${i % 97}@example.org>; Thu, 26 Nov 2026 0${hop}:1${hop}:00 +0000 (UTC)\r\n`,
  ).join('')
  return `${received}DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=s1;\r\n\th=from:to:subject:date:message-id; bh=${base64(random, 32)};\r\n\tb=${base64(random, 256).replace(/\r\n/g, '\r\n\t ')}\r\nFrom: "${pick(random, WORDS)} ${pick(random, UNICODE_WORDS)}" <sender${i % 53}@example.net>\r\nTo: user${i % 97}@example.org, "Team" <team@example.org>\r\nCc: =?utf-8?q?J=C3=B6rg?= <jorg@example.de>\r\nSubject: ${subject}\r\nDate: Thu, 26 Nov 2026 ${String(i % 24).padStart(2, '0')}:00:00 +0100\r\nMessage-ID: <${i}.${Math.floor(random() * 1e9)}@example.net>\r\nMIME-Version: 1.0\r\n${extra}`
}

function plain(random: () => number, i: number): string {
  const unicode = random() < 0.4
  const body = text(random, 100 + Math.floor(random() * 1200), unicode)
  return unicode
    ? `${headers(random, i, 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n')}\r\n${quotedPrintable(body)}\r\n`
    : `${headers(random, i, 'Content-Type: text/plain; charset=us-ascii; format=flowed\r\nContent-Transfer-Encoding: 7bit\r\n')}\r\n${body}\r\n`
}

function alternativeBody(random: () => number, boundary: string): string {
  const body = text(random, 80 + Math.floor(random() * 800), random() < 0.5)
  const html = `<html><head><style>p{margin:0}</style></head><body>${body
    .split('\r\n\r\n')
    .map((paragraph) => `<div dir="ltr"><p>${paragraph}</p></div>`)
    .join('\r\n')}</body></html>`
  return `--${boundary}\r\nContent-Type: text/plain; charset="UTF-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${quotedPrintable(body)}\r\n--${boundary}\r\nContent-Type: text/html; charset="UTF-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${quotedPrintable(html)}\r\n--${boundary}--\r\n`
}

function alternative(random: () => number, i: number): string {
  const boundary = `000000000000${i.toString(16)}a1b2c3`
  return `${headers(random, i, `Content-Type: multipart/alternative; boundary="${boundary}"\r\n`)}\r\n${alternativeBody(random, boundary)}`
}

function mixed(random: () => number, i: number, attachmentSize: number): string {
  const outer = `_004_${i}MSEXCH_`
  const inner = `_000_${i}MSEXCH_`
  const count = 1 + Math.floor(random() * 3)
  let attachments = ''
  for (let n = 0; n < count; n += 1) {
    const name =
      random() < 0.3
        ? `filename*=utf-8''R%C3%A9sum%C3%A9%20${n}.pdf`
        : `filename="report-${i}-${n}.pdf"`
    attachments += `--${outer}\r\nContent-Type: application/pdf; name="report-${i}-${n}.pdf"\r\nContent-Description: report-${n}.pdf\r\nContent-Disposition: attachment; ${name};\r\n\tsize=${attachmentSize}\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64(random, Math.floor(attachmentSize / count))}\r\n\r\n`
  }
  return `${headers(random, i, `Content-Type: multipart/mixed;\r\n\tboundary="${outer}"\r\nThread-Index: AQHZ${i}\r\nContent-Language: en-US\r\nX-MS-Has-Attach: yes\r\n`)}\r\n--${outer}\r\nContent-Type: multipart/alternative;\r\n\tboundary="${inner}"\r\n\r\n${alternativeBody(random, inner)}\r\n${attachments}--${outer}--\r\n`
}

function related(random: () => number, i: number): string {
  const outer = `Apple-Mail=_${i}-R`
  const images = Array.from(
    { length: 1 + Math.floor(random() * 3) },
    (_, n) => `image${n}@${i}.example`,
  )
  const html = `<html><body>${text(random, 200, false)}${images.map((cid) => `<img src="cid:${cid}">`).join('')}</body></html>`
  const parts = images
    .map(
      (cid) =>
        `--${outer}\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: inline; filename=image.png\r\nContent-Type: image/png; name="image.png"\r\nContent-Id: <${cid}>\r\n\r\n${base64(random, 5000 + Math.floor(random() * 60_000))}\r\n`,
    )
    .join('')
  return `${headers(random, i, `Content-Type: multipart/related; type="text/html"; boundary="${outer}"\r\nX-Mailer: Apple Mail (2.3774)\r\n`)}\r\n--${outer}\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${quotedPrintable(html)}\r\n${parts}--${outer}--\r\n`
}

function forwarded(random: () => number, i: number): string {
  const boundary = `------------fwd${i}`
  return `${headers(random, i, `Content-Type: multipart/mixed; boundary="${boundary}"\r\nUser-Agent: Mozilla Thunderbird\r\n`)}\r\nThis is a multi-part message in MIME format.\r\n--${boundary}\r\nContent-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 7bit\r\n\r\nForwarded below.\r\n\r\n--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="fwd.eml"\r\n\r\n${alternative(random, i + 1)}\r\n--${boundary}--\r\n`
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T
}

function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function loadCorpus(): Buffer[] {
  return corpusFiles().map((file) => readFileSync(file))
}
