import type {
  Mailbox,
  MailboxEvent,
  MailboxSnapshot,
  MailboxWatch,
  MessageSummary,
  Store,
} from '../../store/index.ts'
import {
  formatSequenceSet,
  ParseError,
  resolveSequenceSet,
  type SequenceSet,
} from '../proto/index.ts'
import { formatFlags } from './flags.ts'

/** How long a command waits for its own change to come back through the change feed. */
const SETTLE_TIMEOUT_MS = 2000

/**
 * Per process and store, the highest UID of each mailbox that some session has been told about:
 * RFC 3501 §2.3.2 \Recent goes to the first session that learns of a message. Across nodes two
 * sessions may both see a message as recent, which the RFC allows when the server cannot know.
 */
const recentClaimsByStore = new WeakMap<Store, Map<number, number>>()

/** What a session says when it reports changes. */
export interface UpdateOptions {
  /** False during FETCH, STORE and SEARCH (RFC 9051 §7.5.1): expunges are held back. */
  allowExpunge: boolean
  /** RFC 7162 QRESYNC enabled: VANISHED instead of EXPUNGE, UID in every flag FETCH. */
  qresync: boolean
  /** RFC 7162 CONDSTORE enabled: MODSEQ in every flag FETCH. */
  condstore: boolean
  /** IMAP4rev1 (\Recent and RECENT exist) rather than IMAP4rev2. */
  isRev1: boolean
}

/**
 * The selected mailbox as one session sees it (RFC 9051 §2.3.1): messages numbered 1…n in UID
 * order, their flags as last reported, and the changes other sessions made since, kept until the
 * session may report them. Sequence numbers change only when this session says so (EXPUNGE,
 * VANISHED, EXISTS), so they stay consistent for the client whatever happens meanwhile.
 */
export class SelectedMailbox {
  readonly mailbox: Mailbox
  readonly isReadOnly: boolean
  /** UIDs in sequence order: seq n is #uids[n - 1]. The tail past #announced is not yet told. */
  #uids: number[]
  /** Flags and MODSEQ per UID, as last reported (or as the store said, for unannounced ones). */
  readonly #messages = new Map<number, MessageSummary>()
  readonly #recent = new Set<number>()
  /** Messages the client knows of: the last EXISTS, less the expunges reported since. */
  #announced: number
  #announcedRecent: number
  /** The highest MODSEQ the change feed has reported (for settle). */
  #seenModseq: number
  highestModseq: number
  uidNext: number
  #pending: MailboxEvent[] = []
  #isGone = false
  #watch: MailboxWatch | null = null
  /** The highest UID the change feed has reported as added. */
  #seenUid = 0
  #settlers: Array<{ isDone: () => boolean; resolve: () => void }> = []
  /** Called when a change arrives (IDLE listens). */
  onChange: (() => void) | null = null

  readonly #recentClaims: Map<number, number>

  constructor(snapshot: MailboxSnapshot, options: { isReadOnly: boolean; store: Store }) {
    let claims = recentClaimsByStore.get(options.store)
    if (claims === undefined) {
      claims = new Map()
      recentClaimsByStore.set(options.store, claims)
    }
    this.#recentClaims = claims
    const { status } = snapshot
    this.mailbox = {
      id: status.id,
      accountId: status.accountId,
      name: status.name,
      role: status.role,
      uidValidity: status.uidValidity,
    }
    this.isReadOnly = options.isReadOnly
    this.#uids = snapshot.messages.map((message) => message.uid)
    for (const message of snapshot.messages) this.#messages.set(message.uid, message)
    this.#announced = this.#uids.length
    this.highestModseq = status.highestModseq
    this.#seenModseq = status.highestModseq
    this.uidNext = status.uidNext
    const claimed = claims.get(status.id) ?? 0
    for (const uid of this.#uids) if (uid > claimed) this.#recent.add(uid)
    if (!options.isReadOnly) this.#claimRecent(status.uidNext - 1)
    this.#announcedRecent = this.#recent.size
  }

  /** Starts following the mailbox's changes from the snapshot on. */
  watch(store: Store): void {
    this.#watch = store.watchMailbox(
      this.mailbox.id,
      { modseq: this.highestModseq, uidNext: this.uidNext },
      (event) => this.#onEvent(event),
    )
  }

