import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { makeTempDir } from '../test/support/temp-dir.ts'
import { checkImports, extractImports, folderOf, type Violation } from './check-imports.ts'

const SRC = path.join(import.meta.dirname, '..', 'src')
const SCRIPT = path.join(import.meta.dirname, 'check-imports.ts')

/** Writes a fake src/ tree (relative path → contents) and returns its root. */
function makeTree(t: TestContext, files: Record<string, string>): string {
  const root = path.join(makeTempDir(t, 'postern-imports-'), 'src')
  for (const [file, contents] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    writeFileSync(path.join(root, file), contents)
  }
  return root
}

const brief = (violations: Violation[]) =>
  violations.map(({ file, specifier, rule }) => ({ file, specifier, rule }))

test('the real src/ tree follows the import rules', () => {
  const violations = checkImports(SRC)
  assert.deepEqual(
    violations.map((violation) => `src/${violation.file}: ${violation.message}`),
    [],
  )
})

test('folderOf names two-segment folders, one-segment folders and main.ts', () => {
  assert.equal(folderOf('main.ts'), 'main.ts')
  assert.equal(folderOf('net/line-reader.ts'), 'net')
  assert.equal(folderOf('smtp/proto/reply.ts'), 'smtp/proto')
  assert.equal(folderOf('imap/server/commands/fetch.ts'), 'imap/server')
  assert.equal(folderOf('store/index.ts'), 'store')
  assert.equal(folderOf('store/contract/index.ts'), 'store')
  assert.equal(folderOf('store/sqlite/schema/v1.ts'), 'store/sqlite')
  assert.equal(folderOf('mailauth/spf/check.ts'), 'mailauth')
})

test('extractImports finds every import form and ignores comments, strings and regexes', () => {
  const source = [
    "// import a from '../in-line-comment.ts'",
    "/* import b from '../in-block-comment.ts' */",
    "import c, { d as e, 'f-g' as h } from './c.ts'",
    "import type { T } from './t.ts'",
    "import './side-effect.ts'",
    "import * as ns from './namespace.ts'",
    "import json from '../../package.json' with { type: 'json' }",
    "export { x } from './re-export.ts'",
    "export * from './star.ts'",
    "export * as star from './star-as.ts'",
    "export type { Y } from './type-re-export.ts'",
    "export type Z = import('./type-query.ts').Z",
    'export const local = 1',
    `const s = "import z from '../in-string.ts'"`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text holding a template literal
    "const t = `import('../in-template.ts') ${`${1}`} import('../in-template-tail.ts')`",
    "const r = /import '..\\/in-regex.ts'/g",
    "const m = await import('./dynamic.ts')",
    'const n = await import(`./dynamic-template.ts`)',
    'const o = await import(name)',
    'const url = import.meta.url',
    'class K { import(x) { return x } }',
    "api.import('./a-method-call.ts')",
    "const k = { import: 1, from: './an-object.ts' }",
    'export default 1 / 2 / 3',
  ].join('\n')
  assert.deepEqual(extractImports(source), [
    { specifier: './c.ts', kind: 'static' },
    { specifier: './t.ts', kind: 'static' },
    { specifier: './side-effect.ts', kind: 'static' },
    { specifier: './namespace.ts', kind: 'static' },
    { specifier: '../../package.json', kind: 'static' },
    { specifier: './re-export.ts', kind: 'static' },
    { specifier: './star.ts', kind: 'static' },
    { specifier: './star-as.ts', kind: 'static' },
    { specifier: './type-re-export.ts', kind: 'static' },
    { specifier: './type-query.ts', kind: 'dynamic' },
    { specifier: './dynamic.ts', kind: 'dynamic' },
    { specifier: './dynamic-template.ts', kind: 'dynamic' },
    { specifier: null, kind: 'dynamic' },
  ])
})

