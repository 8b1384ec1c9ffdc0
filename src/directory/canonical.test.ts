import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  AddressError,
  canonicalAddress,
  canonicalAliasSource,
  canonicalDomain,
  displayDomain,
} from './canonical.ts'

const DOMAINS: Array<[input: string, canonical: string]> = [
  ['example.test', 'example.test'],
  ['EXAMPLE.Test', 'example.test'],
  ['example.test.', 'example.test'],
  ['localhost', 'localhost'],
  ['bücher.test', 'xn--bcher-kva.test'],
  ['BÜCHER.TEST', 'xn--bcher-kva.test'],
  ['XN--BCHER-KVA.test', 'xn--bcher-kva.test'],
  ['ｅｘａｍｐｌｅ．ｔｅｓｔ', 'example.test'], // full-width letters and dot (UTS #46 mapping)
  ['mail.例え.テスト', 'mail.xn--r8jz45g.xn--zckzah'],
  ['3com.test', '3com.test'],
  ['a-b.test', 'a-b.test'],
  [`${'a'.repeat(63)}.test`, `${'a'.repeat(63)}.test`],
  [`${'a.'.repeat(126)}b`, `${'a.'.repeat(126)}b`], // 253 octets
]

const BAD_DOMAINS: Array<[input: string, message: RegExp]> = [
  ['', /it is empty/],
  ['.', /it is empty/],
  ['example..test', /empty label/],
  ['example.test..', /empty label/],
  ['.example.test', /empty label/],
  [`${'a'.repeat(64)}.test`, /label longer than 63 octets/],
  [`${'a.'.repeat(126)}bc`, /longer than 253 octets/],
  ['-example.test', /label "-example"/],
  ['example-.test', /label "example-"/],
  ['ex_ample.test', /label "ex_ample"/],
  ['exa mple.test', /not a valid domain name/],
  ['user@example.test', /not a valid domain name/],
  ['192.0.2.1', /IP address literal/],
  ['[192.0.2.1]', /IP address literal/],
  ['[IPv6:2001:db8::1]', /IP address literal/],
  ['2001:db8::1', /IP address literal/],
  ['0x7f.1', /numeric label/],
  ['example.123', /not a valid domain name|numeric label/],
  ['x'.repeat(5000), /far too long/],
]

test('canonicalDomain lower-cases, maps IDN to A-labels and drops the root dot', () => {
  for (const [input, canonical] of DOMAINS) {
    assert.equal(canonicalDomain(input), canonical, input)
  }
})

test('canonicalDomain refuses what DNS and SMTP cannot carry, naming the input', () => {
  for (const [input, message] of BAD_DOMAINS) {
    assert.throws(
      () => canonicalDomain(input),
      (error) => error instanceof AddressError && message.test(error.message),
      input,
    )
  }
  assert.throws(() => canonicalDomain('ex_ample.test'), {
    name: 'AddressError',
    message:
      'Cannot use "ex_ample.test" as a domain, it has label "ex_ample", which is not letters, digits and inner hyphens',
  })
})

test('displayDomain shows the U-label form and leaves ASCII names alone', () => {
  assert.equal(displayDomain('xn--bcher-kva.test'), 'bücher.test')
  assert.equal(displayDomain('example.test'), 'example.test')
  assert.equal(displayDomain(canonicalDomain('mail.例え.テスト')), 'mail.例え.テスト')
})

const ADDRESSES: Array<[input: string, address: string]> = [
  ['user@example.test', 'user@example.test'],
  ['User@EXAMPLE.test', 'user@example.test'],
  ['user@xn--bcher-kva.test', 'user@xn--bcher-kva.test'],
  ['user@bücher.test', 'user@xn--bcher-kva.test'],
  ['user@example.test.', 'user@example.test'],
  ['first.last@example.test', 'first.last@example.test'],
  ["o'brien+tag@example.test", "o'brien+tag@example.test"],
  ['!#$%&*+-/=?^_`{|}~@example.test', '!#$%&*+-/=?^_`{|}~@example.test'],
  ['JÖRG@example.test', 'jörg@example.test'],
  ['jo\u0308rg@example.test', 'jörg@example.test'], // decomposed ö becomes NFC
  ['用户@例子.测试', '用户@xn--fsqu00a.xn--0zwm56d'],
  ['ΑΣ.Β@example.test', 'ασ.β@example.test'],
  ['root@localhost', 'root@localhost'],
  [`${'a'.repeat(64)}@example.test`, `${'a'.repeat(64)}@example.test`],
]

