import {
  InvalidNameError,
  type Mailbox,
  type MailboxStatus,
  SYSTEM_FLAGS,
} from '../../../store/index.ts'
import {
  type CommandReader,
  formatSequenceSet,
  formatString,
  ParseError,
  parseSequenceSet,
  resolveSequenceSet,
} from '../../proto/index.ts'
import { AUTHENTICATED, type ImapCommandEntry } from '../command.ts'
import { mailboxNamed } from '../mailbox-errors.ts'
import { HIERARCHY_DELIMITER, readMailboxName, wireName } from '../mailbox-name.ts'
import { SelectedMailbox } from '../selected.ts'
import type { ImapSession } from '../session.ts'

/** RFC 7162 §3.2.5: what a client knew of the mailbox when it last had it selected. */
interface QresyncParams {
  uidValidity: number
  modseq: number
  /** known-uids, resolved; null when not given (every UID). */
  knownUids: Array<[number, number]> | null
}

/** SELECT (RFC 9051 §6.3.2): open a mailbox read-write. */
export const select: ImapCommandEntry = {
  states: AUTHENTICATED,
  handle: (session, { tag, reader }) => open(session, tag, reader, false),
}

/** EXAMINE (RFC 9051 §6.3.3): the same, read-only: nothing the session does changes it. */
export const examine: ImapCommandEntry = {
  states: AUTHENTICATED,
  handle: (session, { tag, reader }) => open(session, tag, reader, true),
}

async function open(
  session: ImapSession,
  tag: string,
  reader: CommandReader,
  isReadOnly: boolean,
): Promise<void> {
  reader.space()
  let name: string | null
  try {
    name = readMailboxName(reader, session.utf8)
  } catch (error) {
    // A name the store cannot hold names no mailbox; the rest must still parse.
    if (!(error instanceof InvalidNameError)) throw error
    name = null
  }
  let qresync: QresyncParams | null = null
  if (reader.take(' ')) {
    for (const param of reader.list(readSelectParam)) {
      if (param === 'CONDSTORE') session.enabled.add('CONDSTORE')
      else qresync = param
    }
  }
  reader.end()
  if (qresync !== null && !session.enabled.has('QRESYNC')) {
    // RFC 7162 §3.2.5: QRESYNC must be enabled before a SELECT may use it.
    throw new ParseError('QRESYNC parameter without ENABLE QRESYNC')
  }
  // RFC 9051 §6.3.2: a SELECT, even a failing one, first closes the selected mailbox, and an
  // IMAP4rev2 (or RFC 7162 QRESYNC) client is told so, to tell old responses from new.
  if (session.selected !== null) {
    session.deselect()
    if (session.isRev2 || session.enabled.has('QRESYNC')) {
      await session.untagged('OK [CLOSED] Previous mailbox is now closed')
    }
  }
  const mailbox = await mailboxNamed(session, tag, name)
  if (mailbox === null) return
  const snapshot = await session.deps.store.openMailbox(mailbox.id)
  const selected = new SelectedMailbox(snapshot, { isReadOnly, store: session.deps.store })
  session.select(selected)
  await sendSelectData(session, selected, snapshot.status, snapshot.messages, mailbox)
  if (qresync !== null && qresync.uidValidity === mailbox.uidValidity) {
    await resynchronize(session, selected, snapshot.messages, qresync)
  }
  const verb = isReadOnly ? 'EXAMINE' : 'SELECT'
  await session.tagged(tag, 'OK', `[${isReadOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${verb} completed`)
}