test('an allowed tree has no violations', (t) => {
  const root = makeTree(t, {
    '../package.json': '{}\n',
    'main.ts': "import { run } from './cli/index.ts'\nrun()\n",
    'cli/index.ts': [
      "import { Command } from 'commander'",
      "import { start } from '../server/index.ts'",
      "export { helper } from './commands/helper.ts'",
    ].join('\n'),
    'cli/commands/helper.ts': "import { z } from 'zod'\nexport const helper = z\n",
    'server/index.ts': [
      "import { openStore } from './open-store.ts'",
      "import { createSmtpServer } from '../smtp/server/index.ts'",
      "import { createImapServer } from '../imap/server/index.ts'",
      "import packageJson from '../../package.json' with { type: 'json' }",
      // Composition may load a backend too, as long as it goes through open-store.ts.
      "export const start = () => import('./open-store.ts')",
    ].join('\n'),
    'server/open-store.ts': [
      "import { openSqliteStore } from '../store/sqlite/index.ts'",
      "export const openPostgres = () => import('../store/postgres/index.ts')",
    ].join('\n'),
    'store/index.ts': "import type { Envelope } from '../mime/index.ts'\nexport type Store = {}\n",
    'store/contract/index.ts': "import type { Store } from '../index.ts'\n",
    'store/sqlite/index.ts': [
      "import type { Store } from '../index.ts'",
      "import type { Config } from '../../config/index.ts'",
      "import { logger } from '../../util/index.ts'",
      "import { applySchema } from './schema/apply.ts'",
    ].join('\n'),
    'store/sqlite/schema/apply.ts': 'export const applySchema = 1\n',
    'store/postgres/index.ts': "import type { Store } from '../index.ts'\n",
    'smtp/proto/index.ts': "import { parse } from '../../mime/index.ts'\nimport './reply.ts'\n",
    'smtp/proto/reply.ts': "import { ProtocolError } from '../../util/index.ts'\n",
    'smtp/client/index.ts': "import { reply } from '../proto/index.ts'\n",
    'smtp/server/index.ts': [
      "import { reply } from '../proto/index.ts'",
      "import { relay } from '../client/index.ts'",
      "import { enqueue } from '../../queue/index.ts'",
      "import type { Store } from '../../store/index.ts'",
      "import { Connection } from '../../net/index.ts'",
      "import { create } from './commands/ehlo.ts'",
    ].join('\n'),
    'smtp/server/commands/ehlo.ts': "import { reply } from '../../proto/index.ts'\n",
    'imap/proto/index.ts': "import { parse } from '../../mime/index.ts'\n",
    'imap/server/index.ts': [
      "import { lex } from '../proto/index.ts'",
      "import { verify } from '../../auth/index.ts'",
    ].join('\n'),
    'queue/index.ts': [
      "import { relay } from '../smtp/client/index.ts'",
      "import { reply } from '../smtp/proto/index.ts'",
      "import { resolve } from '../directory/index.ts'",
      "import type { Store } from '../store/index.ts'",
      "export const dsn = () => import('../mime/index.ts')",
    ].join('\n'),
    'directory/index.ts': "import type { Store } from '../store/index.ts'\n",
    'auth/index.ts': "import { resolve } from '../directory/index.ts'\n",
    'mime/index.ts': "import { Buffer } from 'node:buffer'\nimport './charset.ts'\n",
    'mime/charset.ts':
      "// Text that reads import '../util/index.ts' in a comment imports nothing\n",
    'config/index.ts': "import { logger } from '../util/index.ts'\n",
    'net/index.ts': "import { logger } from '../util/index.ts'\n",
    'util/index.ts': "export { logger } from './logger.ts'\n",
    'util/logger.ts': 'export const logger = {}\n',
    // Test files are not scanned: they may reach anywhere, including a backend.
    'smtp/server/index.test.ts': "import '../../store/sqlite/index.ts'\nimport '../../gone.ts'\n",
  })
  assert.deepEqual(checkImports(root), [])
})

test('mime/ importing util/ breaks the layer rule', (t) => {
  const root = makeTree(t, {
    'mime/a.ts': "import { logger } from '../util/index.ts'\n",
    'util/index.ts': 'export const logger = {}\n',
  })
  const violations = checkImports(root)
  assert.deepEqual(brief(violations), [
    { file: 'mime/a.ts', specifier: '../util/index.ts', rule: 'layer' },
  ])
  assert.match(violations[0]?.message ?? '', /"mime" may not import "util".*only its own files/)
})

