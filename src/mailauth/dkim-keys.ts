// DKIM signing keys in the data dir, one pair of files per selector:
// `<dataDir>/dkim/<domain>/<selector>.pem` (the PKCS#8 private key, mode 0600, directories 0700)
// and `<selector>.json` (algorithm, state, dates). A domain has at most one active key per
// algorithm; rotation generates a pending key whose DNS record is published before
// `activateDkimKey` makes it the signing key and retires the old one (RFC 6376 §3.1: selectors
// exist so that keys can change). The cryptography itself is node:crypto's.
import { createPrivateKey, generateKeyPair } from 'node:crypto'
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
} from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { toAsciiDomain } from '../mime/index.ts'
import { ConflictError, InvalidNameError, NotFoundError } from '../store/index.ts'
import { writeFileDurably } from '../util/index.ts'
import { dkimPublicKey } from './dkim-record.ts'

// The record lives in dkim-record.ts; it is part of this module's interface.
export { type DkimDnsRecord, dkimDnsRecord } from './dkim-record.ts'

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256'
export type DkimKeyState = 'pending' | 'active' | 'retired'

/** One key as listed: its metadata and the public half, never the private key. */
export interface DkimKey {
  /** A-label, lower case. */
  domain: string
  selector: string
  algorithm: DkimAlgorithm
  state: DkimKeyState
  /** ISO 8601. */
  createdAt: string
  /** ISO 8601, when it last became active. */
  activatedAt?: string
  /** The p= value (base64), or null when the private key file cannot be read. */
  publicKey: string | null
  /** Why the key cannot be used, or null when it can. */
  problem: string | null
}

/** A key with its private half as PEM (null when unreadable), for the signer. */
export interface LoadedDkimKey extends DkimKey {
  privateKeyPem: string | null
}

/** A selector whose metadata file could not be read: it is left out of every listing. */
export interface DkimKeyProblem {
  domain: string
  selector: string
  file: string
  message: string
}

/** What `<selector>.json` holds. */
interface KeyMetadata {
  algorithm: DkimAlgorithm
  createdAt: string
  state: DkimKeyState
  activatedAt?: string
}

const ALGORITHMS: Record<'rsa' | 'ed25519', DkimAlgorithm> = {
  rsa: 'rsa-sha256',
  ed25519: 'ed25519-sha256',
}
const RSA_BITS = 2048
const STATES: readonly string[] = ['pending', 'active', 'retired']
// RFC 6376 §3.1: a selector is a dot-separated sequence of DNS labels (sub-domain of RFC 5321).
// Postern keeps them lower case, since they are also file names.
const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/
const generateKeyPairAsync = promisify(generateKeyPair)

/** The A-label form of a domain, lower case. @throws InvalidNameError */
export function dkimDomain(domain: string): string {
  const ascii = toAsciiDomain(domain.trim().replace(/\.$/, ''))
  if (ascii === null || ascii.startsWith('[')) {
    throw new InvalidNameError(`Cannot use "${domain}" as a DKIM signing domain`)
  }
  return ascii.toLowerCase()
}

function checkSelector(selector: string): string {
  const lower = selector.toLowerCase()
  if (!SELECTOR.test(lower) || lower.length > 200) {
    throw new InvalidNameError(
      `Cannot use "${selector}" as a DKIM selector: it must be DNS labels (letters, digits, "-") separated by dots`,
    )
  }
  return lower
}

function domainDir(dataDir: string, domain: string): string {
  return path.join(dataDir, 'dkim', domain)
}

/**
 * Generates a key: RSA 2048 bits (RFC 8301 §3.2 wants at least 1024, 2048 is the usual) or
 * Ed25519 (RFC 8463). The first key of an algorithm for the domain is active at once; a later
 * one is pending, so that its DNS record can be published before it signs, unless `activate`.
 * @throws InvalidNameError for a bad domain or selector, ConflictError when the selector exists
 */
export async function generateDkimKey(
  dataDir: string,
  domainName: string,
  options: { selector?: string; algorithm: 'rsa' | 'ed25519'; activate?: boolean },
): Promise<DkimKey> {
  const domain = dkimDomain(domainName)
  const algorithm = ALGORITHMS[options.algorithm]
  const dir = domainDir(dataDir, domain)
  let selector: string
  if (options.selector === undefined) {
    selector = defaultSelector(dir, options.algorithm, new Date())
  } else {
    selector = checkSelector(options.selector)
    if (existsSync(path.join(dir, `${selector}.json`))) {
      throw new ConflictError(`DKIM selector ${selector} already exists for ${domain}`)
    }
  }
  const { privateKey } =
    options.algorithm === 'rsa'
      ? await generateKeyPairAsync('rsa', { modulusLength: RSA_BITS })
      : await generateKeyPairAsync('ed25519')
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

  const existing = loadDkimKeys(dataDir, domain)
  const hasActive = existing.some((key) => key.algorithm === algorithm && key.state === 'active')
  const now = new Date().toISOString()
  const metadata: KeyMetadata =
    options.activate === true || !hasActive
      ? { algorithm, createdAt: now, state: 'active', activatedAt: now }
      : { algorithm, createdAt: now, state: 'pending' }

  makePrivateDir(dataDir, domain)
  // The private key first: the metadata file is what makes a selector exist.
  writeFileDurably(path.join(dir, `${selector}.pem`), pem, 0o600)
  writeMetadata(dir, selector, metadata)
  if (metadata.state === 'active') retireOthers(dir, existing, algorithm, selector)
  return toKey(domain, selector, metadata, dkimPublicKey(createPrivateKey(pem)), null)
}

