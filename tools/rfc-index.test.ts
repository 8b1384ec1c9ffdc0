// Keeps docs/rfc-index.md honest (STYLE.md "How RFC references appear in comments"): every RFC
// cited under src/ has a row, every row has a known status, and a row that claims code names
// folders that exist. mox keeps its rfc/index.txt by hand; ours cannot go stale unnoticed.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { makeTempDir } from '../test/support/temp-dir.ts'

const ROOT = path.join(import.meta.dirname, '..')
const SRC = path.join(ROOT, 'src')
const INDEX = path.join(ROOT, 'docs', 'rfc-index.md')

const STATUSES = ['full', 'partial', 'planned', 'not planned'] as const
type Status = (typeof STATUSES)[number]

interface Row {
  rfc: number
  title: string
  status: string
  where: string[]
  line: number
}

// `RFC 5321 §4.1.2` as STYLE.md writes it, and the rfc-editor.org links of `@see` tags.
const CITATION = /\bRFC ?(\d{1,5})\b|\brfc-editor\.org\/(?:rfc|info)\/rfc(\d{1,5})\b/g

/** Every RFC number cited in a `.ts` file under srcRoot (tests included), with the citing files. */
function collectCitations(srcRoot: string): Map<number, string[]> {
  const citations = new Map<number, string[]>()
  for (const entry of readdirSync(srcRoot, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
    const absolute = path.join(entry.parentPath, entry.name)
    const file = path.relative(srcRoot, absolute).split(path.sep).join('/')
    for (const match of readFileSync(absolute, 'utf8').matchAll(CITATION)) {
      const rfc = Number(match[1] ?? match[2])
      const files = citations.get(rfc) ?? []
      if (!files.includes(file)) files.push(file)
      citations.set(rfc, files)
    }
  }
  for (const files of citations.values()) files.sort()
  return citations
}

/** The rows of the `| RFC | title | status | where |` table; throws on a malformed table. */
function parseIndex(markdown: string): Row[] {
  const lines = markdown.split('\n')
  const start = lines.findIndex((line) => /^\|\s*RFC\s*\|/.test(line))
  if (start === -1) throw new Error('Cannot find the "| RFC | title | status | where |" table')
  const header = splitRow(lines[start] ?? '')
  assert.deepEqual(header, ['RFC', 'title', 'status', 'where'], 'table header')
  const rows: Row[] = []
  for (let i = start + 2; i < lines.length && lines[i]?.startsWith('|'); i += 1) {
    const cells = splitRow(lines[i] ?? '')
    const line = i + 1
    if (cells.length !== 4) throw new Error(`Line ${line}: expected 4 cells, got ${cells.length}`)
    const [rfcCell = '', title = '', status = '', whereCell = ''] = cells
    // `5321` or `[5321](https://www.rfc-editor.org/rfc/rfc5321)`
    const rfc = /^\[?(\d{1,5})\]?(?:\(https:\/\/www\.rfc-editor\.org\/rfc\/rfc\1\))?$/.exec(rfcCell)
    if (rfc === null) throw new Error(`Line ${line}: cannot read an RFC number from "${rfcCell}"`)
    const where = [...whereCell.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '')
    rows.push({ rfc: Number(rfc[1]), title, status, where, line })
  }
  return rows
}

function splitRow(line: string): string[] {
  return line
    .replace(/^\|/, '')
    .replace(/\|\s*$/, '')
    .split('|')
    .map((cell) => cell.trim())
}

/** What is wrong with an index against the citations and the folders under srcRoot. */
function findProblems(rows: Row[], citations: Map<number, string[]>, srcRoot: string): string[] {
  const problems: string[] = []
  const listed = new Set<number>()
  for (const row of rows) {
    if (listed.has(row.rfc)) problems.push(`RFC ${row.rfc} has more than one row`)
    listed.add(row.rfc)
    if (!STATUSES.includes(row.status as Status)) {
      problems.push(
        `RFC ${row.rfc} has status "${row.status}"; use one of ${STATUSES.map((s) => `"${s}"`).join(', ')}`,
      )
    }
    if (row.title === '') problems.push(`RFC ${row.rfc} has no title`)
    if (row.status === 'full' || row.status === 'partial') {
      if (row.where.length === 0)
        problems.push(`RFC ${row.rfc} is ${row.status} but names no folder`)
      for (const folder of row.where) {
        if (!existsSync(path.join(srcRoot, folder))) {
          problems.push(
            `RFC ${row.rfc} is ${row.status} in "${folder}", but src/${folder} does not exist`,
          )
        }
      }
    }
  }
  for (const [rfc, files] of [...citations].sort(([a], [b]) => a - b)) {
    if (!listed.has(rfc)) problems.push(`RFC ${rfc} is cited in ${files.join(', ')} but has no row`)
  }
  return problems
}

test('every RFC cited under src/ has a row in docs/rfc-index.md, and every row is valid', () => {
  const rows = parseIndex(readFileSync(INDEX, 'utf8'))
  assert.deepEqual(findProblems(rows, collectCitations(SRC), SRC), [])
})

test('the collector finds the RFCs cited under src/ (it cannot silently find nothing)', () => {
  const citations = collectCitations(SRC)
  assert.ok(citations.size > 0, 'no RFC citations found under src/')
  // A mail server that stops citing SMTP anywhere has lost its collector, not its citations.
  assert.ok(citations.has(5321), `RFC 5321 not among ${[...citations.keys()].join(', ')}`)
})

test('the collector reads both citation forms, in code and in tests, and nothing else', (t) => {
  const root = makeTempDir(t, 'postern-rfc-')
  mkdirSync(path.join(root, 'smtp', 'proto'), { recursive: true })
  writeFileSync(
    path.join(root, 'smtp', 'proto', 'path.ts'),
    '// mailbox = Local-part "@" ( Domain / address-literal )   (RFC 5321 §4.1.2)\n',
  )
  writeFileSync(
    path.join(root, 'smtp', 'proto', 'path.test.ts'),
    '/** @see https://www.rfc-editor.org/rfc/rfc9051#section-6.3.4 */\n// RFC 5321 again; RFCs in general\n',
  )
  writeFileSync(path.join(root, 'notes.md'), 'RFC 1 is not code\n')
  assert.deepEqual(
    [...collectCitations(root)].sort(([a], [b]) => a - b),
    [
      [5321, ['smtp/proto/path.test.ts', 'smtp/proto/path.ts']],
      [9051, ['smtp/proto/path.test.ts']],
    ],
  )
})

test('the index checks report a missing citation, a bad status and a folder that is not there', (t) => {
  const root = makeTempDir(t, 'postern-rfc-')
  mkdirSync(path.join(root, 'net'))
  const rows = parseIndex(
    [
      '| RFC | title | status | where |',
      '|---|---|---|---|',
      '| [3207](https://www.rfc-editor.org/rfc/rfc3207) | SMTP STARTTLS | partial | `net` |',
      '| 5321 | Simple Mail Transfer Protocol | done | `smtp/server` |',
      '| 9051 | IMAP4rev2 | partial | `net`, `imap/server` |',
      '| 8620 | JMAP | planned | `jmap` |',
      '| 6409 | Message Submission for Mail | full |  |',
      '| 9051 | IMAP4rev2 | planned | `imap/server` |',
    ].join('\n'),
  )
  const citations = new Map([
    [3207, ['net/connection.ts']],
    [1939, ['server/listeners.ts', 'pop3/server/index.ts']],
  ])
  assert.deepEqual(findProblems(rows, citations, root), [
    'RFC 5321 has status "done"; use one of "full", "partial", "planned", "not planned"',
    'RFC 9051 is partial in "imap/server", but src/imap/server does not exist',
    'RFC 6409 is full but names no folder',
    'RFC 9051 has more than one row',
    'RFC 1939 is cited in server/listeners.ts, pop3/server/index.ts but has no row',
  ])
})

test('parseIndex refuses a row whose RFC cell is not a number', () => {
  assert.throws(
    () =>
      parseIndex(
        '| RFC | title | status | where |\n|---|---|---|---|\n| RFC5321 | SMTP | planned | |\n',
      ),
    /cannot read an RFC number from "RFC5321"/,
  )
})
