import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseMessage } from './parse-message.ts'
import { htmlToText, searchText } from './search-text.ts'

test('searchText decodes header words and the text of every text part, HTML as text', () => {
  const bytes = Buffer.from(
    [
      'Subject: =?utf-8?q?Caf=C3=A9?= =?utf-8?b?bWVudQ==?=',
      'From: =?iso-8859-1?q?J=F6rg?= <j@example.de>',
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: text/plain; charset=koi8-r',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]).toString('base64'), // "Привет" in KOI8-R
      '--b',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>Hello&nbsp;<b>world</b> &amp; co</p><script>ignored()</script>',
      '--b',
      'Content-Type: image/png',
      'Content-Transfer-Encoding: base64',
      '',
      'iVBORw0KGgo=',
      '--b--',
      '',
    ].join('\r\n'),
  )
  const result = searchText(parseMessage(bytes))
  assert.deepEqual(result.headers.slice(0, 2), [
    { name: 'subject', value: 'Cafémenu' },
    { name: 'from', value: 'Jörg <j@example.de>' },
  ])
  assert.match(result.body, /Привет/)
  assert.match(result.body, /Hello world & co/)
  assert.doesNotMatch(result.body, /ignored|iVBOR/)
})

test('searchText bounds the body text it keeps', () => {
  const bytes = Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(10_000)}`)
  assert.equal(searchText(parseMessage(bytes), 100).body.length, 100)
})

test('htmlToText keeps block boundaries and decodes numeric entities', () => {
  assert.equal(htmlToText('a<br>b<div>c</div>&#233;&#x263A;&bogus;'), 'a\nb\nc\u00e9\u263a&bogus;')
})

test('htmlToText stays linear on unterminated tags, comments and scripts', () => {
  // Each of these made the old regular expressions scan to the end from every "<".
  const attacks = ['<a'.repeat(200_000), '<!--'.repeat(200_000), '<script>'.repeat(200_000)]
  for (const html of attacks) assert.equal(htmlToText(`lead ${html}`), 'lead ')
  assert.equal(htmlToText('<p>one</p><style>p{}</style>two'), '\none two')
})
