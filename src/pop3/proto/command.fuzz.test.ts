import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { POP3_VERBS, parseCommand } from './command.ts'

test('any line parses to a known verb or an error, never throws', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const parsed = parseCommand(Buffer.from(bytes))
      if (parsed.kind === 'command') {
        assert.ok((POP3_VERBS as readonly string[]).includes(parsed.command.verb))
        for (const arg of parsed.command.args) assert.equal(typeof arg, 'string')
      } else {
        // The error text is safe to echo on one response line.
        assert.doesNotMatch(parsed.message, /[\r\n]/)
      }
    }),
    { numRuns: 5000 },
  )
})

test('known verbs with arguments of any text keep their arguments', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...POP3_VERBS.filter((verb) => verb !== 'PASS')),
      fc.array(fc.stringMatching(/^[\x21-\x7e]{1,20}$/), { maxLength: 3 }),
      (verb, args) => {
        const parsed = parseCommand(Buffer.from([verb.toLowerCase(), ...args].join(' ')))
        assert.deepEqual(parsed, { kind: 'command', command: { verb, args } })
      },
    ),
  )
})
