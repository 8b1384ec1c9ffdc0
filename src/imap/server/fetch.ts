import { binarySection, type ParsedMessage, parseMessage, sectionBytes } from '../../mime/index.ts'
import type { MessageMetadata, MessageRecord, Store } from '../../store/index.ts'
import {
  type FetchItem,
  type FetchPartial,
  fetchResponseName,
  formatBodyStructure,
  formatEnvelope,
  formatSequenceSet,
  ParseError,
  parseFetchRequest,
  parseSequenceSet,
  resolveSequenceSet,
  setsSeen,
} from '../proto/index.ts'
import type { ImapCommand } from './command.ts'
import { formatFlags } from './flags.ts'
import { formatInternalDate } from './internal-date.ts'
import type { SelectedMailbox } from './selected.ts'
import type { ImapSession } from './session.ts'

/** What a FETCH needs per message beyond the flags the session already knows. */
interface Needs {
  record: boolean
  metadata: boolean
  /** Sections that need the whole message parsed. */
  parsed: boolean
  /** Only top-level header sections: the header alone is read and parsed. */
  header: boolean
}

/** Reads a sequence set argument (after its space). */
export function readSequenceSet(command: ImapCommand) {
  const set = parseSequenceSet(command.reader.word('a sequence set'))
  if (set === null) throw new ParseError('invalid sequence set')
  return set
}

/**
 * FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 7162 §3.1.4 CHANGEDSINCE, §3.2.6 VANISHED). Each
 * message's response is written as it is produced; a BODY[] goes out from the stored bytes in
 * chunks, never whole in memory. Sections inside the message parse it once, from a buffer.
 */
export async function fetch(session: ImapSession, command: ImapCommand, isUid: boolean) {
  const { tag, reader } = command
  const selected = session.selected
  if (selected === null) throw new Error('FETCH without a selected mailbox')
  reader.space()
  const set = readSequenceSet(command)
  const request = parseFetchRequest(reader)
  if (request.vanished && (!isUid || !session.enabled.has('QRESYNC'))) {
    // RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only once QRESYNC is enabled.
    throw new ParseError('VANISHED needs UID FETCH and ENABLE QRESYNC')
  }
  const items = [...request.items]
  if (isUid && !items.some((item) => item.kind === 'uid')) items.unshift({ kind: 'uid' })
  // RFC 7162 §3.1: fetching MODSEQ, or CHANGEDSINCE, turns CONDSTORE on; then every FETCH
  // response that has FLAGS also has MODSEQ.
  if (request.changedSince !== null || items.some((item) => item.kind === 'modseq')) {
    session.enabled.add('CONDSTORE')
  }
  if (request.changedSince !== null && !items.some((item) => item.kind === 'modseq')) {
    items.push({ kind: 'modseq' })
  }
  let targets = selected.resolve(set, isUid, session.savedSearch)
  if (request.changedSince !== null) {
    const since = request.changedSince
    targets = targets.filter(([, uid]) => (selected.summary(uid)?.modseq ?? 0) > since)
  }
  const { store } = session.deps
  if (request.vanished && request.changedSince !== null && set.kind === 'ranges') {
    await sendVanishedEarlier(session, selected, set, request.changedSince)
  }
  const needs = needsOf(items)
  const marksSeen = !selected.isReadOnly && items.some(setsSeen)
  if (marksSeen) await markSeen(session, selected, targets)
  let records = new Map<number, MessageRecord>()
  if (needs.record && targets.length > 0) {
    const found = await store.getMessages(
      selected.mailbox.id,
      targets.map(([, uid]) => [uid, uid] as const),
    )
    records = new Map(found.map((record) => [record.uid, record]))
  }
  let isMissing = false
  for (const [seq, uid] of targets) {
    const record = records.get(uid)
    if (needs.record && record === undefined) {
      isMissing = true // expunged by another session since this one last reported
      continue
    }
    try {
      await sendMessage(session, selected, seq, uid, items, needs, record, marksSeen)
    } catch (error) {
      if (!(error instanceof BinaryError)) throw error
      // RFC 3516 §4.3: a content transfer encoding the server cannot undo.
      const text =
        error.reason === 'unknown-cte'
          ? "[UNKNOWN-CTE] Cannot decode the part's transfer encoding"
          : 'No such part'
      await session.tagged(tag, 'NO', text)
      return
    }
  }
  if (isMissing) {
    // RFC 9051 §7.1: EXPUNGEISSUED; the EXPUNGE itself comes once it may (§7.5.1).
    await session.tagged(tag, 'NO', '[EXPUNGEISSUED] Some messages were expunged meanwhile')
    return
  }
  await session.tagged(tag, 'OK', `${isUid ? 'UID FETCH' : 'FETCH'} completed`)
}

