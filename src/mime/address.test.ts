import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type AddressListEntry,
  addressOf,
  formatAddress,
  formatAddressList,
  type Group,
  type Mailbox,
  parseAddressList,
  toAsciiDomain,
} from './address.ts'

function mailbox(
  name: string | null,
  local: string,
  host: string | null,
  route: string | null = null,
): Mailbox {
  return { kind: 'mailbox', name, route, mailbox: local, host }
}

function group(name: string, ...members: Mailbox[]): Group {
  return { kind: 'group', name, members }
}

function check(cases: readonly (readonly [string, string, AddressListEntry[]])[]): void {
  for (const [why, input, expected] of cases) {
    assert.deepEqual(parseAddressList(input), expected, `${why}: ${JSON.stringify(input)}`)
  }
}

test('parseAddressList reads the examples of RFC 5322 Appendix A', () => {
  check([
    ['A.1.1', 'John Doe <jdoe@machine.example>', [mailbox('John Doe', 'jdoe', 'machine.example')]],
    [
      'A.1.2',
      '"Joe Q. Public" <john.q.public@example.com>',
      [mailbox('Joe Q. Public', 'john.q.public', 'example.com')],
    ],
    [
      'A.1.2',
      'Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>',
      [
        mailbox('Mary Smith', 'mary', 'x.test'),
        mailbox(null, 'jdoe', 'example.org'),
        mailbox('Who?', 'one', 'y.test'),
      ],
    ],
    [
      'A.1.2',
      '<boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>',
      [
        mailbox(null, 'boss', 'nil.test'),
        mailbox('Giant; "Big" Box', 'sysservices', 'example.net'),
      ],
    ],
    [
      'A.1.3',
      'A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;',
      [
        group(
          'A Group',
          mailbox('Ed Jones', 'c', 'a.test'),
          mailbox(null, 'joe', 'where.test'),
          mailbox('John', 'jdoe', 'one.test'),
        ),
      ],
    ],
    ['A.1.3', 'Undisclosed recipients:;', [group('Undisclosed recipients')]],
    [
      'A.5',
      'Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>',
      [mailbox('Pete', 'pete', 'silly.test')],
    ],
    [
      'A.5',
      "A Group(Some people):Chris Jones <c@(Chris's host.)public.example>, joe@example.org, John <jdoe@one.test> (my dear friend); (the end of the group)",
      [
        group(
          'A Group',
          mailbox('Chris Jones', 'c', 'public.example'),
          mailbox(null, 'joe', 'example.org'),
          mailbox('John', 'jdoe', 'one.test'),
        ),
      ],
    ],
    [
      'A.5',
      '(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;',
      [group('Hidden recipients')],
    ],
    [
      'A.6.1 obs-phrase with an unquoted dot',
      'Joe Q. Public <john.q.public@example.com>',
      [mailbox('Joe Q. Public', 'john.q.public', 'example.com')],
    ],
    [
      'A.6.1 obs-route, an empty element, CFWS around a dot',
      '<@machine.tld:mary@example.net>, , jdoe@test   . example',
      [mailbox(null, 'mary', 'example.net', '@machine.tld'), mailbox(null, 'jdoe', 'test.example')],
    ],
    [
      'A.6.3 comments and spaces inside the domain',
      'John Doe <jdoe@machine(comment).  example>',
      [mailbox('John Doe', 'jdoe', 'machine.example')],
    ],
    [
      'A.6.3 an unfolded blank line inside the field',
      'Mary Smith      <mary@example.net>',
      [mailbox('Mary Smith', 'mary', 'example.net')],
    ],
  ])
})