  close(): void {
    this.#watch?.stop()
    this.#watch = null
    this.onChange = null
    for (const settler of this.#settlers) settler.resolve()
    this.#settlers = []
  }

  /** Messages the client knows of (the last EXISTS less later expunges). */
  get count(): number {
    return this.#announced
  }

  get recentCount(): number {
    return this.#recent.size
  }

  /** The mailbox was deleted by someone else: the session must end (see reportUpdates). */
  get isGone(): boolean {
    return this.#isGone
  }

  get hasPendingChanges(): boolean {
    return this.#pending.length > 0
  }

  /** UIDs of the messages the client knows, in sequence order. */
  get uids(): readonly number[] {
    return this.#uids.length === this.#announced ? this.#uids : this.#uids.slice(0, this.#announced)
  }

  uidAt(seq: number): number | undefined {
    return seq >= 1 && seq <= this.#announced ? this.#uids[seq - 1] : undefined
  }

  /** The sequence number of a UID the client knows, or 0. */
  seqOf(uid: number): number {
    return this.#search(uid, this.#announced)
  }

  /** Binary search of the first `length` UIDs: the UID's sequence number, or 0. */
  #search(uid: number, length: number): number {
    let low = 0
    let high = length - 1
    while (low <= high) {
      const middle = (low + high) >> 1
      const at = this.#uids[middle] as number
      if (at === uid) return middle + 1
      if (at < uid) low = middle + 1
      else high = middle - 1
    }
    return 0
  }

  /** The largest UID the client knows, or 0 in an empty mailbox. */
  get maxUid(): number {
    return this.#announced === 0 ? 0 : (this.#uids[this.#announced - 1] as number)
  }

