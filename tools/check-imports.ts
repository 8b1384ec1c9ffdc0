// Enforces which way imports point under src/ (DESIGN.md "Layers and the way imports point",
// STYLE.md "Which way imports point"). A wrong import fails the test suite through
// tools/check-imports.test.ts, so the layering cannot drift one convenient import at a time.
//
// node tools/check-imports.ts [srcRoot]    prints each violation, exits 1 if there is any
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'

export type Rule = 'layer' | 'index' | 'backend' | 'cycle' | 'resolve'

export interface Violation {
  /** The importing file, relative to srcRoot with forward slashes. */
  file: string
  /** The specifier as written; for a cycle, the one that closes it. */
  specifier: string
  rule: Rule
  message: string
}

// Folders that are two path segments deep. Everything else is named by its first segment.
const TWO_SEGMENT_FOLDERS = new Set([
  'smtp/proto',
  'imap/proto',
  'pop3/proto',
  'smtp/server',
  'imap/server',
  'pop3/server',
  'smtp/client',
  'store/sqlite',
  'store/postgres',
])

const BACKENDS = new Set(['store/sqlite', 'store/postgres'])
const OPEN_STORE = 'server/open-store.ts'

const CORE = ['mime', 'util', 'config', 'net', 'smtp/proto', 'imap/proto', 'pop3/proto']
const SERVICES = ['auth', 'directory', 'delivery', 'queue', 'mailauth']
// Protocol servers see fewer core folders than services do: no other protocol's grammar.
const PROTOCOL_CORE = ['mime', 'util', 'config', 'net']
const PROTOCOL_DEPS = [...SERVICES, 'smtp/client', 'store', ...PROTOCOL_CORE]

/** For each folder, the other folders it may import. `'*'` marks composition. */
const ALLOWED: ReadonlyMap<string, '*' | readonly string[]> = new Map<string, '*' | string[]>([
  ['mime', []],
  ['util', []],
  ['config', ['util']],
  ['net', ['util']],
  ['smtp/proto', ['mime', 'util']],
  ['imap/proto', ['mime', 'util']],
  ['pop3/proto', ['mime', 'util']],
  ['store', ['mime', 'util']],
  ['store/sqlite', ['store', 'util', 'config']],
  ['store/postgres', ['store', 'util', 'config']],
  ...SERVICES.map((service): [string, string[]] => [
    service,
    ['store', ...CORE, 'smtp/client', ...SERVICES.filter((other) => other !== service)],
  ]),
  ['smtp/client', [...CORE, 'store']],
  // The user's side (`postern sendmail`, `postern fetch`): SMTP, POP3 and IMAP as a client.
  ['client', [...CORE, 'smtp/client']],
  ['smtp/server', ['smtp/proto', ...PROTOCOL_DEPS]],
  ['imap/server', ['imap/proto', ...PROTOCOL_DEPS]],
  ['pop3/server', ['pop3/proto', ...PROTOCOL_DEPS]],
  ['admin', PROTOCOL_DEPS],
  ['server', '*'],
  ['cli', '*'],
  ['main.ts', '*'],
])

/** The folder a file belongs to, from its path relative to srcRoot (forward slashes). */
export function folderOf(relativeFile: string): string {
  const segments = relativeFile.split('/')
  if (segments.length === 1) return relativeFile // src/main.ts is a folder of its own
  const two = `${segments[0]}/${segments[1]}`
  if (segments.length > 2 && TWO_SEGMENT_FOLDERS.has(two)) return two
  return segments[0] ?? relativeFile
}

/** Every `.ts` file under srcRoot except tests, relative, sorted so output is stable. */
function listSourceFiles(srcRoot: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(srcRoot, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue
    const absolute = path.join(entry.parentPath, entry.name)
    files.push(toPosix(path.relative(srcRoot, absolute)))
  }
  return files.sort()
}

function toPosix(relative: string): string {
  return relative.split(path.sep).join('/')
}

export interface ImportSpecifier {
  /** The module specifier, or null for a dynamic import whose argument is not a literal. */
  specifier: string | null
  kind: 'static' | 'dynamic'
}

type Token =
  | { type: 'word'; value: string }
  | { type: 'punct'; value: string }
  | { type: 'string'; value: string }
  | { type: 'template' } // a template literal with substitutions: its value is not static