test('parseAddressList unquotes names and local parts and keeps domains as written', () => {
  check([
    [
      'quoted name with a comma',
      '"Doe, John" <john@example.com>',
      [mailbox('Doe, John', 'john', 'example.com')],
    ],
    [
      'quoted local part with spaces and escaped quotes',
      '"john \\"the man\\" doe"@example.com',
      [mailbox(null, 'john "the man" doe', 'example.com')],
    ],
    [
      'quoted local part inside brackets',
      'J <"j d"@x.example>',
      [mailbox('J', 'j d', 'x.example')],
    ],
    ['empty quoted local part', '""@example.com', [mailbox(null, '', 'example.com')]],
    ['domain case is kept', 'Jane <Jane@EXAMPLE.Com>', [mailbox('Jane', 'Jane', 'EXAMPLE.Com')]],
    ['IPv4 domain literal', 'root@[192.0.2.1]', [mailbox(null, 'root', '[192.0.2.1]')]],
    [
      'IPv6 domain literal',
      '<postmaster@[IPv6:2001:db8::1]>',
      [mailbox(null, 'postmaster', '[IPv6:2001:db8::1]')],
    ],
    [
      'whitespace runs in a name collapse',
      '  "John   Doe"\t <j@x>  ',
      [mailbox('John Doe', 'j', 'x')],
    ],
    ['tab between words', 'John\tDoe <j@x>', [mailbox('John Doe', 'j', 'x')]],
    ['comment inside a name', 'John (Jack) Doe <j@x>', [mailbox('John Doe', 'j', 'x')]],
    ['quoted and atom words joined', '"John" Q. "Doe" <j@x>', [mailbox('John Q. Doe', 'j', 'x')]],
    ['empty quoted name is no name', '"" <j@x>', [mailbox(null, 'j', 'x')]],
    [
      'an address as the name',
      'user@example.com <user@example.com>',
      [mailbox('user@example.com', 'user', 'example.com')],
    ],
    [
      'single quotes are ordinary characters',
      "'John Doe' <j@x>",
      [mailbox("'John Doe'", 'j', 'x')],
    ],
    ['bracketed tag in a name', '[External] John <j@x>', [mailbox('[External] John', 'j', 'x')]],
    [
      'nested comments with quoted-pairs',
      'a@x (one (two \\( three) four)',
      [mailbox('one (two ( three) four', 'a', 'x')],
    ],
  ])
})

test('parseAddressList leaves encoded words as they are', () => {
  check([
    ['Q encoding', '=?utf-8?q?J=C3=B6rg?= <j@x>', [mailbox('=?utf-8?q?J=C3=B6rg?=', 'j', 'x')]],
    [
      'adjacent encoded words keep one space',
      '=?utf-8?b?SsO2cmc=?=   =?utf-8?b?IERvZQ==?= <j@x>',
      [mailbox('=?utf-8?b?SsO2cmc=?= =?utf-8?b?IERvZQ==?=', 'j', 'x')],
    ],
    [
      'unencoded comma inside an encoded word',
      '=?utf-8?Q?Doe,_John?= <j@x>',
      [mailbox('=?utf-8?Q?Doe,_John?=', 'j', 'x')],
    ],
    [
      'encoded word inside quotes',
      '"=?iso-8859-1?q?Andr=E9?= Pirard" <PIRARD@vm1.ulg.ac.be>',
      [mailbox('=?iso-8859-1?q?Andr=E9?= Pirard', 'PIRARD', 'vm1.ulg.ac.be')],
    ],
  ])
})

test('parseAddressList reads UTF-8 and IDN addresses as written (RFC 6532)', () => {
  check([
    [
      'UTF-8 name, local part and domain',
      'Jöhn Dœ <jöhn@bücher.example>',
      [mailbox('Jöhn Dœ', 'jöhn', 'bücher.example')],
    ],
    ['CJK local part', '山田 <山田@例え.jp>', [mailbox('山田', '山田', '例え.jp')]],
    ['punycode domain', 'x@xn--bcher-kva.example', [mailbox(null, 'x', 'xn--bcher-kva.example')]],
    ['emoji name', '"😀 Smile" <s@x>', [mailbox('😀 Smile', 's', 'x')]],
  ])
})

test('parseAddressList reads obsolete syntax (RFC 5322 §4.4)', () => {
  check([
    [
      'route with two domains',
      'Mary <@route1.example,@route2.example:mary@example.net>',
      [mailbox('Mary', 'mary', 'example.net', '@route1.example,@route2.example')],
    ],
    [
      'route with empty elements and spaces',
      '<,@a.example, ,@b.example : m@x>',
      [mailbox(null, 'm', 'x', '@a.example,@b.example')],
    ],
    ['CFWS around the "@"', 'john @ example.com', [mailbox(null, 'john', 'example.com')]],
    [
      'quoted words with dots',
      '"john"."doe"@example.com',
      [mailbox(null, 'john.doe', 'example.com')],
    ],
    [
      'CFWS around dots in the local part',
      'john . doe@example.com',
      [mailbox(null, 'john.doe', 'example.com')],
    ],
    ['leading commas', ', ,a@x', [mailbox(null, 'a', 'x')]],
    ['"<@x>" is no route', '<@example.com>', [mailbox(null, '', 'example.com')]],
  ])
})