const BAD_ADDRESSES: Array<[input: string, message: RegExp]> = [
  ['', /no "@"/],
  ['user', /no "@"/],
  ['@example.test', /local part is empty/],
  ['user@', /domain is empty/],
  ['"john smith"@example.test', /quoted local parts/],
  ['"user"@example.test', /quoted local parts/],
  ['.user@example.test', /leading, trailing or double dot/],
  ['user.@example.test', /leading, trailing or double dot/],
  ['us..er@example.test', /leading, trailing or double dot/],
  ['us er@example.test', /character not allowed/],
  ['us(er)@example.test', /character not allowed/],
  ['a@b@example.test', /character not allowed/],
  ['us\u0000er@example.test', /character not allowed/],
  ['us\u00a0er@example.test', /character not allowed/], // no-break space
  ['us\u202eer@example.test', /character not allowed/], // right-to-left override
  ['us\ud800er@example.test', /not valid Unicode/],
  [`${'a'.repeat(65)}@example.test`, /local part is longer than 64 octets/],
  [`${'é'.repeat(33)}@example.test`, /local part is longer than 64 octets/], // 66 octets
  [`${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.test`, /254 octets/],
  ['user@[192.0.2.1]', /domain is an IP address literal/],
  ['user@exa_mple.test', /domain has label "exa_mple"/],
]

test('canonicalAddress folds case, normalizes to NFC and canonicalizes the domain', () => {
  for (const [input, address] of ADDRESSES) {
    const canonical = canonicalAddress(input)
    assert.equal(canonical.address, address, input)
    assert.equal(`${canonical.local}@${canonical.domain}`, canonical.address)
  }
})

test('canonicalAddress refuses quoted, malformed and oversized addresses, naming the input', () => {
  for (const [input, message] of BAD_ADDRESSES) {
    assert.throws(
      () => canonicalAddress(input),
      (error) => error instanceof AddressError && message.test(error.message),
      JSON.stringify(input),
    )
  }
  assert.throws(() => canonicalAddress('"a b"@example.test'), {
    message:
      'Cannot use "\\"a b\\"@example.test" as an address, quoted local parts are not accepted',
  })
})

test('canonicalAliasSource takes an address or "@domain" for the catch-all', () => {
  assert.equal(canonicalAliasSource('Sales@Example.TEST'), 'sales@example.test')
  assert.equal(canonicalAliasSource('@BÜCHER.test'), '@xn--bcher-kva.test')
  assert.throws(() => canonicalAliasSource('@'), AddressError)
  assert.throws(() => canonicalAliasSource('@@example.test'), AddressError)
})

// Local parts from every kind of character, including the ones canonicalAddress refuses.
const localPart = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcXYZ09.+-_!~"@ ') }),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
)
const domain = fc.oneof(
  fc.domain(),
  fc.constantFrom('Bücher.TEST', 'ＥＸＡＭＰＬＥ.test', 'localhost', '[127.0.0.1]', 'xn--zz.test.'),
  fc.string({ unit: 'grapheme' }),
)
const address = fc.oneof(
  fc.tuple(localPart, domain).map(([local, domain]) => `${local}@${domain}`),
  fc.string({ unit: 'binary' }),
)

test('canonicalAddress is idempotent and throws nothing but AddressError (property)', () => {
  fc.assert(
    fc.property(address, (input) => {
      let canonical: ReturnType<typeof canonicalAddress>
      try {
        canonical = canonicalAddress(input)
      } catch (error) {
        assert.ok(error instanceof AddressError, `threw ${String(error)}`)
        return
      }
      assert.deepEqual(canonicalAddress(canonical.address), canonical)
      assert.ok(Buffer.byteLength(canonical.local) <= 64)
      assert.equal(canonical.address, canonical.address.normalize('NFC'))
    }),
    { numRuns: 5_000 },
  )
})

test('canonicalDomain is idempotent and throws nothing but AddressError (property)', () => {
  fc.assert(
    fc.property(domain, (input) => {
      let canonical: string
      try {
        canonical = canonicalDomain(input)
      } catch (error) {
        assert.ok(error instanceof AddressError, `threw ${String(error)}`)
        return
      }
      assert.equal(canonicalDomain(canonical), canonical)
      assert.equal(canonicalDomain(displayDomain(canonical)), canonical)
      assert.match(canonical, /^[a-z0-9.-]+$/)
    }),
    { numRuns: 5_000 },
  )
})
