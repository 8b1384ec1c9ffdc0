import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { InvalidNameError } from './errors.ts'
import { MAX_MAILBOX_NAME_OCTETS } from './limits.ts'
import { checkFlags, checkMailboxName, flagList } from './names.ts'

// Mailbox names and flags arrive from IMAP clients: whatever they send, the store either takes
// a canonical form or refuses with InvalidNameError, never anything else.
const nameChars = fc.oneof(
  fc.constantFrom(
    '/',
    'a',
    'B',
    '.',
    '*',
    '%',
    'é',
    'e\u0301',
    '\u0000',
    ' ',
    '&',
    'INBOX',
    'inbox',
  ),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
)
const names = fc.array(nameChars, { maxLength: 12 }).map((parts) => parts.join(''))

test('checkMailboxName: canonical and idempotent, or InvalidNameError', () => {
  fc.assert(
    fc.property(names, (name) => {
      let canonical: string
      try {
        canonical = checkMailboxName(name)
      } catch (error) {
        assert.ok(error instanceof InvalidNameError, String(error))
        return
      }
      assert.equal(checkMailboxName(canonical), canonical)
      assert.ok(!canonical.split('/').some((segment) => ['', '.', '..'].includes(segment)))
      assert.ok(Buffer.byteLength(canonical) <= MAX_MAILBOX_NAME_OCTETS)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may remain
      assert.ok(!/[*%\u0000-\u001f]/.test(canonical))
      if (canonical.split('/')[0]?.toUpperCase() === 'INBOX')
        assert.ok(canonical.startsWith('INBOX'))
    }),
    { numRuns: 2000 },
  )
})

test('checkFlags: stored flags read back the same, or InvalidNameError', () => {
  const flag = fc.oneof(
    fc.constantFrom(
      '\\Seen',
      '\\SEEN',
      '\\deleted',
      '\\Draft',
      '\\Recent',
      '\\Foo',
      '$Junk',
      'a]b',
    ),
    fc.string({ maxLength: 8 }),
  )
  fc.assert(
    fc.property(fc.array(flag, { maxLength: 10 }), (flags) => {
      let checked: { mask: number; keywords: string[] }
      try {
        checked = checkFlags(flags)
      } catch (error) {
        assert.ok(error instanceof InvalidNameError, String(error))
        return
      }
      const list = flagList(checked.mask, checked.keywords)
      assert.deepEqual(checkFlags(list), checked)
      assert.equal(new Set(list.map((f) => f.toLowerCase())).size, list.length, 'no duplicates')
    }),
    { numRuns: 2000 },
  )
})