/** The untagged data of a successful SELECT or EXAMINE (RFC 9051 §6.3.2, RFC 3501 §6.3.1). */
async function sendSelectData(
  session: ImapSession,
  selected: SelectedMailbox,
  status: MailboxStatus,
  messages: ReadonlyArray<{ uid: number; flags: readonly string[] }>,
  mailbox: Mailbox,
): Promise<void> {
  const keywords = new Map<string, string>()
  let firstUnseen = 0
  for (const [index, message] of messages.entries()) {
    let isSeen = false
    for (const flag of message.flags) {
      if (flag === '\\Seen') isSeen = true
      else if (!flag.startsWith('\\') && !keywords.has(flag.toLowerCase())) {
        keywords.set(flag.toLowerCase(), flag)
      }
    }
    if (!isSeen && firstUnseen === 0) firstUnseen = index + 1
  }
  const flags = [...SYSTEM_FLAGS, ...keywords.values()].join(' ')
  await session.untagged(`${selected.count} EXISTS`)
  if (!session.isRev2) await session.untagged(`${selected.recentCount} RECENT`)
  await session.untagged(`FLAGS (${flags})`)
  // Any keyword may be created (\*), but not in a read-only mailbox (RFC 9051 §7.1).
  await session.untagged(
    selected.isReadOnly
      ? 'OK [PERMANENTFLAGS ()] Read-only mailbox'
      : `OK [PERMANENTFLAGS (${flags} \\*)] Flags permitted`,
  )
  if (!session.isRev2 && firstUnseen > 0) {
    await session.untagged(`OK [UNSEEN ${firstUnseen}] First unseen message`)
  }
  await session.untagged(`OK [UIDVALIDITY ${status.uidValidity}] UIDs valid`)
  await session.untagged(`OK [UIDNEXT ${status.uidNext}] Predicted next UID`)
  // RFC 7162 §3.1.2.1: every successful SELECT and EXAMINE says HIGHESTMODSEQ.
  await session.untagged(`OK [HIGHESTMODSEQ ${status.highestModseq}] Highest`)
  if (session.isRev2) {
    // RFC 9051 §6.3.2: the mailbox's name as the server spells it.
    const name = formatString(wireName(mailbox.name, session.utf8))
    await session.untagged(`LIST () "${HIERARCHY_DELIMITER}" ${name}`)
  }
}

/**
 * RFC 7162 §3.2.5.2: what changed since the client's MODSEQ: VANISHED (EARLIER) for the UIDs it
 * knew that are gone, and FETCH (UID FLAGS MODSEQ) for messages changed or added since.
 */
async function resynchronize(
  session: ImapSession,
  selected: SelectedMailbox,
  messages: ReadonlyArray<{ uid: number; modseq: number; flags: readonly string[] }>,
  params: QresyncParams,
): Promise<void> {
  const changes = await session.deps.store.changesSince(selected.mailbox.id, params.modseq)
  const known = params.knownUids
  const vanished = changes.expunged
    .map((entry) => entry.uid)
    .filter((uid) => uid < selected.uidNext && (known === null || inRanges(uid, known)))
  if (vanished.length > 0) {
    const ranges = vanished.map((uid) => [uid, uid] as const)
    await session.untagged(`VANISHED (EARLIER) ${formatSequenceSet(ranges)}`)
  }
  for (const [index, message] of messages.entries()) {
    if (message.modseq <= params.modseq) continue
    const summary = selected.summary(message.uid)
    if (summary === undefined) continue
    await session.untagged(
      selected.flagsFetch(index + 1, summary, { ...session.updateOptions(), qresync: true }),
    )
  }
}

function inRanges(uid: number, ranges: ReadonlyArray<readonly [number, number]>): boolean {
  return ranges.some(([low, high]) => uid >= low && uid <= high)
}

/**
 * select-param: "CONDSTORE" (RFC 7162 §3.1.8) or "QRESYNC" SP "(" uidvalidity SP mod-sequence-value
 * [SP known-uids] [SP seq-match-data] ")" (RFC 7162 §3.2.5). seq-match-data only helps servers
 * that forget expunges; Postern remembers them all, so it is read and not used.
 */
function readSelectParam(reader: CommandReader): 'CONDSTORE' | QresyncParams {
  const name = reader.keyword()
  if (name === 'CONDSTORE') return 'CONDSTORE'
  if (name !== 'QRESYNC') throw new ParseError(`unknown SELECT parameter ${name}`)
  reader.space()
  reader.openList()
  const uidValidity = reader.nzNumber()
  reader.space()
  const modseq = reader.number64()
  let knownUids: Array<[number, number]> | null = null
  if (reader.take(' ')) {
    if (reader.peek() !== 0x28) {
      knownUids = readUidSet(reader)
      if (reader.take(' ')) readSeqMatchData(reader)
    } else {
      readSeqMatchData(reader)
    }
  }
  reader.closeList()
  return { uidValidity, modseq, knownUids }
}

function readUidSet(reader: CommandReader): Array<[number, number]> {
  const set = parseSequenceSet(reader.word('a UID set'))
  if (set === null || set.kind === 'saved') throw new ParseError('expected a UID set')
  if (set.ranges.some((range) => range.from === '*' || range.to === '*')) {
    throw new ParseError('"*" is not allowed in known-uids')
  }
  return resolveSequenceSet(set, 0)
}

/** seq-match-data = "(" known-sequence-set SP known-uid-set ")" */
function readSeqMatchData(reader: CommandReader): void {
  reader.openList()
  readUidSet(reader)
  reader.space()
  readUidSet(reader)
  reader.closeList()
}
