import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { MAX_DOMAIN_OCTETS, MAX_LOCAL_PART_OCTETS, MAX_PATH_OCTETS } from './limits.ts'
import { formatMailbox, parseMailbox, parsePath, type SmtpMailbox } from './path.ts'

/** A valid domain of exactly `octets` octets: labels of at most 63 "a"s joined by dots. */
function domainOf(octets: number): string {
  const labels: string[] = []
  let left = octets
  while (left > 0) {
    const label = Math.min(63, left === 64 ? 62 : left)
    labels.push('a'.repeat(label))
    left -= label + 1
  }
  const domain = labels.join('.')
  assert.equal(Buffer.byteLength(domain), octets)
  return domain
}

function mailbox(
  text: string,
  localPart: string,
  domain: string,
  flags: Partial<Pick<SmtpMailbox, 'isQuoted' | 'isAddressLiteral' | 'hasNonAscii'>> = {},
): SmtpMailbox {
  return {
    localPart,
    isQuoted: flags.isQuoted ?? false,
    domain,
    isAddressLiteral: flags.isAddressLiteral ?? false,
    text,
    hasNonAscii: flags.hasNonAscii ?? false,
  }
}

test('parseMailbox reads Dot-strings, Quoted-strings, domains and address literals', () => {
  const cases: [string, SmtpMailbox][] = [
    ['user@example.com', mailbox('user@example.com', 'user', 'example.com')],
    ['First.Last+tag@Sub.Example.COM', mailbox('', 'First.Last+tag', 'Sub.Example.COM')],
    ["!#$%&'*+-/=?^_`{|}~@example.com", mailbox('', "!#$%&'*+-/=?^_`{|}~", 'example.com')],
    ['u@localhost', mailbox('', 'u', 'localhost')],
    ['u@a-b.3com.example', mailbox('', 'u', 'a-b.3com.example')],
    ['u@xn--bcher-kva.example', mailbox('', 'u', 'xn--bcher-kva.example')],
    // A trailing dot (the DNS root) is tolerated and kept as written.
    ['u@example.com.', mailbox('', 'u', 'example.com.')],
    ['"a b"@example.com', mailbox('', 'a b', 'example.com', { isQuoted: true })],
    ['"a\\"b"@example.com', mailbox('', 'a"b', 'example.com', { isQuoted: true })],
    ['"a\\\\b"@example.com', mailbox('', 'a\\b', 'example.com', { isQuoted: true })],
    ['"a\\ b\\x"@example.com', mailbox('', 'a bx', 'example.com', { isQuoted: true })],
    ['"a@b"@example.com', mailbox('', 'a@b', 'example.com', { isQuoted: true })],
    ['"a.@..b"@example.com', mailbox('', 'a.@..b', 'example.com', { isQuoted: true })],
    ['""@example.com', mailbox('', '', 'example.com', { isQuoted: true })],
    ['"<>,;:[]"@example.com', mailbox('', '<>,;:[]', 'example.com', { isQuoted: true })],
    [
      '"jörg 😀"@example.com',
      mailbox('', 'jörg 😀', 'example.com', { isQuoted: true, hasNonAscii: true }),
    ],
    ['u@[192.0.2.1]', mailbox('', 'u', '[192.0.2.1]', { isAddressLiteral: true })],
    ['u@[0.0.0.0]', mailbox('', 'u', '[0.0.0.0]', { isAddressLiteral: true })],
    ['u@[255.255.255.255]', mailbox('', 'u', '[255.255.255.255]', { isAddressLiteral: true })],
    ['u@[IPv6:2001:db8::1]', mailbox('', 'u', '[IPv6:2001:db8::1]', { isAddressLiteral: true })],
    ['u@[ipv6:::1]', mailbox('', 'u', '[ipv6:::1]', { isAddressLiteral: true })],
    [
      'u@[IPv6:2001:db8:0:0:0:0:0:1]',
      mailbox('', 'u', '[IPv6:2001:db8:0:0:0:0:0:1]', { isAddressLiteral: true }),
    ],
    [
      'u@[IPv6:::ffff:192.0.2.1]',
      mailbox('', 'u', '[IPv6:::ffff:192.0.2.1]', { isAddressLiteral: true }),
    ],
    // General-address-literal = Standardized-tag ":" 1*dcontent (RFC 5321 §4.1.3).
    ['u@[x-tag:Any!thing~^]', mailbox('', 'u', '[x-tag:Any!thing~^]', { isAddressLiteral: true })],
    ['jörg@bücher.example', mailbox('', 'jörg', 'bücher.example', { hasNonAscii: true })],
    ['用户@例子.广告', mailbox('', '用户', '例子.广告', { hasNonAscii: true })],
    ['u@bücher.example', mailbox('', 'u', 'bücher.example', { hasNonAscii: true })],
  ]
  for (const [text, expected] of cases) {
    assert.deepEqual(parseMailbox(text), { ...expected, text }, JSON.stringify(text))
  }
})

