import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseMessage } from './parse-message.ts'
import { findPart, sectionBytes } from './sections.ts'

const crlf = (text: string) => Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1')
const slice = (bytes: Buffer, start: number, end: number) =>
  bytes.subarray(start, end).toString('latin1')

test('a single-part message: header block with its blank line, then the body', () => {
  const bytes = crlf('From: a@example.com\nSubject: hi\n\nbody line 1\nline 2\n')
  const { root, partCount } = parseMessage(bytes)
  assert.equal(partCount, 1)
  assert.equal(
    slice(bytes, root.headerStart, root.bodyStart),
    'From: a@example.com\r\nSubject: hi\r\n\r\n',
  )
  assert.equal(slice(bytes, root.bodyStart, root.bodyEnd), 'body line 1\r\nline 2\r\n')
  assert.deepEqual(
    root.header.fields.map((field) => [field.name, slice(bytes, field.start, field.end)]),
    [
      ['From', 'From: a@example.com\r\n'],
      ['Subject', 'Subject: hi\r\n'],
    ],
  )
  assert.equal(root.contentType.type, 'text')
  assert.equal(root.contentType.subtype, 'plain')
  assert.equal(root.hasContentType, false)
})

test('folded fields keep their continuation lines; names lose whitespace before the colon', () => {
  const bytes = crlf('Subject: one\n two\n\tthree\nX-Odd   : value\n\nbody')
  const { root } = parseMessage(bytes)
  assert.deepEqual(
    root.header.fields.map((field) => [field.name, slice(bytes, field.start, field.end)]),
    [
      ['Subject', 'Subject: one\r\n two\r\n\tthree\r\n'],
      ['X-Odd', 'X-Odd   : value\r\n'],
    ],
  )
})

test('a header without a blank line runs to the end, and the body is empty', () => {
  const bytes = crlf('From: a@example.com\nSubject: no body')
  const { root } = parseMessage(bytes)
  assert.equal(root.bodyStart, bytes.length)
  assert.equal(root.bodyEnd, bytes.length)
  assert.equal(root.header.fields.length, 2)
})

test('a message that starts with a blank line has an empty header', () => {
  const bytes = crlf('\nonly a body\n')
  const { root } = parseMessage(bytes)
  assert.equal(root.bodyStart, 2)
  assert.equal(root.header.fields.length, 0)
})

test('lines without a colon are skipped as fields but stay in the header block', () => {
  const bytes = crlf('From: a@example.com\nthis is not a field\nTo: b@example.com\n\nbody')
  const { root } = parseMessage(bytes)
  assert.deepEqual(
    root.header.fields.map((field) => field.name),
    ['From', 'To'],
  )
  assert.match(slice(bytes, root.headerStart, root.bodyStart), /this is not a field/)
})

const MULTIPART = crlf(`From: a@example.com
Content-Type: multipart/mixed; boundary="XYZ"

preamble
--XYZ
Content-Type: text/plain

first
--XYZ  
Content-Type: text/html

<p>second</p>

--XYZ--
epilogue
`)

test('multipart parts end before the line break of the next delimiter (RFC 2046 §5.1.1)', () => {
  const { root, bytes } = { ...parseMessage(MULTIPART), bytes: MULTIPART }
  assert.equal(root.children.length, 2)
  const [first, second] = root.children
  assert.ok(first && second)
  assert.equal(slice(bytes, first.headerStart, first.bodyStart), 'Content-Type: text/plain\r\n\r\n')
  assert.equal(slice(bytes, first.bodyStart, first.bodyEnd), 'first')
  // Transport padding after the delimiter is allowed.
  assert.equal(slice(bytes, second.bodyStart, second.bodyEnd), '<p>second</p>\r\n')
  assert.equal(second.contentType.subtype, 'html')
})

test('sections are slices: HEADER, TEXT, 1, 2.MIME, HEADER.FIELDS', () => {
  const message = parseMessage(MULTIPART)
  const text = (path: number[], spec: Parameters<typeof sectionBytes>[2]) =>
    sectionBytes(message, path, spec)?.toString('latin1') ?? null
  assert.equal(
    text([], { kind: 'header' }),
    'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="XYZ"\r\n\r\n',
  )
  assert.ok(text([], { kind: 'text' })?.startsWith('preamble\r\n--XYZ'))
  assert.equal(text([1], { kind: 'all' }), 'first')
  assert.equal(text([2], { kind: 'mime' }), 'Content-Type: text/html\r\n\r\n')
  assert.equal(text([3], { kind: 'all' }), null)
  assert.equal(
    text([], { kind: 'header-fields', names: ['FROM'], isNot: false }),
    'From: a@example.com\r\n\r\n',
  )
  assert.equal(
    text([], { kind: 'header-fields', names: ['from'], isNot: true }),
    'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n',
  )
  assert.equal(text([1], { kind: 'header' }), null, 'HEADER needs a message/rfc822 part')
  assert.equal(findPart(message, [0]), null)
})