test('parseAddressList tolerates what broken mailers write', () => {
  check([
    ['missing ">"', 'John <j@x', [mailbox('John', 'j', 'x')]],
    [
      'missing ">" before the next address',
      'A <a@x, B <b@y>',
      [mailbox('A', 'a', 'x'), mailbox('B', 'b', 'y')],
    ],
    ['missing closing quote', '"John Doe <j@x>', [mailbox('John Doe', 'j', 'x')]],
    ['missing opening quote', 'John Doe" <j@x>', [mailbox('John Doe', 'j', 'x')]],
    ['unclosed bracket in a name', '[EXT John <j@x>', [mailbox('EXT John', 'j', 'x')]],
    // The first quote is never closed (the second is escaped), so both are dropped.
    [
      'quotes after an unclosed one are dropped too',
      '"John \\" Doe <j@x>',
      [mailbox('John \\ Doe', 'j', 'x')],
    ],
    ['doubled angle brackets', '<<a@x>>', [mailbox(null, 'a', 'x')]],
    ['stray ">"', 'a@x>, b@y', [mailbox(null, 'a', 'x'), mailbox(null, 'b', 'y')]],
    [
      'double dot in the local part',
      'john..doe@example.com',
      [mailbox(null, 'john..doe', 'example.com')],
    ],
    [
      'trailing dot in the local part',
      'john.@example.com',
      [mailbox(null, 'john.', 'example.com')],
    ],
    ['leading dot in the local part', '.john@example.com', [mailbox(null, '.john', 'example.com')]],
    ['two "@", the last one separates', 'a@b@example.com', [mailbox(null, 'a@b', 'example.com')]],
    ['two "@" in brackets', 'X <a@b@example.com>', [mailbox('X', 'a@b', 'example.com')]],
    ['empty elements', 'a@x,,b@x', [mailbox(null, 'a', 'x'), mailbox(null, 'b', 'x')]],
    ['trailing comma', 'a@x,', [mailbox(null, 'a', 'x')]],
    [
      'semicolons between addresses',
      'a@x; b@y;',
      [mailbox(null, 'a', 'x'), mailbox(null, 'b', 'y')],
    ],
    ['no comma between addresses', 'a@x b@y', [mailbox(null, 'a', 'x'), mailbox(null, 'b', 'y')]],
    [
      'name before an unbracketed address',
      'John Doe jdoe@example.com',
      [mailbox('John Doe', 'jdoe', 'example.com')],
    ],
    [
      'name after the address',
      '<jdoe@example.com> John Doe',
      [mailbox('John Doe', 'jdoe', 'example.com')],
    ],
    [
      'name after an unbracketed address',
      'jdoe@example.com John',
      [mailbox('John', 'jdoe', 'example.com')],
    ],
    [
      'words after a named address',
      'A <a@x> junk',
      [mailbox('A', 'a', 'x'), mailbox(null, 'junk', null)],
    ],
    ['missing domain', 'user@', [mailbox(null, 'user', null)]],
    ['missing local part', '@example.com', [mailbox(null, '', 'example.com')]],
    ['empty angle brackets', '<>', [mailbox(null, '', null)]],
    ['name with empty angle brackets', 'Mailer Daemon <>', [mailbox('Mailer Daemon', '', null)]],
    ['control characters are whitespace', 'John\u0000Doe <j@x>', [mailbox('John Doe', 'j', 'x')]],
    ['stray ")"', 'John) <j@x>', [mailbox('John)', 'j', 'x')]],
    ['unclosed comment swallows the rest', 'a@x (oops, b@y', [mailbox('oops, b@y', 'a', 'x')]],
  ])
})

test('parseAddressList keeps RFC behaviour for unquoted specials in names', () => {
  check([
    // RFC 5322 §3.4: the comma separates, so this is two addresses, the first without a domain.
    [
      'comma in an unquoted name',
      'Doe, John <j@x>',
      [mailbox(null, 'Doe', null), mailbox('John', 'j', 'x')],
    ],
    ['colon in an unquoted name', 'Re: John <j@x>', [group('Re', mailbox('John', 'j', 'x'))]],
  ])
})

test('parseAddressList reads addresses without a domain', () => {
  check([
    ['bare local part', 'root', [mailbox(null, 'root', null)]],
    [
      'bare local part with a comment name',
      'root (Super User)',
      [mailbox('Super User', 'root', null)],
    ],
    [
      'several words are a name without an address',
      'John Smith',
      [mailbox('John Smith', '', null)],
    ],
    ['quoted bare local part', '"john doe"', [mailbox(null, 'john doe', null)]],
    ['name and bracketed local part', 'Admin <root>', [mailbox('Admin', 'root', null)]],
  ])
})