function needsOf(items: readonly FetchItem[]): Needs {
  const needs: Needs = { record: false, metadata: false, parsed: false, header: false }
  for (const item of items) {
    switch (item.kind) {
      case 'flags':
      case 'uid':
      case 'modseq':
        break
      case 'internaldate':
      case 'rfc822.size':
      case 'rfc822':
        needs.record = true
        break
      case 'envelope':
      case 'body':
      case 'bodystructure':
        needs.record = true
        needs.metadata = true
        break
      case 'rfc822.header':
        needs.record = true
        needs.header = true
        break
      case 'section':
        needs.record = true
        if (item.path.length === 0 && item.text.kind === 'all') break
        if (item.path.length === 0 && item.text.kind !== 'text') needs.header = true
        else needs.parsed = true
        break
      default:
        needs.record = true
        needs.parsed = true
    }
  }
  return needs
}

/** Non-PEEK body fetches set \Seen first (RFC 9051 §6.4.5), so the FLAGS sent are current. */
async function markSeen(
  session: ImapSession,
  selected: SelectedMailbox,
  targets: ReadonlyArray<[number, number]>,
): Promise<void> {
  const unseen = targets
    .filter(([, uid]) => !(selected.summary(uid)?.flags.includes('\\Seen') ?? true))
    .map(([, uid]) => [uid, uid] as const)
  if (unseen.length === 0) return
  const result = await session.deps.store.storeFlags(selected.mailbox.id, unseen, 'add', ['\\Seen'])
  selected.applyOwnFlags(result.changed)
}

/** RFC 7162 §3.2.6: the UIDs of the set expunged since CHANGEDSINCE, before the FETCH data. */
async function sendVanishedEarlier(
  session: ImapSession,
  selected: SelectedMailbox,
  set: Parameters<SelectedMailbox['resolve']>[0] & { kind: 'ranges' },
  since: number,
): Promise<void> {
  const changes = await session.deps.store.changesSince(selected.mailbox.id, since)
  const wanted = new Set<number>()
  const ranges = resolveSequenceSet(set, selected.maxUid)
  for (const { uid } of changes.expunged) {
    if (ranges.some(([low, high]) => uid >= low && uid <= high)) wanted.add(uid)
  }
  if (wanted.size === 0) return
  const uids = [...wanted].sort((a, b) => a - b).map((uid) => [uid, uid] as const)
  await session.untagged(`VANISHED (EARLIER) ${formatSequenceSet(uids)}`)
}