// After these words a `/` starts a regular expression, not a division.
const KEYWORDS_BEFORE_EXPRESSION = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
])

/**
 * Splits TypeScript source into the tokens import detection needs. Comments vanish, and string,
 * template and regular expression contents stay opaque, so text that merely looks like an
 * import (in a comment, a string or a test fixture) is never taken for one.
 */
function tokenize(source: string): Token[] {
  const tokens: Token[] = []
  // One entry per open `{`: true when it opened a template substitution `${`.
  const braces: boolean[] = []
  let i = 0

  // Reads template text from i (just past the opening backtick, or past the `}` that closed a
  // substitution when isContinuation) to the closing backtick or the next `${`. A template
  // becomes one token, pushed at its start: a string when it has no substitution.
  const readTemplate = (isContinuation: boolean): void => {
    let value = ''
    while (i < source.length) {
      const char = source[i]
      if (char === '\\') {
        value += source[i + 1] ?? ''
        i += 2
      } else if (char === '`') {
        i += 1
        if (!isContinuation) tokens.push({ type: 'string', value })
        return
      } else if (char === '$' && source[i + 1] === '{') {
        i += 2
        braces.push(true)
        if (!isContinuation) tokens.push({ type: 'template' })
        return
      } else {
        value += char
        i += 1
      }
    }
  }

  const isRegexStart = (): boolean => {
    const previous = tokens.at(-1)
    if (previous === undefined) return true
    if (previous.type === 'word') return KEYWORDS_BEFORE_EXPRESSION.has(previous.value)
    if (previous.type === 'punct') return ![')', ']', '}'].includes(previous.value)
    return false
  }

  while (i < source.length) {
    const char = source[i] ?? ''
    const next = source[i + 1]
    if (/\s/.test(char)) {
      i += 1
    } else if (char === '/' && next === '/') {
      const end = source.indexOf('\n', i)
      i = end === -1 ? source.length : end
    } else if (char === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2)
      i = end === -1 ? source.length : end + 2
    } else if (char === '"' || char === "'") {
      let value = ''
      i += 1
      while (i < source.length && source[i] !== char && source[i] !== '\n') {
        if (source[i] === '\\') {
          value += source[i + 1] ?? ''
          i += 2
        } else {
          value += source[i]
          i += 1
        }
      }
      i += 1
      tokens.push({ type: 'string', value })
    } else if (char === '`') {
      i += 1
      readTemplate(false)
    } else if (char === '/' && isRegexStart()) {
      i += 1
      let inClass = false
      while (i < source.length && source[i] !== '\n') {
        const c = source[i]
        if (c === '\\') i += 1
        else if (c === '[') inClass = true
        else if (c === ']') inClass = false
        else if (c === '/' && !inClass) break
        i += 1
      }
      i += 1
      while (i < source.length && /[a-z]/i.test(source[i] ?? '')) i += 1 // flags
      tokens.push({ type: 'punct', value: 'regex' })
    } else if (/[\p{ID_Start}$_\\]/u.test(char)) {
      const match = /^(?:[\p{ID_Continue}$\\]|\u200c|\u200d)+/u.exec(source.slice(i, i + 256))
      const word = match?.[0] ?? char
      tokens.push({ type: 'word', value: word })
      i += word.length
    } else if (/[0-9]/.test(char)) {
      const match = /^[0-9a-zA-Z_.]+/.exec(source.slice(i, i + 64))
      i += match?.[0].length ?? 1
      tokens.push({ type: 'word', value: '0' })
    } else if (char === '{') {
      braces.push(false)
      tokens.push({ type: 'punct', value: '{' })
      i += 1
    } else if (char === '}') {
      i += 1
      if (braces.pop() === true) {
        readTemplate(true) // the substitution ended; the template literal goes on
      } else {
        tokens.push({ type: 'punct', value: '}' })
      }
    } else if (char === '?' && next === '.') {
      tokens.push({ type: 'punct', value: '.' })
      i += 2
    } else {
      tokens.push({ type: 'punct', value: char })
      i += 1
    }
  }
  return tokens
}

/**
 * The module specifiers a file imports: `import … from`, `import '…'`, `import type`,
 * `export … from` and `import(…)`.
 */