test('parseMailbox refuses malformed local parts, domains and address literals', () => {
  const cases = [
    '',
    'user',
    'user@',
    '@example.com',
    '.user@example.com',
    'user.@example.com',
    'a..b@example.com',
    'a b@example.com',
    'a"b@example.com',
    'a(b)@example.com',
    'a,b@example.com',
    'a[b@example.com',
    'a\\b@example.com',
    'a\x00b@example.com',
    'a@b@example.com',
    '"abc@example.com',
    '"abc',
    '"a\\',
    '"a\\é"@example.com',
    '"a\\\x01"@example.com',
    '"a\x01"@example.com',
    '"a\tb"@example.com',
    '"a\x7f"@example.com',
    '"a"x@example.com',
    '"a"',
    '"a"@',
    'u@.',
    'u@.example.com',
    'u@example..com',
    'u@example.com..',
    'u@-example.com',
    'u@example-.com',
    'u@exa_mple.com',
    'u@exa mple.com',
    'u@example.com>',
    'u@bü-.example',
    'u@[192.0.2.1',
    'u@[192.0.2.1]x',
    'u@[]',
    'u@[256.0.0.1]',
    'u@[1.2.3]',
    'u@[1.2.3.4.5]',
    'u@[01.2.3.4]',
    'u@[1.2.3.4 ]',
    'u@[IPv6:]',
    'u@[IPv6:zz::1]',
    'u@[IPv6:1:::2]',
    'u@[IPv6:1:2:3:4:5:6:7:8:9]',
    'u@[IPv6:fe80::1%eth0]',
    'u@[ipv6:192.0.2.1]',
    'u@[:x]',
    'u@[tag:]',
    'u@[tag-:x]',
    'u@[tag:a b]',
    'u@[tag:a[b]',
    'u@[tag:a\\b]',
    'u@[tag:a]b]',
  ]
  for (const text of cases) {
    const result = parseMailbox(text)
    assert.ok('error' in result, `${JSON.stringify(text)} was accepted: ${JSON.stringify(result)}`)
    assert.ok(result.error.length > 0)
  }
})

test('parseMailbox bounds the local part at 64 octets and the domain at 255', () => {
  const atBound: [string, string][] = [
    ['a'.repeat(MAX_LOCAL_PART_OCTETS), 'example.com'],
    ['é'.repeat(MAX_LOCAL_PART_OCTETS / 2), 'example.com'],
    [`"${'a'.repeat(MAX_LOCAL_PART_OCTETS - 2)}\\"\\\\"`, 'example.com'],
    ['u', domainOf(MAX_DOMAIN_OCTETS)],
    ['u', `${domainOf(MAX_DOMAIN_OCTETS - 1)}.`],
  ]
  for (const [local, domain] of atBound) {
    const result = parseMailbox(`${local}@${domain}`)
    assert.ok(!('error' in result), `${local}@${domain}: ${JSON.stringify(result)}`)
  }
  const pastBound: [string, string, RegExp][] = [
    ['a'.repeat(MAX_LOCAL_PART_OCTETS + 1), 'example.com', /local part is longer than 64/],
    [`${'é'.repeat(MAX_LOCAL_PART_OCTETS / 2)}a`, 'example.com', /local part is longer than 64/],
    [`"${'a'.repeat(MAX_LOCAL_PART_OCTETS + 1)}"`, 'example.com', /local part is longer than 64/],
    ['u', domainOf(MAX_DOMAIN_OCTETS + 1), /domain is longer than 255/],
    ['u', `${domainOf(MAX_DOMAIN_OCTETS)}.`, /domain is longer than 255/],
    ['u', `é${domainOf(MAX_DOMAIN_OCTETS - 1)}`, /domain is longer than 255/],
  ]
  for (const [local, domain, message] of pastBound) {
    const result = parseMailbox(`${local}@${domain}`)
    assert.ok('error' in result, `${local}@${domain} was accepted`)
    assert.match(result.error, message)
  }
})