/** One "* n FETCH (…)" response, written item by item. */
async function sendMessage(
  session: ImapSession,
  selected: SelectedMailbox,
  seq: number,
  uid: number,
  items: readonly FetchItem[],
  needs: Needs,
  record: MessageRecord | undefined,
  withFlags: boolean,
): Promise<void> {
  const { store } = session.deps
  const summary = selected.summary(uid)
  let metadata: MessageMetadata | null = null
  let parsed: ParsedMessage | null = null
  if (record !== undefined) {
    if (needs.metadata) metadata = await store.getMetadata(record.blobId)
    if (needs.parsed) parsed = parseMessage(await readAll(store, record.blobId))
    else if (needs.header)
      parsed = parseMessage(await readHeader(store, record.blobId, record.size))
  }
  // Errors are found before anything is written: a response cut in the middle is unreadable.
  const binaries = new Map<FetchItem, Buffer>()
  for (const item of items) {
    if (item.kind !== 'binary' && item.kind !== 'binary.size') continue
    const result = binarySection(needed(parsed), item.path)
    if (!result.ok) throw new BinaryError(result.reason)
    binaries.set(item, result.content)
  }
  const parts: Array<string | Buffer> = [`* ${seq} FETCH (`]
  let hasFlags = false
  let hasModseq = false
  for (const item of items) {
    if (item !== items[0]) parts.push(' ')
    switch (item.kind) {
      case 'flags':
        hasFlags = true
        parts.push(
          `FLAGS ${formatFlags(summary?.flags ?? [], !session.isRev2 && selected.isRecent(uid))}`,
        )
        break
      case 'uid':
        parts.push(`UID ${uid}`)
        break
      case 'modseq':
        hasModseq = true
        parts.push(`MODSEQ (${summary?.modseq ?? 0})`)
        break
      case 'internaldate':
        parts.push(`INTERNALDATE "${formatInternalDate(needed(record).internalDate)}"`)
        break
      case 'rfc822.size':
        parts.push(`RFC822.SIZE ${needed(record).size}`)
        break
      case 'envelope':
        parts.push(`ENVELOPE ${formatEnvelope(needed(metadata).envelope)}`)
        break
      case 'body':
        parts.push(`BODY ${formatBodyStructure(needed(metadata).structure, false)}`)
        break
      case 'bodystructure':
        parts.push(`BODYSTRUCTURE ${formatBodyStructure(needed(metadata).structure, true)}`)
        break
      case 'rfc822':
        parts.push('RFC822 ')
        await flushParts(session, parts)
        await streamWhole(session, store, needed(record), null)
        break
      case 'rfc822.header':
        parts.push('RFC822.HEADER ', literal(sectionOf(needed(parsed), [], { kind: 'header' })))
        break
      case 'rfc822.text':
        parts.push('RFC822.TEXT ', literal(sectionOf(needed(parsed), [], { kind: 'text' })))
        break
      case 'section': {
        parts.push(`${fetchResponseName(item)} `)
        if (item.path.length === 0 && item.text.kind === 'all') {
          await flushParts(session, parts)
          await streamWhole(session, store, needed(record), item.partial)
          break
        }
        const bytes = sectionBytes(needed(parsed), item.path, item.text)
        parts.push(bytes === null ? 'NIL' : literal(slice(bytes, item.partial)))
        break
      }
      case 'binary':
        parts.push(
          `${fetchResponseName(item)} `,
          literal8(slice(needed(binaries.get(item)), item.partial)),
        )
        break
      case 'binary.size':
        parts.push(`${fetchResponseName(item)} ${needed(binaries.get(item)).length}`)
        break
    }
  }
  // A \Seen set by this FETCH is reported in the same response (RFC 9051 §6.4.5), with MODSEQ
  // once CONDSTORE is on (RFC 7162 §3.1.4.1).
  if (withFlags && !hasFlags && summary !== undefined) {
    parts.push(` FLAGS ${formatFlags(summary.flags, !session.isRev2 && selected.isRecent(uid))}`)
  }
  if ((withFlags || hasFlags) && !hasModseq && session.enabled.has('CONDSTORE')) {
    parts.push(` MODSEQ (${summary?.modseq ?? 0})`)
  }
  parts.push(')\r\n')
  await flushParts(session, parts)
}

/** RFC 3516 §4.2: a BINARY of a part whose encoding cannot be undone. */
export class BinaryError extends Error {
  readonly reason: 'no-such-part' | 'unknown-cte'
  constructor(reason: 'no-such-part' | 'unknown-cte') {
    super(reason)
    this.reason = reason
  }
}