export function extractImports(source: string): ImportSpecifier[] {
  const tokens = tokenize(source)
  const found: ImportSpecifier[] = []
  const at = (index: number): Token | undefined => tokens[index]
  const isPunct = (token: Token | undefined, value: string): boolean =>
    token?.type === 'punct' && token.value === value
  const isWord = (token: Token | undefined, value?: string): boolean =>
    token?.type === 'word' && (value === undefined || token.value === value)

  // From the token after `import`/`export`, walks a module clause (`type`, names, `* as x`,
  // `{ … }`) to `from '…'`. Any other token means this was not a module declaration.
  const fromClause = (start: number): string | null => {
    let depth = 0
    for (let j = start; j < tokens.length; j += 1) {
      const token = at(j)
      if (token === undefined) return null
      if (isPunct(token, '{')) depth += 1
      else if (isPunct(token, '}')) depth -= 1
      else if (depth === 0 && isWord(token, 'from')) {
        const next = at(j + 1)
        if (next?.type === 'string') return next.value
      } else if (token.type === 'string' && depth > 0) {
        // `import { "a-b" as ab } from …`: arbitrary module export names are strings
      } else if (!(token.type === 'word' || isPunct(token, ',') || isPunct(token, '*'))) {
        return null
      }
      if (depth < 0) return null
    }
    return null
  }

  // `import(x) {` declares a method named import, which imports nothing. (With a return type,
  // `import(x): T {`, it cannot be told from a ternary here, so it is reported.)
  const isMethodDefinition = (openParen: number): boolean => {
    let depth = 0
    for (let j = openParen; j < tokens.length; j += 1) {
      if (isPunct(at(j), '(')) depth += 1
      else if (isPunct(at(j), ')')) depth -= 1
      if (depth === 0) return isPunct(at(j + 1), '{')
    }
    return false
  }

  for (let j = 0; j < tokens.length; j += 1) {
    const token = at(j)
    const previous = at(j - 1)
    if (token?.type !== 'word' || isPunct(previous, '.')) continue
    const next = at(j + 1)
    if (token.value === 'import') {
      if (isPunct(next, '(')) {
        const argument = at(j + 2)
        const after = at(j + 3)
        if (argument?.type === 'string' && (isPunct(after, ')') || isPunct(after, ','))) {
          found.push({ specifier: argument.value, kind: 'dynamic' })
        } else if (!isMethodDefinition(j + 1)) {
          found.push({ specifier: null, kind: 'dynamic' })
        }
      } else if (next?.type === 'string') {
        found.push({ specifier: next.value, kind: 'static' })
      } else if (!isPunct(next, '.')) {
        const specifier = fromClause(j + 1)
        if (specifier !== null) found.push({ specifier, kind: 'static' })
      }
    } else if (token.value === 'export') {
      const first = isWord(next, 'type') ? at(j + 2) : next
      if (isPunct(first, '{') || isPunct(first, '*')) {
        const specifier = fromClause(j + 1)
        if (specifier !== null) found.push({ specifier, kind: 'static' })
      }
    }
  }
  return found
}

function isRelative(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../')
}

function isFile(absolute: string): boolean {
  try {
    return statSync(absolute).isFile()
  } catch {
    return false
  }
}

interface Edge {
  from: string
  to: string
  file: string
  specifier: string
}