test('parsePath reads the path and returns the rest of the line unparsed', () => {
  const plain = mailbox('u@example.com', 'u', 'example.com')
  assert.deepEqual(parsePath('<u@example.com>'), {
    path: { mailbox: plain, route: [], isPostmaster: false },
    rest: '',
  })
  assert.deepEqual(parsePath('<u@example.com> SIZE=10 BODY=8BITMIME'), {
    path: { mailbox: plain, route: [], isPostmaster: false },
    rest: ' SIZE=10 BODY=8BITMIME',
  })
  assert.deepEqual(parsePath('<"a>b\\">"@example.com> X'), {
    path: {
      mailbox: mailbox('"a>b\\">"@example.com', 'a>b">', 'example.com', { isQuoted: true }),
      route: [],
      isPostmaster: false,
    },
    rest: ' X',
  })
})

test('parsePath takes <> only where the null path is allowed', () => {
  const nullPath = { mailbox: null, route: [], isPostmaster: false }
  assert.deepEqual(parsePath('<>', { allowNull: true }), { path: nullPath, rest: '' })
  assert.deepEqual(parsePath('<> SIZE=1', { allowNull: true }), { path: nullPath, rest: ' SIZE=1' })
  assert.ok('error' in parsePath('<>'))
  assert.ok('error' in parsePath('<>', { allowPostmaster: true }))
  assert.ok('error' in parsePath('<>x', { allowNull: true }))
})

test('parsePath takes <Postmaster> without a domain only where allowed', () => {
  for (const text of ['Postmaster', 'postmaster', 'POSTMASTER', 'PostMaster']) {
    assert.deepEqual(parsePath(`<${text}> NOTIFY=NEVER`, { allowPostmaster: true }), {
      path: {
        mailbox: mailbox(text, 'postmaster', ''),
        route: [],
        isPostmaster: true,
      },
      rest: ' NOTIFY=NEVER',
    })
    assert.ok('error' in parsePath(`<${text}>`), text)
    assert.ok('error' in parsePath(`<${text}>`, { allowNull: true }), text)
  }
  const withDomain = parsePath('<postmaster@example.com>', { allowPostmaster: true })
  assert.ok('path' in withDomain)
  assert.equal(withDomain.path.isPostmaster, false)
  assert.equal(withDomain.path.mailbox?.domain, 'example.com')
  assert.ok('error' in parsePath('<postmaster2>', { allowPostmaster: true }))
  assert.ok('error' in parsePath('<"postmaster">', { allowPostmaster: true }))
})

test('parsePath accepts a source route, records it, and keeps the mailbox', () => {
  const cases: [string, string[]][] = [
    ['<@a.example:u@c.example>', ['a.example']],
    ['<@a.example,@b.example:u@c.example>', ['a.example', 'b.example']],
    ['<@a,@b,@c.:u@c.example>', ['a', 'b', 'c.']],
  ]
  for (const [text, route] of cases) {
    assert.deepEqual(
      parsePath(text),
      {
        path: { mailbox: mailbox('u@c.example', 'u', 'c.example'), route, isPostmaster: false },
        rest: '',
      },
      text,
    )
  }
  const quoted = parsePath('<@a.example:"x:y"@c.example>')
  assert.ok('path' in quoted)
  assert.equal(quoted.path.mailbox?.localPart, 'x:y')
  assert.deepEqual(quoted.path.route, ['a.example'])
  const literal = parsePath('<@a.example:u@[IPv6:2001:db8::1]>')
  assert.ok('path' in literal)
  assert.equal(literal.path.mailbox?.domain, '[IPv6:2001:db8::1]')

  for (const bad of [
    '<@a.example u@c.example>',
    '<@a.example>',
    '<@:u@c.example>',
    '<@a.example,:u@c.example>',
    '<@a.example,b.example:u@c.example>',
    '<@a..example:u@c.example>',
    '<@a_b.example:u@c.example>',
    '<@[192.0.2.1]:u@c.example>',
    '<@a.example:>',
    '<@a.example:@b.example:u@c.example>',
  ]) {
    assert.ok('error' in parsePath(bad), bad)
  }
})