function needed<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error('FETCH data was not loaded')
  return value
}

function sectionOf(
  message: ParsedMessage,
  path: number[],
  text: Parameters<typeof sectionBytes>[2],
): Buffer {
  return sectionBytes(message, path, text) ?? Buffer.alloc(0)
}

/** RFC 9051 §6.4.5 partial: octets from offset, at most length; past the end, empty. */
function slice(bytes: Buffer, partial: FetchPartial | null): Buffer {
  if (partial === null) return bytes
  return bytes.subarray(partial.offset, partial.offset + partial.length)
}

/**
 * A literal of octets as stored. A literal carries CHAR8, which excludes NUL (RFC 9051 §4.3,
 * §9); only BINARY's literal8 may hold one, so a NUL in stored bytes goes as 0x80, as Dovecot
 * sends it, and the length stays the same.
 */
function literal(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`), withoutNul(bytes)])
}

function withoutNul(bytes: Buffer): Buffer {
  if (!bytes.includes(0)) return bytes
  const copy = Buffer.from(bytes)
  for (let i = copy.indexOf(0); i >= 0; i = copy.indexOf(0, i + 1)) copy[i] = 0x80
  return copy
}

/** RFC 3516 §4.2: decoded content with NUL goes as literal8 ("~{n}"). */
function literal8(bytes: Buffer): Buffer {
  const prefix = bytes.includes(0) ? '~' : ''
  return Buffer.concat([Buffer.from(`${prefix}{${bytes.length}}\r\n`), bytes])
}

async function flushParts(session: ImapSession, parts: Array<string | Buffer>): Promise<void> {
  for (const part of parts) await session.send(part)
  parts.length = 0
}

/** BODY[] (or RFC822): the stored bytes as a literal, streamed from the store. */
async function streamWhole(
  session: ImapSession,
  store: Store,
  record: MessageRecord,
  partial: FetchPartial | null,
): Promise<void> {
  const start = partial === null ? 0 : Math.min(partial.offset, record.size)
  const end = partial === null ? record.size : Math.min(record.size, start + partial.length)
  await session.send(`{${end - start}}\r\n`)
  if (end === start) return
  let sent = 0
  for await (const chunk of store.readMessage(record.blobId, start, end)) {
    sent += chunk.length
    await session.send(withoutNul(chunk))
  }
  if (sent !== end - start) throw new Error(`message ${record.blobId} is shorter than recorded`)
}

async function readAll(store: Store, blobId: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of store.readMessage(blobId)) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** The header alone (up to and including the blank line), read until it ends. */
export async function readHeader(store: Store, blobId: string, size: number): Promise<Buffer> {
  // Most headers fit in the first few KiB: read that much, and more only while no blank line.
  let sofar: Buffer = Buffer.alloc(0)
  let want = HEADER_READ_OCTETS
  while (sofar.length < size) {
    const end = Math.min(size, sofar.length + want)
    for await (const chunk of store.readMessage(blobId, sofar.length, end)) {
      const searchFrom = Math.max(0, sofar.length - 3)
      sofar = sofar.length === 0 ? chunk : Buffer.concat([sofar, chunk])
      const found = headerEnd(sofar, searchFrom)
      if (found >= 0) return sofar.subarray(0, found)
    }
    if (sofar.length < end) break // the bytes ended early
    want *= 4
  }
  return sofar
}

/** The first read of a header; a longer one is read on in growing steps. */
const HEADER_READ_OCTETS = 8192

/** The offset just past the blank line that ends a header (CRLF or bare LF), or -1. */
function headerEnd(bytes: Buffer, from: number): number {
  if (bytes[0] === 0x0a) return 1
  if (bytes[0] === 0x0d && bytes[1] === 0x0a) return 2
  for (let i = Math.max(from, 0); i < bytes.length; i += 1) {
    if (bytes[i] !== 0x0a) continue
    if (bytes[i + 1] === 0x0a) return i + 2
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return i + 3
  }
  return -1
}
