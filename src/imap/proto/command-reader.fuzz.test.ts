import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { CommandReader, ParseError } from './command-reader.ts'
import { literalAtLineEnd } from './literal.ts'
import { formatString } from './string.ts'

/** Reads a whole command the way a generic command would: tag, name, then any tokens. */
function readAnything(reader: CommandReader): void {
  reader.tag()
  reader.space()
  reader.keyword()
  while (!reader.isAtEnd) {
    reader.space()
    const next = reader.peek()
    if (next === 0x28) reader.list((r) => r.astring())
    else if (next >= 0x30 && next <= 0x39) reader.number64()
    else reader.astring()
  }
}

test('any octets: the reader consumes a command or throws ParseError, nothing else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const line = Buffer.from(bytes.filter((b) => b !== 0x0a && b !== 0x0d))
      try {
        readAnything(new CommandReader([line]))
      } catch (error) {
        assert.ok(error instanceof ParseError, String(error))
      }
    }),
    { numRuns: 5000 },
  )
})

test('any value formatted by formatString reads back as the same octets', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)) }),
      (value) => {
        const wire = `a X ${formatString(value)}`
        // Split where the server would: after a literal's announcement, its octets follow.
        const crlf = wire.indexOf('\r\n')
        const lines = crlf < 0 ? [wire] : [wire.slice(0, crlf), '']
        const literals = crlf < 0 ? [] : [wire.slice(crlf + 2)]
        if (crlf >= 0) {
          const announced = literalAtLineEnd(Buffer.from(lines[0] ?? '', 'latin1'))
          assert.ok(announced !== null && announced !== 'malformed')
          assert.equal(announced.size, literals[0]?.length)
        }
        const reader = new CommandReader(
          lines.map((line) => Buffer.from(line, 'latin1')),
          literals.map((literal) => Buffer.from(literal, 'latin1')),
        )
        reader.tag()
        reader.space()
        reader.keyword()
        reader.space()
        assert.equal(reader.astring().toString('latin1'), value)
        reader.end()
      },
    ),
    { numRuns: 3000 },
  )
})