/** Checks every non-test `.ts` file under srcRoot against the import rules. */
export function checkImports(srcRoot: string): Violation[] {
  const root = path.resolve(srcRoot)
  const violations: Violation[] = []
  // The first import that links two folders stands for the link when a cycle is reported.
  const edges = new Map<string, Edge>()

  for (const file of listSourceFiles(root)) {
    const importer = folderOf(file)
    const source = readFileSync(path.join(root, file), 'utf8')
    for (const { specifier, kind } of extractImports(source)) {
      const report = (rule: Rule, shown: string, message: string): void => {
        violations.push({ file, specifier: shown, rule, message })
      }
      if (specifier === null) {
        // A computed specifier could point anywhere, which would make every rule here moot.
        report('resolve', '', 'Cannot check a dynamic import whose specifier is not a string')
        continue
      }
      if (!isRelative(specifier)) continue // a Node built-in or a package: allowed everywhere
      const how = kind === 'dynamic' ? 'dynamically imports' : 'imports'

      const absolute = path.resolve(path.dirname(path.join(root, file)), specifier)
      if (!isFile(absolute)) {
        report('resolve', specifier, `Cannot resolve "${specifier}", no such file`)
        continue
      }
      const relative = toPosix(path.relative(root, absolute))
      if (relative.startsWith('../') || path.isAbsolute(relative)) {
        if (ALLOWED.get(importer) !== '*') {
          report('layer', specifier, `"${importer}" ${how} "${specifier}", outside src/`)
        }
        continue
      }

      const target = folderOf(relative)
      if (target === importer) continue
      if (!edges.has(`${importer}\0${target}`)) {
        edges.set(`${importer}\0${target}`, { from: importer, to: target, file, specifier })
      }

      if (BACKENDS.has(target) && file !== OPEN_STORE) {
        report(
          'backend',
          specifier,
          `Only "${OPEN_STORE}" may import the store backend "${target}"; depend on the Store interface in "store/index.ts"`,
        )
        continue
      }
      const allowed = ALLOWED.get(importer)
      if (allowed === undefined) {
        report(
          'layer',
          specifier,
          `Folder "${importer}" has no layer; add it to the table in tools/check-imports.ts before it imports "${target}"`,
        )
        continue
      }
      if (allowed !== '*' && !allowed.includes(target)) {
        const may = allowed.length === 0 ? 'only its own files' : allowed.join(', ')
        report(
          'layer',
          specifier,
          `"${importer}" may not import "${target}" (it may import ${may}), but ${how} "${specifier}"`,
        )
        continue
      }
      const entry = target === 'main.ts' ? 'main.ts' : `${target}/index.ts`
      if (relative !== entry) {
        report(
          'index',
          specifier,
          `Import "${target}" through "${entry}", not its inner file "${relative}"`,
        )
      }
    }
  }

  for (const cycle of findCycles([...edges.values()])) {
    const first = cycle[0]
    if (first === undefined) continue
    const links = cycle.map((edge) => `"${edge.file}" imports "${edge.specifier}"`)
    const folders = [...cycle.map((edge) => `"${edge.from}"`), `"${first.from}"`]
    violations.push({
      file: first.file,
      specifier: first.specifier,
      rule: 'cycle',
      message: `Import cycle between folders ${folders.join(' → ')} (${links.join('; ')})`,
    })
  }
  return violations
}

/**
 * Every elementary cycle of the folder graph, once each, starting at its alphabetically first
 * folder. The graph has a few dozen folders at most, so plain enumeration is cheap.
 */
function findCycles(edges: readonly Edge[]): Edge[][] {
  const outgoing = new Map<string, Edge[]>()
  for (const edge of edges) {
    const list = outgoing.get(edge.from) ?? []
    list.push(edge)
    outgoing.set(edge.from, list)
  }
  for (const list of outgoing.values()) list.sort((a, b) => compare(a.to, b.to))

  const cycles: Edge[][] = []
  for (const start of [...outgoing.keys()].sort(compare)) {
    const trail: Edge[] = []
    const onTrail = new Set<string>([start])
    const walk = (folder: string): void => {
      for (const edge of outgoing.get(folder) ?? []) {
        if (edge.to === start) {
          cycles.push([...trail, edge])
        } else if (compare(edge.to, start) > 0 && !onTrail.has(edge.to)) {
          // Only folders after start: a cycle through an earlier folder was found from there.
          onTrail.add(edge.to)
          trail.push(edge)
          walk(edge.to)
          trail.pop()
          onTrail.delete(edge.to)
        }
      }
    }
    walk(start)
  }
  return cycles
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

if (import.meta.main) {
  const srcRoot = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..', 'src'))
  const violations = checkImports(srcRoot)
  const shown = path.relative(process.cwd(), srcRoot) || '.'
  for (const violation of violations) {
    process.stdout.write(`${path.join(shown, violation.file)}: ${violation.message}\n`)
  }
  if (violations.length > 0) {
    process.exitCode = 1
  } else {
    process.stdout.write(`imports ok (${listSourceFiles(srcRoot).length} files)\n`)
  }
}