test('parsePath refuses a path without brackets or with junk after ">"', () => {
  for (const bad of [
    '',
    'u@example.com',
    ' <u@example.com>',
    '<u@example.com',
    '<"u>@example.com',
    '<u@example.com>x',
    '<u@example.com>>',
    '<u@example.com>\t',
    '<<u@example.com>>',
    '<u@example.com\x00>',
  ]) {
    const result = parsePath(bad, { allowNull: true, allowPostmaster: true })
    assert.ok('error' in result, JSON.stringify(bad))
  }
})

test('parsePath bounds the path at 256 octets, brackets included', () => {
  const local = 'a'.repeat(MAX_LOCAL_PART_OCTETS)
  const atBound = `<${local}@${domainOf(MAX_PATH_OCTETS - MAX_LOCAL_PART_OCTETS - 3)}>`
  assert.equal(Buffer.byteLength(atBound), MAX_PATH_OCTETS)
  assert.ok('path' in parsePath(atBound))

  const pastBound = `<${local}@${domainOf(MAX_PATH_OCTETS - MAX_LOCAL_PART_OCTETS - 2)}>`
  const refused = parsePath(pastBound)
  assert.ok('error' in refused)
  assert.match(refused.error, /longer than 256 octets/)

  // Octets, not characters: 32 "é" are 64 octets.
  const utf8 = `<${'é'.repeat(32)}@${domainOf(MAX_PATH_OCTETS - MAX_LOCAL_PART_OCTETS - 2)}>`
  assert.ok(utf8.length < MAX_PATH_OCTETS)
  assert.ok('error' in parsePath(utf8))

  // The route counts toward the path.
  const routed = `<@${'b'.repeat(10)}:${local}@${domainOf(MAX_PATH_OCTETS - MAX_LOCAL_PART_OCTETS - 3 - 12)}>`
  assert.equal(Buffer.byteLength(routed), MAX_PATH_OCTETS)
  assert.ok('path' in parsePath(routed))
  assert.ok('error' in parsePath(routed.replace('@b', '@bb')))
})

test('formatMailbox quotes a local part only when it is not a Dot-string', () => {
  const cases: [string, string, string][] = [
    ['user', 'example.com', 'user@example.com'],
    ['first.last+tag', 'example.com', 'first.last+tag@example.com'],
    ['jörg', 'bücher.example', 'jörg@bücher.example'],
    ['a b', 'example.com', '"a b"@example.com'],
    ['a"b', 'example.com', '"a\\"b"@example.com'],
    ['a\\b', 'example.com', '"a\\\\b"@example.com'],
    ['', 'example.com', '""@example.com'],
    ['.a', 'example.com', '".a"@example.com'],
    ['a.', 'example.com', '"a."@example.com'],
    ['a..b', 'example.com', '"a..b"@example.com'],
    ['a@b', 'example.com', '"a@b"@example.com'],
    ['u', '[192.0.2.1]', 'u@[192.0.2.1]'],
  ]
  for (const [local, domain, expected] of cases) {
    assert.equal(formatMailbox(local, domain), expected)
  }
})

test('parseMailbox reads back what formatMailbox wrote (property)', () => {
  const char = fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    fc.constantFrom('.', '"', '\\', '@', ' ', 'é', '😀'),
  )
  fc.assert(
    fc.property(fc.string({ unit: char, maxLength: 40 }), (local) => {
      const parsed = parseMailbox(formatMailbox(local, 'example.com'))
      if (Buffer.byteLength(local) > MAX_LOCAL_PART_OCTETS) return
      assert.ok(!('error' in parsed), JSON.stringify(local))
      assert.equal(parsed.localPart, local)
      assert.equal(parsed.domain, 'example.com')
    }),
    { numRuns: 500 },
  )
})
