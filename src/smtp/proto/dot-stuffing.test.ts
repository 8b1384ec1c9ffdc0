import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ChunkCollector, DataDecoder, dotStuff } from './dot-stuffing.ts'
import { MAX_TEXT_LINE_OCTETS } from './limits.ts'

// Strings here are octets (latin1), so "\x00" or "\xff" mean one octet each.
const octets = (text: string | Buffer): Buffer =>
  typeof text === 'string' ? Buffer.from(text, 'latin1') : text

interface Decoded {
  message: string
  /** What followed the end (the rest push() returned and any chunks not pushed), or null. */
  rest: string | null
  size: number
  isTooBig: boolean
  hasLongLine: boolean
  hasBareLf: boolean
}

/** Pushes chunks until the decoder finds the end, as the DATA handler does. */
function decode(chunks: readonly (string | Buffer)[], maxOctets = 1_000_000): Decoded {
  const decoder = new DataDecoder(maxOctets)
  let rest: Buffer | null = null
  let next = 0
  while (rest === null && next < chunks.length) {
    rest = decoder.push(octets(chunks[next] as string | Buffer))
    next += 1
  }
  return {
    message: decoder.message().toString('latin1'),
    rest:
      rest === null
        ? null
        : Buffer.concat([rest, ...chunks.slice(next).map(octets)]).toString('latin1'),
    size: decoder.size,
    isTooBig: decoder.isTooBig,
    hasLongLine: decoder.hasLongLine,
    hasBareLf: decoder.hasBareLf,
  }
}

/**
 * Every way to cut `stream` into three chunks (some of them empty), and one octet at a time. A
 * long stream is cut in two only, which keeps the count linear.
 */
function* everySplit(stream: string): Generator<string[]> {
  for (let i = 0; i <= stream.length; i += 1) {
    if (stream.length > 64) {
      yield [stream.slice(0, i), stream.slice(i)]
      continue
    }
    for (let j = i; j <= stream.length; j += 1) {
      yield [stream.slice(0, i), stream.slice(i, j), stream.slice(j)]
    }
  }
  yield [...stream]
}

function checkEverySplit(stream: string, expected: Decoded, maxOctets?: number): void {
  for (const chunks of everySplit(stream)) {
    assert.deepEqual(decode(chunks, maxOctets), expected, JSON.stringify(chunks))
  }
}

function clean(message: string, rest: string | null): Decoded {
  return {
    message,
    rest,
    size: message.length,
    isTooBig: false,
    hasLongLine: false,
    hasBareLf: false,
  }
}

test('DataDecoder ends at CRLF.CRLF and removes stuffed dots at line starts only', () => {
  const cases: [string, string][] = [
    ['Subject: x\r\n\r\nbody\r\n.\r\n', 'Subject: x\r\n\r\nbody\r\n'],
    ['a\r\n..b\r\n.\r\n', 'a\r\n.b\r\n'],
    ['a\r\n..\r\n.\r\n', 'a\r\n.\r\n'],
    ['a\r\n...\r\n.\r\n', 'a\r\n..\r\n'],
    ['..\r\n.\r\n', '.\r\n'],
    ['.x\r\n.\r\n', 'x\r\n'],
    ['.\r\r\n.\r\n', '\r\r\n'],
    ['a.b\r\n.\r\n', 'a.b\r\n'],
    ['a\r\nb.\r\n.\r\n', 'a\r\nb.\r\n'],
    ['a\r\n .\r\n.\r\n', 'a\r\n .\r\n'],
    ['\r\n\r\n.\r\n', '\r\n\r\n'],
    // A CR before the CRLF is still a CRLF line end.
    ['a\r\r\n.\r\n', 'a\r\r\n'],
    ['\xff\x00\x80\r\n.\r\n', '\xff\x00\x80\r\n'],
  ]
  for (const [stream, message] of cases) {
    checkEverySplit(stream, clean(message, ''))
  }
})

test('DataDecoder reads ".\\r\\n" at the start of DATA as an empty message', () => {
  checkEverySplit('.\r\n', clean('', ''))
  checkEverySplit('.\r\nQUIT\r\n', clean('', 'QUIT\r\n'))
  assert.deepEqual(decode(['.', '', '\r', '', '\n']), clean('', ''))
})

