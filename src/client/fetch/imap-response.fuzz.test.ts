// Property tests of the IMAP response parser with a seeded generator (a failure names its seed):
// random and mutated input only ever gives a response or a MailClientError of kind 'protocol',
// and any token tree written out in IMAP syntax parses back to itself.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  announcedLiteral,
  type ImapResponseLimits,
  type ImapToken,
  parseResponse,
} from './imap-response.ts'
import { MailClientError } from './mail-socket.ts'

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Random = () => number
const int = (rnd: Random, max: number) => Math.floor(rnd() * max)
const pick = <T>(rnd: Random, items: readonly T[]): T => items[int(rnd, items.length)] as T

const LIMITS: ImapResponseLimits = { maxTextOctets: 4096, maxLiteralOctets: 512, maxDepth: 8 }
/** Octets that matter to the grammar, so random input hits the interesting paths often. */
const SPECIAL = Buffer.from('()[]{}"\\ +*~0123456789NILOKBAD\r\x00\xff', 'latin1')

function randomBytes(rnd: Random, max: number): Buffer {
  const bytes = Buffer.alloc(int(rnd, max))
  for (let i = 0; i < bytes.length; i += 1) {
    bytes[i] = rnd() < 0.6 ? (SPECIAL[int(rnd, SPECIAL.length)] as number) : int(rnd, 256)
  }
  return bytes
}

/** The parser's contract: a response, or a MailClientError of kind 'protocol'. */
function parseSafely(pieces: Buffer[], limits = LIMITS): unknown {
  try {
    return parseResponse(pieces, limits)
  } catch (error) {
    assert.ok(error instanceof MailClientError, `threw ${String(error)}`)
    assert.equal(error.kind, 'protocol')
    assert.doesNotMatch(error.message, /\r|\n/)
    return error
  }
}

function forSeeds(runs: number, property: (rnd: Random) => void): void {
  for (let seed = 1; seed <= runs; seed += 1) {
    try {
      property(random(seed))
    } catch (error) {
      throw new Error(`seed ${seed}: ${(error as Error).message}`, { cause: error })
    }
  }
}

test('random pieces: a response or a protocol error, never anything else', () => {
  forSeeds(5000, (rnd) => {
    const count = int(rnd, 4)
    const pieces = Array.from({ length: count }, () => randomBytes(rnd, 80))
    parseSafely(pieces)
    // The same octets behind a plausible start reach deeper into the grammar.
    const start = Buffer.from(pick(rnd, ['* ', 'A1 ', '+ ', '* 1 FETCH (', '* OK [']))
    parseSafely([Buffer.concat([start, pieces[0] ?? Buffer.alloc(0)]), ...pieces.slice(1)])
  })
})

test('random lines: announcedLiteral gives a size, null, or a protocol error', () => {
  forSeeds(5000, (rnd) => {
    const line = Buffer.concat([randomBytes(rnd, 30), Buffer.from(`{${int(rnd, 2000)}}`)])
    try {
      const size = announcedLiteral(line, rnd() < 0.5, 1000)
      assert.ok(size === null || (Number.isInteger(size) && size >= 0 && size <= 1000))
    } catch (error) {
      assert.ok(error instanceof MailClientError && error.kind === 'protocol')
    }
  })
})

const ATOM_CHARS = "ABCXYZabcxyz0189.-_$=+*!#&'/:;<>?@^`|}"

function randomAtom(rnd: Random, withSection = true): string {
  let atom = rnd() < 0.2 ? '\\' : ''
  const length = 1 + int(rnd, 8)
  for (let i = 0; i < length; i += 1) atom += pick(rnd, [...ATOM_CHARS])
  if (withSection && rnd() < 0.2) {
    atom += `[${randomAtom(rnd, false)} (${randomAtom(rnd, false)})]<0>`
  }
  return atom.toUpperCase() === 'NIL' ? `${atom}X` : atom
}

function randomQuoted(rnd: Random): string {
  const chars = ['a', 'Z', ' ', '"', '\\', '(', ')', '{5}', '[', ']', 'é', '日', '\t', '\x01']
  return Array.from({ length: int(rnd, 10) }, () => pick(rnd, chars)).join('')
}