test('message/rfc822 is parsed inside; its subparts number from its own body', () => {
  const bytes = crlf(`Content-Type: multipart/mixed; boundary=b1

--b1
Content-Type: text/plain

see attached
--b1
Content-Type: message/rfc822

From: inner@example.com
Subject: inner
Content-Type: multipart/alternative; boundary=b2

--b2
Content-Type: text/plain

inner text
--b2
Content-Type: text/html

<b>inner</b>
--b2--
--b1--
`)
  const message = parseMessage(bytes)
  const attached = message.root.children[1]
  assert.ok(attached?.message)
  assert.equal(attached.message.children.length, 2)
  const text = (path: number[], spec: Parameters<typeof sectionBytes>[2]) =>
    sectionBytes(message, path, spec)?.toString('latin1')
  assert.equal(text([2, 1], { kind: 'all' }), 'inner text')
  assert.equal(text([2, 2], { kind: 'mime' }), 'Content-Type: text/html\r\n\r\n')
  assert.match(
    text([2], { kind: 'header' }) ?? '',
    /^From: inner@example\.com\r\nSubject: inner\r\n/,
  )
  assert.ok(text([2], { kind: 'text' })?.startsWith('--b2\r\n'))
  assert.equal(
    text([2], { kind: 'all' }),
    text([2], { kind: 'header' }) + (text([2], { kind: 'text' }) ?? ''),
  )
})

test('a non-multipart message has exactly one part, its body', () => {
  const bytes = crlf('Subject: x\n\nhello\n')
  const message = parseMessage(bytes)
  assert.equal(sectionBytes(message, [1], { kind: 'all' })?.toString(), 'hello\r\n')
  assert.equal(sectionBytes(message, [2], { kind: 'all' }), null)
  assert.equal(sectionBytes(message, [1, 1], { kind: 'all' }), null)
})

test('a missing close delimiter ends the last part at the end of the message', () => {
  const bytes = crlf('Content-Type: multipart/mixed; boundary=q\n\n--q\n\nalpha\n--q\n\nbeta\n')
  const { root } = parseMessage(bytes)
  assert.equal(root.children.length, 2)
  assert.equal(
    slice(bytes, root.children[1]?.bodyStart ?? 0, root.children[1]?.bodyEnd ?? 0),
    'beta\r\n',
  )
})

test('a multipart whose boundary never appears has no parts', () => {
  const bytes = crlf('Content-Type: multipart/mixed; boundary=never\n\njust text\n')
  const { root } = parseMessage(bytes)
  assert.equal(root.children.length, 0)
})

test('a delimiter starts a line; the boundary is matched as a prefix, innermost first (RFC 2046 §5.1.1)', () => {
  const bytes = crlf(
    'Content-Type: multipart/mixed; boundary=b\n\nx--b\n--b trailing words\n\none\n--bogus\n\ntwo\n--b--tail\n',
  )
  const { root } = parseMessage(bytes)
  // "x--b" is not at a line start; "--b trailing words" and "--bogus" start with "--b", so both
  // are delimiters; "--b--tail" closes.
  assert.deepEqual(
    root.children.map((child) => slice(bytes, child.bodyStart, child.bodyEnd)),
    ['one', 'two'],
  )
})

test('a nested multipart that reuses its parent boundary takes the delimiters (as Dovecot does)', () => {
  const bytes = crlf(
    'Content-Type: multipart/mixed; boundary=S\n\n--S\nContent-Type: multipart/alternative; boundary=S\n\n--S\n\na\n--S\n\nb\n--S--\n--S\n\nc\n--S--\n',
  )
  const { root } = parseMessage(bytes)
  assert.equal(root.children.length, 2)
  assert.equal(root.children[0]?.children.length, 2)
  assert.equal(slice(bytes, root.children[1]?.bodyStart ?? 0, root.children[1]?.bodyEnd ?? 0), 'c')
})

test('an outer delimiter ends an inner multipart that was never closed', () => {
  const bytes = crlf(
    'Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/alternative; boundary=in\n\n--in\n\ninner\n--out\n\nafter\n--out--\n',
  )
  const { root } = parseMessage(bytes)
  assert.equal(root.children.length, 2)
  assert.equal(
    slice(
      bytes,
      root.children[0]?.children[0]?.bodyStart ?? 0,
      root.children[0]?.children[0]?.bodyEnd ?? 0,
    ),
    'inner',
  )
  assert.equal(
    slice(bytes, root.children[1]?.bodyStart ?? 0, root.children[1]?.bodyEnd ?? 0),
    'after',
  )
})

test('a part whose header runs into the next delimiter has an empty body', () => {
  const bytes = crlf(
    'Content-Type: multipart/mixed; boundary=h\n\n--h\nContent-Type: text/html\n--h\n\nnext\n--h--\n',
  )
  const { root } = parseMessage(bytes)
  const first = root.children[0]
  assert.ok(first)
  assert.equal(first.contentType.subtype, 'html')
  assert.equal(first.bodyStart, first.bodyEnd)
  assert.equal(
    slice(bytes, root.children[1]?.bodyStart ?? 0, root.children[1]?.bodyEnd ?? 0),
    'next',
  )
})