test('DataDecoder returns the octets after the end: the next pipelined command', () => {
  checkEverySplit('a\r\n.\r\nMAIL FROM:<>\r\nRCPT', clean('a\r\n', 'MAIL FROM:<>\r\nRCPT'))
  // What follows is never decoded: a second end, stuffing or a bare LF stay as they are.
  checkEverySplit('a\r\n.\r\n..\r\n.\r\n\n', clean('a\r\n', '..\r\n.\r\n\n'))
  const decoder = new DataDecoder(100)
  assert.equal(decoder.push(octets('x\r\n')), null)
  assert.deepEqual(decoder.push(octets('.\r\n')), Buffer.alloc(0))
})

test('DataDecoder never ends on the SMTP smuggling variants, and keeps them as data', () => {
  // [the octets between "a" and "b\r\n.\r\n", what they decode to, whether an LF is bare]
  const variants: [string, string, boolean][] = [
    ['\n.\n', '\n.\n', true],
    ['\n.\r\n', '\n.\r\n', true],
    ['\r.\r\n', '\r.\r\n', false],
    ['\r.\r', '\r.\r', false],
    ['\r.\n', '\r.\n', true],
    ['\n.\r', '\n.\r', true],
    ['\n..\r\n', '\n..\r\n', true],
    ['\r\n\x00.\r\n', '\r\n\x00.\r\n', false],
    ['\r\n .\r\n', '\r\n .\r\n', false],
    ['\r\n\t.\r\n', '\r\n\t.\r\n', false],
    ['\n\n.\n\n', '\n\n.\n\n', true],
    ['\r\r.\r\r', '\r\r.\r\r', false],
    // After CRLF the dot starts a line; a line that is not exactly "." loses its leading dot
    // (RFC 5321 §4.5.2) and the rest of it is kept.
    ['\r\n.\n', '\r\n\n', true],
    ['\r\n.\r', '\r\n\r', false],
    ['\r\n.\x00\r\n', '\r\n\x00\r\n', false],
    ['\r\n.\r\r\n', '\r\n\r\r\n', false],
    ['\r\n.\n\r\n', '\r\n\n\r\n', true],
  ]
  for (const [variant, decoded, hasBareLf] of variants) {
    const message = `a${decoded}b\r\n`
    checkEverySplit(`a${variant}b\r\n.\r\nNEXT`, { ...clean(message, 'NEXT'), hasBareLf })
    // Without the real end, nothing ends the message.
    assert.equal(decode([`a${variant}b\r\n`]).rest, null, JSON.stringify(variant))
  }
})

test('DataDecoder waits for more octets when a chunk ends inside a possible end marker', () => {
  const decoder = new DataDecoder(100)
  for (const chunk of ['a\r\n', '.', '\r', '', 'x\r\n', '.', '\r']) {
    assert.equal(decoder.push(octets(chunk)), null, JSON.stringify(chunk))
  }
  assert.deepEqual(decoder.push(octets('\nQ')), octets('Q'))
  assert.equal(decoder.message().toString('latin1'), 'a\r\n\rx\r\n')
})

test('DataDecoder over maxOctets: flags isTooBig, drops the excess, still finds the end', () => {
  // Exactly at the bound is fine.
  checkEverySplit('abcdefgh\r\n.\r\nQ', clean('abcdefgh\r\n', 'Q'), 10)
  // Stuffed dots are not part of the message, so not of its size either.
  checkEverySplit('..\r\n..\r\n.\r\n', clean('.\r\n.\r\n', ''), 6)

  const stream = `${'x'.repeat(30)}\r\n..\r\ny\n\r\n.\r\nNEXT`
  for (const chunks of everySplit(stream)) {
    const decoded = decode(chunks, 5)
    assert.equal(decoded.rest, 'NEXT', JSON.stringify(chunks))
    assert.equal(decoded.isTooBig, true)
    assert.equal(decoded.size, 30 + 2 + 3 + 4)
    assert.equal(decoded.hasBareLf, true, 'scanning went on past the bound')
    assert.ok(decoded.message.length <= 5, 'nothing past the bound is kept')
  }
  const decoded = decode(['abcdefghi\r\n.\r\n'], 10)
  assert.equal(decoded.isTooBig, true)
  assert.equal(decoded.size, 11)
  assert.equal(decoded.rest, '')
})

