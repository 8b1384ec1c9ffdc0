import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseMessage } from './parse-message.ts'
import { binarySection, sectionBytes } from './sections.ts'
import { bodyStructure } from './structure.ts'

test('lines count line ends only; text parts without a charset say us-ascii', () => {
  const bytes = Buffer.from('Content-Type: text/plain; format=flowed\r\n\r\none\r\ntwo')
  const structure = bodyStructure(parseMessage(bytes))
  assert.equal(structure.lines, 1)
  assert.deepEqual(structure.params, [
    ['format', 'flowed'],
    ['charset', 'us-ascii'],
  ])
})

test('the transfer encoding is its token as written, comments dropped, for BODYSTRUCTURE and BINARY', () => {
  const bytes = Buffer.from(
    `Content-Type: text/plain\r\nContent-Transfer-Encoding: (MIME) Base64 (really)\r\n\r\n${Buffer.from('hello').toString('base64')}\r\n`,
  )
  const message = parseMessage(bytes)
  assert.equal(bodyStructure(message).encoding, 'Base64')
  const binary = binarySection(message, [1])
  assert.ok(binary.ok)
  assert.equal(binary.content.toString(), 'hello')
})

test('comment stripping in structured fields is linear on a flood of "("', () => {
  const flood = '('.repeat(300_000)
  const bytes = Buffer.from(
    `Content-Language: en ${flood}\r\nContent-Transfer-Encoding: ${flood}\r\n\r\nx`,
  )
  const structure = bodyStructure(parseMessage(bytes))
  assert.equal(structure.encoding, '7bit')
  assert.equal(structure.language?.[0], 'en')
})

test('part 1 of a multipart without parts is the empty part BODYSTRUCTURE describes', () => {
  const message = parseMessage(
    Buffer.from('Content-Type: multipart/mixed; boundary=none\r\n\r\nno parts\r\n'),
  )
  assert.equal(sectionBytes(message, [1], { kind: 'all' })?.length, 0)
  assert.equal(sectionBytes(message, [2], { kind: 'all' }), null)
})

test('many nested boundaries and a body of "--" lines parse in one pass', () => {
  // From the review: each nesting level used to rescan the rest of the message.
  const levels = 60
  const opening = Array.from(
    { length: levels },
    (_, i) => `Content-Type: multipart/mixed; boundary=level${i}\r\n\r\n--level${i}\r\n`,
  ).join('')
  const noise = '--\r\n'.repeat(500_000)
  const bytes = Buffer.from(`${opening}\r\n${noise}`)
  const message = parseMessage(bytes)
  let leaf = message.root
  while (leaf.children[0]) leaf = leaf.children[0]
  assert.equal(leaf.bodyEnd, bytes.length)
})

test('an address list past the ENVELOPE bound is cut, not parsed into a million objects', async () => {
  const { readEnvelope } = await import('./envelope.ts')
  const bytes = Buffer.from(`To: ${'<>,'.repeat(400_000)}\r\n\r\n`)
  const envelope = readEnvelope(bytes, parseMessage(bytes).root)
  assert.ok((envelope.to?.length ?? 0) <= 256 * 1024)
})