test('a base64 message/rfc822 is parsed as it stands: no fields, all header', () => {
  const inner = Buffer.from('Subject: hidden\r\n\nbody\r\n').toString('base64')
  const bytes = crlf(
    `Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n${inner}\n`,
  )
  const { root } = parseMessage(bytes)
  assert.equal(root.message?.header.fields.length, 0)
  assert.equal(root.message?.bodyStart, bytes.length)
})

test('bare LF line ends work for headers, delimiters and bodies', () => {
  const bytes = Buffer.from(
    'Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: text/plain\n\nlf body\n--z--\n',
  )
  const { root } = parseMessage(bytes)
  assert.equal(root.children.length, 1)
  const child = root.children[0]
  assert.ok(child)
  assert.equal(slice(bytes, child.bodyStart, child.bodyEnd), 'lf body')
  assert.equal(child.contentType.subtype, 'plain')
})

test('multipart/digest parts default to message/rfc822 (RFC 2046 §5.1.5)', () => {
  const bytes = crlf(
    'Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d--\n',
  )
  const { root } = parseMessage(bytes)
  const child = root.children[0]
  assert.equal(child?.contentType.type, 'message')
  assert.equal(child?.message?.header.fields[0]?.name, 'Subject')
})

test('nesting past the depth limit stops descending but keeps the byte ranges', () => {
  let body = 'leaf\r\n'
  for (let level = 10; level >= 1; level -= 1) {
    body = `Content-Type: multipart/mixed; boundary=L${level}\r\n\r\n--L${level}\r\n${body}\r\n--L${level}--\r\n`
  }
  const bytes = Buffer.from(body)
  const shallow = parseMessage(bytes, { maxDepth: 4 })
  assert.equal(shallow.isTruncated, true)
  let depth = 0
  for (let part = shallow.root; part.children[0]; part = part.children[0]) depth += 1
  assert.equal(depth, 3)
  const deep = parseMessage(bytes)
  assert.equal(deep.isTruncated, false)
  assert.equal(deep.partCount, 11)
})

test('header fields past the limit are not split, and the body still starts after the blank line', () => {
  const fields = Array.from({ length: 100 }, (_, i) => `X-F${i}: v\r\n`).join('')
  const bytes = Buffer.from(`${fields}\r\nbody`)
  const message = parseMessage(bytes, { maxHeaderFields: 10 })
  assert.equal(message.root.header.fields.length, 10)
  assert.equal(message.isTruncated, true)
  assert.equal(slice(bytes, message.root.bodyStart, message.root.bodyEnd), 'body')
})

test('a header with 100,000 fields splits only up to the field limit and keeps its bytes', () => {
  const fields = 'X-Flood: v\r\n'.repeat(100_000)
  const bytes = Buffer.from(`Subject: flood\r\n${fields}\r\nbody\r\n`)
  const message = parseMessage(bytes)
  assert.equal(message.root.header.fields.length, 5_000)
  assert.equal(message.isTruncated, true)
  assert.equal(slice(bytes, message.root.bodyStart, message.root.bodyEnd), 'body\r\n')
})

test('header octets past the limit are not split into fields', () => {
  const bytes = Buffer.from(`A: ${'a'.repeat(100)}\r\nB: b\r\n\r\nbody`)
  const message = parseMessage(bytes, { maxHeaderOctets: 50 })
  assert.deepEqual(
    message.root.header.fields.map((field) => field.name),
    ['A'],
  )
  assert.equal(message.isTruncated, true)
  assert.equal(slice(bytes, message.root.bodyStart, message.root.bodyEnd), 'body')
})

test('10,000 nested multiparts stop at the depth limit without deep recursion', () => {
  const depth = 10_000
  const opening = Array.from(
    { length: depth },
    (_, i) => `Content-Type: multipart/mixed; boundary=n${i}\r\n\r\n--n${i}\r\n`,
  ).join('')
  const bytes = Buffer.from(`${opening}\r\nleaf\r\n`)
  const message = parseMessage(bytes)
  assert.equal(message.isTruncated, true)
  let levels = 0
  for (let part = message.root; part.children[0]; part = part.children[0]) levels += 1
  assert.equal(levels, 63)
})

test('parts past the part limit are not parsed, and the multipart still ends right', () => {
  const parts = Array.from({ length: 50 }, (_, i) => `--p\r\n\r\npart ${i}\r\n`).join('')
  const bytes = Buffer.from(
    `Content-Type: multipart/mixed; boundary=p\r\n\r\n${parts}--p--\r\nepilogue\r\n`,
  )
  const message = parseMessage(bytes, { maxParts: 10 })
  assert.equal(message.isTruncated, true)
  assert.equal(message.root.children.length, 9)
  assert.equal(message.root.bodyEnd, bytes.length)
})

test('100,000 lines that look like delimiters but are not are read once each', () => {
  const noise = '--not-the-boundary\r\n'.repeat(100_000)
  const bytes = Buffer.from(
    `Content-Type: multipart/mixed; boundary=real\r\n\r\n--real\r\n\r\n${noise}--real--\r\n`,
  )
  const message = parseMessage(bytes)
  assert.equal(message.root.children.length, 1)
  assert.equal(message.root.children[0]?.bodyEnd, bytes.length - '\r\n--real--\r\n'.length)
})