test('a core folder importing a service breaks the layer rule', (t) => {
  const root = makeTree(t, {
    'net/a.ts': "import type { Queue } from '../queue/index.ts'\n",
    'queue/index.ts': 'export type Queue = {}\n',
  })
  assert.deepEqual(brief(checkImports(root)), [
    { file: 'net/a.ts', specifier: '../queue/index.ts', rule: 'layer' },
  ])
})

test('importing an inner file of another folder breaks the index rule', (t) => {
  const root = makeTree(t, {
    'net/a.ts': "import type { Logger } from '../util/logger.ts'\n",
    'util/index.ts': "export type { Logger } from './logger.ts'\n",
    'util/logger.ts': 'export type Logger = {}\n',
  })
  const violations = checkImports(root)
  assert.deepEqual(brief(violations), [
    { file: 'net/a.ts', specifier: '../util/logger.ts', rule: 'index' },
  ])
  assert.match(violations[0]?.message ?? '', /through "util\/index\.ts"/)
})

test('a backend importing store/contract instead of store/index.ts breaks the index rule', (t) => {
  const root = makeTree(t, {
    'store/index.ts': 'export type Store = {}\n',
    'store/contract/index.ts': 'export const contract = 1\n',
    'store/sqlite/index.ts': "import { contract } from '../contract/index.ts'\n",
  })
  assert.deepEqual(brief(checkImports(root)), [
    { file: 'store/sqlite/index.ts', specifier: '../contract/index.ts', rule: 'index' },
  ])
})

test("a protocol server importing another protocol's server breaks the layer rule", (t) => {
  const root = makeTree(t, {
    'imap/server/x.ts': "import { createSmtpServer } from '../../smtp/server/index.ts'\n",
    'smtp/server/index.ts': 'export const createSmtpServer = 1\n',
  })
  const violations = checkImports(root)
  assert.deepEqual(brief(violations), [
    { file: 'imap/server/x.ts', specifier: '../../smtp/server/index.ts', rule: 'layer' },
  ])
  assert.match(violations[0]?.message ?? '', /"imap\/server" may not import "smtp\/server"/)
})

test("a protocol server importing another protocol's proto breaks the layer rule", (t) => {
  const root = makeTree(t, {
    'pop3/server/x.ts': "import { reply } from '../../smtp/proto/index.ts'\n",
    'smtp/proto/index.ts': 'export const reply = 1\n',
  })
  assert.deepEqual(brief(checkImports(root)), [
    { file: 'pop3/server/x.ts', specifier: '../../smtp/proto/index.ts', rule: 'layer' },
  ])
})

test('a protocol server importing a store backend breaks the backend rule', (t) => {
  const root = makeTree(t, {
    'smtp/server/x.ts': "import { openSqliteStore } from '../../store/sqlite/index.ts'\n",
    'store/sqlite/index.ts': 'export const openSqliteStore = 1\n',
  })
  const violations = checkImports(root)
  assert.deepEqual(brief(violations), [
    { file: 'smtp/server/x.ts', specifier: '../../store/sqlite/index.ts', rule: 'backend' },
  ])
  assert.match(violations[0]?.message ?? '', /Only "server\/open-store\.ts"/)
})

test('composition other than server/open-store.ts importing a backend breaks the backend rule', (t) => {
  const root = makeTree(t, {
    'server/index.ts': "import { openPostgresStore } from '../store/postgres/index.ts'\n",
    'store/postgres/index.ts': 'export const openPostgresStore = 1\n',
  })
  assert.deepEqual(brief(checkImports(root)), [
    { file: 'server/index.ts', specifier: '../store/postgres/index.ts', rule: 'backend' },
  ])
})

test('two service folders importing each other form a cycle, reported once', (t) => {
  const root = makeTree(t, {
    'queue/index.ts': "import { resolve } from '../directory/index.ts'\nexport const q = 1\n",
    'directory/index.ts': "export { lookup } from './lookup.ts'\n",
    'directory/lookup.ts': "import { q } from '../queue/index.ts'\nexport const lookup = q\n",
  })
  const violations = checkImports(root)
  assert.deepEqual(brief(violations), [
    { file: 'directory/lookup.ts', specifier: '../queue/index.ts', rule: 'cycle' },
  ])
  assert.match(violations[0]?.message ?? '', /"directory" → "queue" → "directory"/)
})