test('parseAddressList reads a trailing comment as the name of an unbracketed address', () => {
  check([
    ['legacy form', 'jdoe@example.com (John Doe)', [mailbox('John Doe', 'jdoe', 'example.com')]],
    ['the last comment wins', 'j@x (First) (Second)', [mailbox('Second', 'j', 'x')]],
    ['empty comment is no name', 'j@x ()', [mailbox(null, 'j', 'x')]],
    [
      'each address its own comment',
      'a@x (A), b@y (B)',
      [mailbox('A', 'a', 'x'), mailbox('B', 'b', 'y')],
    ],
    ['a phrase wins over the comment', 'John <j@x> (Johnny)', [mailbox('John', 'j', 'x')]],
    // Dovecot reads the comment only for the addr-spec form; so do we.
    ['not after angle brackets', '<j@x> (Johnny)', [mailbox(null, 'j', 'x')]],
    ['not a comment inside the address', 'j(Johnny)@x', [mailbox(null, 'j', 'x')]],
  ])
})

test('parseAddressList reads groups, empty or unterminated', () => {
  check([
    ['empty group', 'undisclosed-recipients:;', [group('undisclosed-recipients')]],
    ['empty group with spaces', 'undisclosed-recipients: ;', [group('undisclosed-recipients')]],
    [
      'unterminated group',
      'friends: a@x, b@y',
      [group('friends', mailbox(null, 'a', 'x'), mailbox(null, 'b', 'y'))],
    ],
    ['unterminated empty group', 'undisclosed-recipients:', [group('undisclosed-recipients')]],
    [
      'mailboxes around a group',
      'a@x, team: b@y; c@z',
      [mailbox(null, 'a', 'x'), group('team', mailbox(null, 'b', 'y')), mailbox(null, 'c', 'z')],
    ],
    [
      'a second group closes an unterminated first',
      'A: a@x, B: b@y;',
      [group('A', mailbox(null, 'a', 'x')), group('B', mailbox(null, 'b', 'y'))],
    ],
    ['quoted group name', '"Team, Core": j@x;', [group('Team, Core', mailbox(null, 'j', 'x'))]],
    ['empty quoted group name', '"":;', [group('')]],
    ['colon without a name is skipped', ': a@x', [mailbox(null, 'a', 'x')]],
  ])
})

test('parseAddressList returns nothing for empty or comment-only values', () => {
  check([
    ['empty', '', []],
    ['spaces', '   \t ', []],
    ['commas', ' , ,, ', []],
    ['a comment', '(nobody)', []],
  ])
})

test('addressOf joins mailbox and host, or gives the mailbox alone', () => {
  assert.equal(addressOf(mailbox('J', 'jdoe', 'example.com')), 'jdoe@example.com')
  assert.equal(addressOf(mailbox(null, 'root', null)), 'root')
  assert.equal(addressOf(mailbox(null, 'john doe', 'x', '@r')), 'john doe@x')
})