/**
 * Makes a key the active one of its algorithm; the key that was active becomes retired (kept,
 * since its DNS record must stay published while mail signed with it is in flight).
 * @returns the key, now active, and the keys retired
 * @throws NotFoundError when there is no such key, ConflictError when it cannot be read
 */
export function activateDkimKey(
  dataDir: string,
  domainName: string,
  selectorName: string,
): { activated: DkimKey; retired: DkimKey[] } {
  const domain = dkimDomain(domainName)
  const keys = loadDkimKeys(dataDir, domain)
  const key = findKey(keys, domain, checkSelector(selectorName))
  if (key.problem !== null) {
    throw new ConflictError(`Cannot activate DKIM key ${key.selector} of ${domain}: ${key.problem}`)
  }
  if (key.state === 'active') return { activated: strip(key), retired: [] }
  const dir = domainDir(dataDir, domain)
  const now = new Date().toISOString()
  // The new key is made active before the old one is retired: a crash in between leaves two
  // active keys, of which the signer takes the one activated last.
  writeMetadata(dir, key.selector, {
    algorithm: key.algorithm,
    createdAt: key.createdAt,
    state: 'active',
    activatedAt: now,
  })
  const retired = retireOthers(dir, keys, key.algorithm, key.selector)
  return { activated: { ...strip(key), state: 'active', activatedAt: now }, retired }
}

/**
 * Deletes a key's files. The active key is refused unless `force` (mail would go out unsigned
 * for its algorithm). @throws NotFoundError, ConflictError
 */