  /**
   * The messages a sequence set names, in sequence order, as [seq, uid] pairs. For UIDs, numbers
   * that name no message are skipped (RFC 9051 §6.4.9); "$" is the saved search result, UIDs.
   * @throws ParseError for a sequence number past the last message (RFC 9051 §9 seq-number)
   */
  resolve(set: SequenceSet, isUid: boolean, saved: readonly number[]): Array<[number, number]> {
    const out: Array<[number, number]> = []
    if (set.kind === 'saved') {
      for (const uid of saved) {
        const seq = this.seqOf(uid)
        if (seq !== 0) out.push([seq, uid])
      }
      return out
    }
    if (!isUid) {
      // A number the client wrote must name a message; "*" is the last one, so "5:*" in a
      // mailbox of three is 3:5 and names 3 (a range has all numbers between its ends that exist).
      for (const { from, to } of set.ranges) {
        if ((from !== '*' && from > this.#announced) || (to !== '*' && to > this.#announced)) {
          if (from !== '*' && to !== '*') {
            throw new ParseError('message sequence number out of range')
          }
        }
      }
      for (const [low, high] of resolveSequenceSet(set, this.#announced)) {
        for (let seq = low; seq <= Math.min(high, this.#announced); seq += 1) {
          out.push([seq, this.#uids[seq - 1] as number])
        }
      }
      return out
    }
    for (const [low, high] of resolveSequenceSet(set, this.maxUid)) {
      for (let index = this.#lowerBound(low); index < this.#announced; index += 1) {
        const uid = this.#uids[index] as number
        if (uid > high) break
        out.push([index + 1, uid])
      }
    }
    return out
  }

  /** The index of the first announced UID at or above `uid`. */
  #lowerBound(uid: number): number {
    let low = 0
    let high = this.#announced
    while (low < high) {
      const middle = (low + high) >> 1
      if ((this.#uids[middle] as number) < uid) low = middle + 1
      else high = middle
    }
    return low
  }

  summary(uid: number): MessageSummary | undefined {
    return this.#messages.get(uid)
  }

  isRecent(uid: number): boolean {
    return this.#recent.has(uid)
  }

  /** This session changed flags itself (STORE): later feed events up to that MODSEQ are known. */
  applyOwnFlags(messages: readonly MessageSummary[]): void {
    for (const message of messages) {
      if (this.#messages.has(message.uid)) this.#messages.set(message.uid, message)
      if (message.modseq > this.highestModseq) this.highestModseq = message.modseq
    }
  }

  /**
   * This session expunged these UIDs itself; returns the sequence numbers to report, each as it
   * is at the moment of its EXPUNGE response (so descending order would not need adjusting; they
   * come in ascending UID order, each already shifted by the ones before).
   */
  removeOwn(uids: readonly number[]): number[] {
    const seqs: number[] = []
    for (const uid of uids) {
      const seq = this.seqOf(uid)
      if (seq === 0) continue
      this.#remove(seq)
      seqs.push(seq)
    }
    return seqs
  }

  /**
   * Waits until the change feed has reported changes up to `modseq` (this session's own APPEND,
   * COPY or MOVE into the selected mailbox), so that their EXISTS goes out with this command.
   */
  async settle(until: { modseq: number } | { uid: number }): Promise<void> {
    const isDone =
      'modseq' in until
        ? () => this.#seenModseq >= until.modseq
        : () => this.#seenUid >= until.uid || this.uidNext > until.uid
    if (isDone() || this.#watch === null) return
    await new Promise<void>((resolve) => {
      const settler = { isDone, resolve }
      this.#settlers.push(settler)
      setTimeout(() => {
        this.#settlers = this.#settlers.filter((other) => other !== settler)
        resolve()
      }, SETTLE_TIMEOUT_MS).unref()
    })
  }

  /**
   * The untagged responses for the changes that may be reported now (RFC 9051 §7.5.1, §5.5):
   * EXPUNGE or VANISHED (held back while `allowExpunge` is false), FETCH FLAGS for messages the
   * client knows, and one EXISTS (with RECENT in IMAP4rev1) for the new ones.
   */
  reportUpdates(options: UpdateOptions): string[] {
    if (this.#pending.length === 0) return []
    const lines: string[] = []
    const vanished: number[] = []
    const held: MailboxEvent[] = []
    const flagged = new Set<number>()
    for (const event of this.#pending) {
      if (event.type === 'gone') {
        this.#isGone = true
        continue
      }
      if (event.type === 'added') {
        const { uid } = event.message
        if (this.#messages.has(uid)) continue // this session appended or copied it and knows it
        this.#uids.push(uid)
        this.#messages.set(uid, event.message)
        if (uid >= this.uidNext) this.uidNext = uid + 1
        if (uid > (this.#recentClaims.get(this.mailbox.id) ?? 0)) {
          this.#recent.add(uid)
          if (!this.isReadOnly) this.#claimRecent(uid)
        }
        continue
      }
      if (event.type === 'flags') {
        const known = this.#messages.get(event.message.uid)
        if (known === undefined || known.modseq >= event.message.modseq) continue
        this.#messages.set(event.message.uid, event.message)
        flagged.add(event.message.uid)
        continue
      }
      // expunged
      if (!options.allowExpunge) {
        held.push(event)
        continue
      }
      const seq = this.#seqOfAny(event.uid)
      if (seq === 0) continue
      const wasAnnounced = seq <= this.#announced
      flagged.delete(event.uid)
      this.#remove(seq)
      if (!wasAnnounced) continue
      if (options.qresync) vanished.push(event.uid)
      else lines.push(`${seq} EXPUNGE`)
    }
    this.#pending = held
    if (vanished.length > 0) {
      lines.push(`VANISHED ${formatSequenceSet(vanished.map((uid) => [uid, uid] as const))}`)
    }
    if (this.#uids.length > this.#announced) {
      this.#announced = this.#uids.length
      lines.push(`${this.#announced} EXISTS`)
    }
    if (options.isRev1 && this.#recent.size !== this.#announcedRecent) {
      this.#announcedRecent = this.#recent.size
      lines.push(`${this.#recent.size} RECENT`)
    }
    for (const uid of flagged) {
      const seq = this.seqOf(uid)
      const message = this.#messages.get(uid)
      if (seq === 0 || message === undefined) continue
      lines.push(this.flagsFetch(seq, message, options))
    }
    return lines
  }

  /** "n FETCH (FLAGS (…))" for a flag change, with UID and MODSEQ as RFC 7162 asks. */
  flagsFetch(
    seq: number,
    message: MessageSummary,
    options: { qresync: boolean; condstore: boolean; isRev1: boolean; withUid?: boolean },
  ): string {
    const items = [
      `FLAGS ${formatFlags(message.flags, options.isRev1 && this.isRecent(message.uid))}`,
    ]
    if (options.qresync || options.withUid === true) items.push(`UID ${message.uid}`)
    if (options.condstore || options.qresync) items.push(`MODSEQ (${message.modseq})`)
    return `${seq} FETCH (${items.join(' ')})`
  }

  #onEvent(event: MailboxEvent): void {
    this.#pending.push(event)
    if (event.type === 'added' && event.message.uid > this.#seenUid) {
      this.#seenUid = event.message.uid
    }
    if (event.type === 'added' || event.type === 'flags') {
      this.#seen(event.message.modseq)
    } else if (event.type === 'expunged') {
      this.#seen(event.modseq)
    }
    this.onChange?.()
  }

  #seen(modseq: number): void {
    if (modseq > this.#seenModseq) this.#seenModseq = modseq
    if (modseq > this.highestModseq) this.highestModseq = modseq
    if (this.#settlers.length === 0) return
    const done = this.#settlers.filter((settler) => settler.isDone())
    this.#settlers = this.#settlers.filter((settler) => !settler.isDone())
    for (const settler of done) settler.resolve()
  }

  /** Sequence position of a UID anywhere in the list, announced or not; 0 when absent. */
  #seqOfAny(uid: number): number {
    return this.#search(uid, this.#uids.length)
  }

  #claimRecent(uid: number): void {
    const id = this.mailbox.id
    if ((this.#recentClaims.get(id) ?? 0) < uid) this.#recentClaims.set(id, uid)
  }

  #remove(seq: number): void {
    const uid = this.#uids[seq - 1] as number
    this.#uids.splice(seq - 1, 1)
    this.#messages.delete(uid)
    if (this.#recent.delete(uid)) this.#announcedRecent = Math.max(0, this.#announcedRecent - 1)
    if (seq <= this.#announced) this.#announced -= 1
  }
}