test('toAsciiDomain turns IDN domains into ASCII and refuses what is not a domain', () => {
  const cases: [string, string | null][] = [
    ['example.com', 'example.com'],
    ['EXAMPLE.Com', 'example.com'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['München.DE', 'xn--mnchen-3ya.de'],
    ['例え.jp', 'xn--r8jz45g.jp'],
    ['ｅｘａｍｐｌｅ．ｃｏｍ', 'example.com'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['_dmarc.example.com', '_dmarc.example.com'],
    ['localhost', 'localhost'],
    ['[192.0.2.1]', '[192.0.2.1]'],
    ['[IPv6:2001:db8::1]', '[IPv6:2001:db8::1]'],
    ['', null],
    ['[192.0.2.1', null],
    ['a..b', null],
    ['example.com.', null],
    ['.example.com', null],
    ['-a.example', null],
    ['a-.example', null],
    ['a b.example', null],
    ['a/b.example', null],
    ['a?b.example', null],
    ['ex%41mple.com', null],
    ['a@b', null],
    ['123', null],
    ['192.0.2.1', null],
    ['xn--zz.example', null],
    [`${'a'.repeat(64)}.example`, null],
    [`${'a.'.repeat(127)}ab`, null],
  ]
  for (const [host, expected] of cases)
    assert.equal(toAsciiDomain(host), expected, JSON.stringify(host))
})

test('formatAddress writes a name and quotes the local part only when needed', () => {
  const cases: [Parameters<typeof formatAddress>[0], string][] = [
    [{ address: 'jdoe@example.com' }, 'jdoe@example.com'],
    [{ name: null, address: 'jdoe@example.com' }, 'jdoe@example.com'],
    [{ name: '', address: 'jdoe@example.com' }, 'jdoe@example.com'],
    [{ name: '  ', address: 'jdoe@example.com' }, 'jdoe@example.com'],
    [{ name: 'John Doe', address: 'jdoe@example.com' }, 'John Doe <jdoe@example.com>'],
    [{ name: 'Doe, John', address: 'j@x' }, '"Doe, John" <j@x>'],
    [{ name: 'Joe Q. Public', address: 'j@x' }, '"Joe Q. Public" <j@x>'],
    [{ name: 'Giant; "Big" Box', address: 's@x' }, '"Giant; \\"Big\\" Box" <s@x>'],
    [{ name: 'back\\slash', address: 's@x' }, '"back\\\\slash" <s@x>'],
    [{ name: '=?utf-8?q?x?=', address: 's@x' }, '"=?utf-8?q?x?=" <s@x>'],
    [{ name: '  John \t  Doe ', address: 'j@x' }, 'John Doe <j@x>'],
    [{ name: 'Jöhn', address: 'jöhn@bücher.example' }, 'Jöhn <jöhn@bücher.example>'],
    [{ address: 'john.doe@x' }, 'john.doe@x'],
    [{ address: 'john doe@x' }, '"john doe"@x'],
    [{ address: 'john..doe@x' }, '"john..doe"@x'],
    [{ address: 'john.@x' }, '"john."@x'],
    [{ address: '"q"@x' }, '"\\"q\\""@x'],
    [{ address: 'a@b@x' }, '"a@b"@x'],
    [{ address: '@x' }, '""@x'],
    [{ address: 'root' }, 'root'],
    [{ address: 'john doe' }, '"john doe"'],
    [{ address: '' }, '<>'],
    [{ name: 'Mailer Daemon', address: '' }, 'Mailer Daemon <>'],
    [{ address: 'root@[192.0.2.1]' }, 'root@[192.0.2.1]'],
    [{ address: 'a@host:weird' }, '<a@host:weird>'],
    [{ name: 'Evil\r\nBcc: x@y', address: 'a\r\n@x' }, '"Evil Bcc: x@y" <a@x>'],
  ]
  for (const [input, expected] of cases)
    assert.equal(formatAddress(input), expected, JSON.stringify(input))
})

test('formatAddress hands non-ASCII names to the phrase encoder', () => {
  const calls: string[] = []
  const encode = (text: string) => {
    calls.push(text)
    return `=?utf-8?q?${encodeURIComponent(text).replaceAll('%', '=')}?=`
  }
  assert.equal(
    formatAddress({ name: 'Jöhn  Doe', address: 'j@x' }, encode),
    '=?utf-8?q?J=C3=B6hn=20Doe?= <j@x>',
  )
  assert.equal(formatAddress({ name: 'John Doe', address: 'j@x' }, encode), 'John Doe <j@x>')
  assert.deepEqual(calls, ['Jöhn Doe'])
})

test('formatAddressList writes mailboxes and groups', () => {
  assert.equal(
    formatAddressList([
      { name: 'A', address: 'a@x' },
      { name: 'team', members: [{ address: 'b@y' }, { name: 'C, D', address: 'c@z' }] },
      { name: 'undisclosed-recipients', members: [] },
      { name: '', members: [] },
    ]),
    'A <a@x>, team: b@y, "C, D" <c@z>;, undisclosed-recipients:;, "":;',
  )
  assert.equal(formatAddressList([]), '')
})

test('formatted addresses read back as the same mailbox', () => {
  const inputs = [
    { name: 'Giant; "Big" Box', address: 'sys services@example.net' },
    { name: 'Jöhn', address: 'jöhn@bücher.example' },
    { name: null, address: 'a@b@c' },
    { name: 'x', address: 'root@[IPv6:::1]' },
  ]
  for (const input of inputs) {
    const [entry] = parseAddressList(formatAddress(input))
    assert.ok(entry?.kind === 'mailbox')
    assert.equal(entry.name, input.name)
    assert.equal(addressOf(entry), input.address)
  }
})

test('toAsciiDomain accepts a domain literal only in its RFC 5322 §3.4.1 form', () => {
  assert.equal(toAsciiDomain('[192.0.2.1]'), '[192.0.2.1]')
  assert.equal(toAsciiDomain('[x>\r\nBcc: victim@example.com\r\nX: [y]'), null)
  assert.equal(toAsciiDomain('[a]b]'), null)
})