test('DataDecoder flags a line over 1000 octets with its CRLF, however it is split', () => {
  const limit = MAX_TEXT_LINE_OCTETS
  const cases: [string, boolean][] = [
    [`${'x'.repeat(limit - 2)}\r\n`, false],
    [`${'x'.repeat(limit - 1)}\r\n`, true],
    [`a\r\n${'x'.repeat(limit - 2)}\r\nb\r\n`, false],
    [`a\r\n${'x'.repeat(limit - 1)}\r\nb\r\n`, true],
    [`${'x'.repeat(limit - 2)}\r\n${'y'.repeat(limit - 2)}\r\n`, false],
    // RFC 5321 §4.5.3.1.6: the length does not count the dot added for transparency.
    [`.${'x'.repeat(limit - 2)}\r\n`, false],
    [`a\r\n.${'x'.repeat(limit - 2)}\r\n`, false],
    [`a\r\n.${'x'.repeat(limit - 1)}\r\n`, true],
    [`a\r\n..${'x'.repeat(limit - 3)}\r\n`, false],
    // A last line with no CRLF yet that is already too long.
    [`${'x'.repeat(limit + 1)}`, true],
  ]
  for (const [body, hasLongLine] of cases) {
    const stream = `${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`
    for (let cut = 0; cut <= stream.length; cut += 1) {
      const decoded = decode([stream.slice(0, cut), stream.slice(cut)])
      assert.equal(decoded.rest, '')
      assert.equal(decoded.hasLongLine, hasLongLine, `${body.length} octets cut at ${cut}`)
    }
    assert.equal(decode([...stream]).hasLongLine, hasLongLine)
  }
})

test('DataDecoder flags an LF not preceded by CR, also across chunks', () => {
  const cases: [string[], boolean][] = [
    [['a\r\nb\r\n.\r\n'], false],
    [['a\r', '\nb\r\n.\r\n'], false],
    [['a\r', '', '\n.\r\n'], false],
    [['a\nb\r\n.\r\n'], true],
    [['\nx\r\n.\r\n'], true],
    [['a\r', 'x\n', '\r\n.\r\n'], true],
    [['a\r', 'x', '\n', '\r\n.\r\n'], true],
    [['.\n\r\n.\r\n'], true],
    [['a\r\n.', '\n\r\n.\r\n'], true],
    [['\r\r\n.\r\n'], false],
  ]
  for (const [chunks, hasBareLf] of cases) {
    const decoded = decode(chunks)
    assert.equal(decoded.rest, '', JSON.stringify(chunks))
    assert.equal(decoded.hasBareLf, hasBareLf, JSON.stringify(chunks))
  }
})

test('DataDecoder.message() is empty before any octet and whole after many chunks', () => {
  assert.equal(new DataDecoder(10).message().length, 0)
  const decoder = new DataDecoder(100)
  for (const chunk of ['one\r\n', 'two\r\n', '..three\r\n']) decoder.push(octets(chunk))
  assert.equal(decoder.message().toString('latin1'), 'one\r\ntwo\r\n.three\r\n')
})

interface Collected {
  message: string
  size: number
  isTooBig: boolean
  hasLongLine: boolean
  hasBareLf: boolean
}

function collect(chunks: readonly string[], maxOctets = 1_000_000): Collected {
  const collector = new ChunkCollector(maxOctets)
  for (const chunk of chunks) collector.push(octets(chunk))
  return {
    message: collector.message().toString('latin1'),
    size: collector.size,
    isTooBig: collector.isTooBig,
    hasLongLine: collector.hasLongLine,
    hasBareLf: collector.hasBareLf,
  }
}

test('ChunkCollector keeps BDAT chunks as they are: no stuffing, no end marker', () => {
  const base = { isTooBig: false, hasLongLine: false, hasBareLf: false }
  assert.deepEqual(collect([]), { ...base, message: '', size: 0 })
  assert.deepEqual(collect(['abc\r\n']), { ...base, message: 'abc\r\n', size: 5 })
  assert.deepEqual(collect(['..\r\n', '.\r\n', 'x']), {
    ...base,
    message: '..\r\n.\r\nx',
    size: 8,
  })
  assert.deepEqual(collect(['a\r', '', '\nb']), { ...base, message: 'a\r\nb', size: 4 })
})