export function removeDkimKey(
  dataDir: string,
  domainName: string,
  selectorName: string,
  options: { force?: boolean } = {},
): DkimKey {
  const domain = dkimDomain(domainName)
  const key = findKey(loadDkimKeys(dataDir, domain), domain, checkSelector(selectorName))
  if (key.state === 'active' && options.force !== true) {
    throw new ConflictError(
      `DKIM key ${key.selector} is the active ${key.algorithm} key of ${domain}: activate another one first, or use --force`,
    )
  }
  const dir = domainDir(dataDir, domain)
  // The metadata first, so that a crash leaves an orphan private key rather than a listed key
  // without one.
  unlinkSync(path.join(dir, `${key.selector}.json`))
  try {
    unlinkSync(path.join(dir, `${key.selector}.pem`))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  fsyncDir(dir)
  return strip(key)
}

/**
 * The keys of one domain, or of every domain, sorted by domain and creation. A selector whose
 * metadata cannot be read is left out and reported to `onProblem`; a key whose private key
 * cannot be read is listed with `problem` set.
 */
export function listDkimKeys(
  dataDir: string,
  domainName?: string,
  onProblem?: (problem: DkimKeyProblem) => void,
): DkimKey[] {
  let domains: string[]
  if (domainName === undefined) {
    const root = path.join(dataDir, 'dkim')
    domains = existsSync(root)
      ? readdirSync(root, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name)
          .sort()
      : []
  } else {
    domains = [dkimDomain(domainName)]
  }
  return domains.flatMap((domain) => loadDkimKeys(dataDir, domain, onProblem).map(strip))
}

/**
 * Reads every key of a domain (A-label, lower case) with its private key, for the signer and
 * for the functions above. Never throws for a broken key: see listDkimKeys.
 */
export function loadDkimKeys(
  dataDir: string,
  domain: string,
  onProblem?: (problem: DkimKeyProblem) => void,
): LoadedDkimKey[] {
  const dir = domainDir(dataDir, domain)
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const keys: LoadedDkimKey[] = []
  for (const name of names) {
    // Temporary files of writeFileDurably end in ".tmp-<pid>" and are skipped here.
    if (!name.endsWith('.json')) continue
    const selector = name.slice(0, -'.json'.length)
    if (!SELECTOR.test(selector)) continue
    const file = path.join(dir, name)
    let metadata: KeyMetadata
    try {
      metadata = parseMetadata(readFileSync(file, 'utf8'))
    } catch (error) {
      onProblem?.({ domain, selector, file, message: (error as Error).message })
      continue
    }
    let pem: string | null = null
    let publicKey: string | null = null
    let problem: string | null = null
    try {
      pem = readFileSync(path.join(dir, `${selector}.pem`), 'utf8')
      const privateKey = createPrivateKey(pem)
      const expected = metadata.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519'
      if (privateKey.asymmetricKeyType !== expected) {
        throw new Error(`it is ${privateKey.asymmetricKeyType}, not ${expected}`)
      }
      publicKey = dkimPublicKey(privateKey)
    } catch (error) {
      pem = null
      problem = `cannot read the private key: ${(error as Error).message}`
    }
    keys.push({ ...toKey(domain, selector, metadata, publicKey, problem), privateKeyPem: pem })
  }
  return keys.sort(
    (a, b) => a.createdAt.localeCompare(b.createdAt) || a.selector.localeCompare(b.selector),
  )
}

/** `<yyyymm>-<rsa|ed>`, with "-2", "-3"… when that selector is taken. */
function defaultSelector(dir: string, algorithm: 'rsa' | 'ed25519', now: Date): string {
  const month = `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`
  const base = `${month}-${algorithm === 'rsa' ? 'rsa' : 'ed'}`
  const taken = (selector: string) =>
    existsSync(path.join(dir, `${selector}.json`)) || existsSync(path.join(dir, `${selector}.pem`))
  let selector = base
  for (let n = 2; taken(selector); n += 1) selector = `${base}-${n}`
  return selector
}

/** Retires every active key of `algorithm` other than `keep`; returns them as retired. */
function retireOthers(
  dir: string,
  keys: readonly LoadedDkimKey[],
  algorithm: DkimAlgorithm,
  keep: string,
): DkimKey[] {
  const retired: DkimKey[] = []
  for (const key of keys) {
    if (key.algorithm !== algorithm || key.state !== 'active' || key.selector === keep) continue
    writeMetadata(dir, key.selector, {
      algorithm: key.algorithm,
      createdAt: key.createdAt,
      state: 'retired',
      ...(key.activatedAt === undefined ? {} : { activatedAt: key.activatedAt }),
    })
    retired.push({ ...strip(key), state: 'retired' })
  }
  return retired
}

function findKey(keys: LoadedDkimKey[], domain: string, selector: string): LoadedDkimKey {
  const key = keys.find((candidate) => candidate.selector === selector)
  if (key === undefined) throw new NotFoundError(`No DKIM key ${selector} for ${domain}`)
  return key
}

function parseMetadata(text: string): KeyMetadata {
  const value = JSON.parse(text) as Record<string, unknown>
  const { algorithm, createdAt, state, activatedAt } = value
  if (algorithm !== 'rsa-sha256' && algorithm !== 'ed25519-sha256') {
    throw new Error(`unknown algorithm ${JSON.stringify(algorithm)}`)
  }
  if (typeof state !== 'string' || !STATES.includes(state)) {
    throw new Error(`unknown state ${JSON.stringify(state)}`)
  }
  if (typeof createdAt !== 'string') throw new Error('createdAt is missing')
  if (activatedAt !== undefined && typeof activatedAt !== 'string') {
    throw new Error('activatedAt is not a string')
  }
  return {
    algorithm,
    createdAt,
    state: state as DkimKeyState,
    ...(activatedAt === undefined ? {} : { activatedAt }),
  }
}

function writeMetadata(dir: string, selector: string, metadata: KeyMetadata): void {
  writeFileDurably(
    path.join(dir, `${selector}.json`),
    `${JSON.stringify(metadata, null, 2)}\n`,
    0o600,
  )
}

function toKey(
  domain: string,
  selector: string,
  metadata: KeyMetadata,
  publicKey: string | null,
  problem: string | null,
): DkimKey {
  return {
    domain,
    selector,
    algorithm: metadata.algorithm,
    state: metadata.state,
    createdAt: metadata.createdAt,
    ...(metadata.activatedAt === undefined ? {} : { activatedAt: metadata.activatedAt }),
    publicKey,
    problem,
  }
}

/** The listing form: the private key left behind. */
function strip(key: LoadedDkimKey): DkimKey {
  const { privateKeyPem: _, ...rest } = key
  return rest
}

/** Creates `<dataDir>/dkim/<domain>` with mode 0700, each new directory entry made durable. */
function makePrivateDir(dataDir: string, domain: string): void {
  mkdirSync(dataDir, { recursive: true })
  let parent = dataDir
  for (const dir of [path.join(dataDir, 'dkim'), domainDir(dataDir, domain)]) {
    if (!existsSync(dir)) {
      mkdirSync(dir, { mode: 0o700 })
      fsyncDir(parent)
    }
    // mkdir's mode is filtered by the umask, and an older directory may be wider.
    chmodSync(dir, 0o700)
    parent = dir
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