test('a cycle through three folders is reported once, in import order', (t) => {
  const root = makeTree(t, {
    'auth/index.ts': "import '../queue/index.ts'\n",
    'queue/index.ts': "import '../delivery/index.ts'\n",
    'delivery/index.ts': "import '../auth/index.ts'\n",
  })
  const violations = checkImports(root)
  assert.deepEqual(
    violations.map((violation) => violation.rule),
    ['cycle'],
  )
  assert.match(violations[0]?.message ?? '', /"auth" → "queue" → "delivery" → "auth"/)
})

test('a dynamic import is held to the same rules as a static one', (t) => {
  const root = makeTree(t, {
    'mime/a.ts': "export const load = () => import('../util/index.ts')\n",
    'util/index.ts': 'export const logger = {}\n',
  })
  assert.deepEqual(brief(checkImports(root)), [
    { file: 'mime/a.ts', specifier: '../util/index.ts', rule: 'layer' },
  ])
})

test('a dynamic import with a computed specifier cannot be checked and is reported', (t) => {
  const root = makeTree(t, {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text holding a template literal
    'delivery/a.ts': 'export const load = (name: string) => import(`../${name}/index.ts`)\n',
  })
  assert.deepEqual(brief(checkImports(root)), [
    { file: 'delivery/a.ts', specifier: '', rule: 'resolve' },
  ])
})

test('a specifier that names no file breaks the resolve rule', (t) => {
  const root = makeTree(t, {
    'net/a.ts': "import { logger } from '../util/indx.ts'\nimport './b.js'\nimport '../util'\n",
    'net/b.ts': 'export {}\n',
    'util/index.ts': 'export const logger = {}\n',
  })
  const violations = checkImports(root)
  assert.deepEqual(brief(violations), [
    { file: 'net/a.ts', specifier: '../util/indx.ts', rule: 'resolve' },
    { file: 'net/a.ts', specifier: './b.js', rule: 'resolve' },
    { file: 'net/a.ts', specifier: '../util', rule: 'resolve' },
  ])
  assert.match(violations[0]?.message ?? '', /Cannot resolve "\.\.\/util\/indx\.ts"/)
})

test('only composition may import files outside src/', (t) => {
  const root = makeTree(t, {
    'config/version.ts': "import packageJson from '../../package.json' with { type: 'json' }\n",
    'server/version.ts': "import packageJson from '../../package.json' with { type: 'json' }\n",
  })
  writeFileSync(path.join(root, '..', 'package.json'), '{}\n')
  assert.deepEqual(brief(checkImports(root)), [
    { file: 'config/version.ts', specifier: '../../package.json', rule: 'layer' },
  ])
})

test('a folder missing from the layer table cannot import Postern folders', (t) => {
  const root = makeTree(t, {
    'jmap/index.ts': "import { logger } from '../util/index.ts'\n",
    'util/index.ts': 'export const logger = {}\n',
  })
  const violations = checkImports(root)
  assert.deepEqual(brief(violations), [
    { file: 'jmap/index.ts', specifier: '../util/index.ts', rule: 'layer' },
  ])
  assert.match(violations[0]?.message ?? '', /"jmap" has no layer/)
})

test('as a script it prints each violation and exits 1, or prints the file count and exits 0', (t) => {
  const bad = makeTree(t, {
    'mime/a.ts': "import '../util/index.ts'\n",
    'util/index.ts': 'export {}\n',
  })
  const failing = spawnSync(process.execPath, [SCRIPT, bad], { cwd: bad, encoding: 'utf8' })
  assert.equal(failing.status, 1, failing.stderr)
  assert.match(failing.stdout, /^mime\/a\.ts: "mime" may not import "util"/m)

  const good = makeTree(t, { 'mime/a.ts': "import './b.ts'\n", 'mime/b.ts': 'export {}\n' })
  const passing = spawnSync(process.execPath, [SCRIPT, good], { encoding: 'utf8' })
  assert.equal(passing.status, 0, passing.stdout + passing.stderr)
  assert.equal(passing.stdout, 'imports ok (2 files)\n')
})