test('ChunkCollector over maxOctets: flags isTooBig and keeps nothing past the bound', () => {
  assert.equal(collect(['abc', 'de'], 5).isTooBig, false)
  const over = collect(['abc', 'def', 'g'], 5)
  assert.equal(over.isTooBig, true)
  assert.equal(over.size, 7)
  assert.equal(over.message, 'abc')
})

test('ChunkCollector flags long lines and bare LFs, also across chunks', () => {
  const limit = MAX_TEXT_LINE_OCTETS
  for (const [body, hasLongLine] of [
    [`${'x'.repeat(limit - 2)}\r\n`, false],
    [`${'x'.repeat(limit - 1)}\r\n`, true],
    // BDAT has no transparency: a leading dot is part of the line.
    [`.${'x'.repeat(limit - 2)}\r\n`, true],
    [`a\r\n${'x'.repeat(limit - 2)}\r\n${'y'.repeat(limit - 2)}\r\n`, false],
    [`${'x'.repeat(limit + 1)}`, true],
  ] as const) {
    for (let cut = 0; cut <= body.length; cut += 1) {
      const collected = collect([body.slice(0, cut), body.slice(cut)])
      assert.equal(collected.hasLongLine, hasLongLine, `${body.length} octets cut at ${cut}`)
      assert.equal(collected.message, body)
    }
  }
  const cases: [string[], boolean][] = [
    [['a\r\nb\r\n'], false],
    [['a\r', '\nb'], false],
    [['a\r', '', '\n'], false],
    [['a\nb'], true],
    [['\n'], true],
    [['a\r', 'x\n'], true],
    [['a', '\n'], true],
    [['\r\r\n'], false],
  ]
  for (const [chunks, hasBareLf] of cases) {
    assert.equal(collect(chunks).hasBareLf, hasBareLf, JSON.stringify(chunks))
  }
})

test('dotStuff doubles a dot at the start and after every LF', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['abc\r\n', 'abc\r\n'],
    ['.', '..'],
    ['.a\r\n', '..a\r\n'],
    ['a\r\n.b\r\n', 'a\r\n..b\r\n'],
    ['a\r\n.\r\n', 'a\r\n..\r\n'],
    ['a\r\n..\r\n', 'a\r\n...\r\n'],
    ['.\r\n.\r\n.', '..\r\n..\r\n..'],
    ['a.b\r\n', 'a.b\r\n'],
    // After a bare LF too: a receiver that takes LF for a line end must not see "\n.\r\n".
    ['a\n.\r\n', 'a\n..\r\n'],
    ['a\r.\r\n', 'a\r.\r\n'],
  ]
  for (const [message, expected] of cases) {
    assert.equal(dotStuff(octets(message)).toString('latin1'), expected, JSON.stringify(message))
  }
  const untouched = octets('no dots at line starts\r\n')
  assert.equal(dotStuff(untouched), untouched)
})

test('DataDecoder reads back dotStuff(message) + ".\\r\\n" for messages ending in CRLF', () => {
  for (const message of [
    '',
    '\r\n',
    '.\r\n',
    '..\r\n',
    '.\r\n.\r\n',
    'a\r\n.\r\n',
    'Subject: x\r\n\r\n.\r\n..\r\n. \r\n.x\r\n',
    'a\r.\r\n',
    '\r\n\x00.\r\n',
    'a\r\r\n.\r\n',
    // 1000 octets, 1001 on the wire with the stuffed dot: not a long line.
    `.${'x'.repeat(MAX_TEXT_LINE_OCTETS - 3)}\r\n`,
  ]) {
    const stream = `${dotStuff(octets(message)).toString('latin1')}.\r\nNEXT`
    checkEverySplit(stream, clean(message, 'NEXT'))
  }
})

test('known asymmetry: a dot after a bare LF is stuffed by dotStuff, not removed by DataDecoder', () => {
  // dotStuff stuffs after any LF so that a receiver taking a bare LF for a line end never sees
  // "\n.\r\n" as the end; DataDecoder only unstuffs after CRLF so that none of the smuggling
  // variants can end a message. No one encoding satisfies both kinds of receiver, so a message
  // with a bare LF before a dot gains that dot when it goes from dotStuff to DataDecoder.
  const stream = `${dotStuff(octets('a\n.b\r\n')).toString('latin1')}.\r\n`
  assert.deepEqual(decode([stream]), { ...clean('a\n..b\r\n', ''), hasBareLf: true })
})