function randomToken(rnd: Random, depth: number): ImapToken {
  const roll = rnd()
  if (roll < 0.15 && depth < LIMITS.maxDepth) {
    return Array.from({ length: int(rnd, 4) }, () => randomToken(rnd, depth + 1))
  }
  if (roll < 0.35) return randomQuoted(rnd)
  if (roll < 0.45) return null
  if (roll < 0.55) return randomBytes(rnd, 40)
  return randomAtom(rnd)
}

/** A string randomAtom could have made: it may go unquoted. */
const ATOM = /^\\?[A-Za-z0-9.\-_$=+*!#&'/:;<>?@^`|}]+(\[[^\]]*\]<0>)?$/

/** Writes tokens in IMAP syntax, split into pieces at each literal as the socket reads them. */
function serialize(rnd: Random, tokens: readonly ImapToken[]): Buffer[] {
  const pieces: Buffer[] = []
  let text = '* 1 FETCH'
  const write = (token: ImapToken, separator: string) => {
    text += separator
    if (token === null) {
      text += pick(rnd, ['NIL', 'nil', 'Nil'])
    } else if (Array.isArray(token)) {
      text += '('
      token.forEach((inner, index) => {
        write(inner, index === 0 ? '' : ' ')
      })
      text += ')'
    } else if (Buffer.isBuffer(token)) {
      text += `${rnd() < 0.3 ? '~' : ''}{${token.length}${rnd() < 0.3 ? '+' : ''}}`
      pieces.push(Buffer.from(text, 'utf8'), token)
      text = ''
    } else if (ATOM.test(token) && rnd() < 0.8) {
      text += token
    } else {
      text += `"${token.replace(/["\\]/g, '\\$&')}"`
    }
  }
  for (const token of tokens) write(token, ' ')
  pieces.push(Buffer.from(text, 'utf8'))
  return pieces
}

test('any token tree written out parses back to itself', () => {
  forSeeds(3000, (rnd) => {
    const tokens = Array.from({ length: 1 + int(rnd, 5) }, () => randomToken(rnd, 0))
    const parsed = parseResponse(serialize(rnd, tokens), { ...LIMITS, maxTextOctets: 1 << 20 })
    assert.deepEqual(parsed, {
      tag: '*',
      status: null,
      code: null,
      text: '',
      tokens: ['1', 'FETCH', ...tokens],
    })
  })
})

test('mutated valid responses: a response or a protocol error', () => {
  forSeeds(5000, (rnd) => {
    const tokens = Array.from({ length: 1 + int(rnd, 4) }, () => randomToken(rnd, 0))
    const pieces = serialize(rnd, tokens)
    const mutations = 1 + int(rnd, 3)
    for (let m = 0; m < mutations && pieces.length > 0; m += 1) {
      const index = int(rnd, pieces.length)
      const piece = pieces[index] as Buffer
      const at = int(rnd, piece.length + 1)
      const roll = rnd()
      let mutated: Buffer
      if (roll < 0.3) {
        mutated = piece.subarray(0, at) // truncated
      } else if (roll < 0.6) {
        const inserted = Buffer.from([SPECIAL[int(rnd, SPECIAL.length)] as number])
        mutated = Buffer.concat([piece.subarray(0, at), inserted, piece.subarray(at)])
      } else if (roll < 0.8 && piece.length > 0) {
        mutated = Buffer.from(piece)
        mutated[Math.min(at, piece.length - 1)] = int(rnd, 256)
      } else {
        pieces.splice(index, 1) // a piece lost
        continue
      }
      pieces[index] = mutated
    }
    parseSafely(pieces)
  })
})

test('deep nesting and long input stay within the bounds', () => {
  forSeeds(200, (rnd) => {
    const depth = int(rnd, 3000)
    const open = '('.repeat(depth)
    const result = parseSafely([Buffer.from(`* X ${open}a${')'.repeat(int(rnd, depth + 1))}`)])
    if (depth > LIMITS.maxDepth) assert.ok(result instanceof MailClientError)
  })
})
