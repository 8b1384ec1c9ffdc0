// One session of the imap benchmark's load, as a mail client opening a mailbox does it, each
// command sent once the previous one is answered:
//   LOGIN; SELECT INBOX; UID FETCH 1:50 (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From To
//   Subject Date Message-ID)]); UID FETCH of 5 of them (UID BODY.PEEK[]); UID STORE ±FLAGS (\Seen)
//   on those 5; UID SEARCH UNSEEN; UID SEARCH SUBJECT <word>; APPEND a message; IDLE until a
//   message that another connection (the account's deliverer) APPENDs meanwhile is reported by
//   EXISTS, then DONE; UID STORE +FLAGS.SILENT (\Deleted) on the two new messages; EXPUNGE;
//   LOGOUT.
// Twelve commands, thirteen with the deliverer's APPEND; without IDLE (`idle: false`) eleven and no
// delivery. The mailbox ends as it began (the base messages, UIDs 1…base), so every session does
// the same work. Checks along the way: SELECT's EXISTS is the base count, the header FETCH
// returns each base message with a literal, each body has the RFC822.SIZE the first FETCH gave,
// APPEND returns APPENDUID (RFC 4315), EXPUNGE removes both new messages.
import { type CommandResult, ImapClient, type ImapResponse, quoted } from './imap-client.ts'

export interface ImapLogin {
  login: string
  password: string
}

export const HEADER_FETCH =
  '(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID)])'
/** Words of the generated subjects (bench/pop3/messages.ts), searched for in turn. */
export const SEARCH_WORDS = ['invoice', 'meeting', 'report', 'queue', 'retries']
/** Messages whose headers a session fetches, and bodies it fetches among them. */
export const HEADERS_FETCHED = 50
export const BODIES_FETCHED = 5

export interface SessionOptions {
  port: number
  user: ImapLogin
  /** Messages in the INBOX between sessions (UIDs 1…base). */
  base: number
  /** The message the session APPENDs. */
  append: Buffer
  /** With IDLE and a delivery; without, the session APPENDs, expunges and leaves. */
  idle: boolean
  /** APPENDs a message to the user's INBOX over another connection; resolves with its UID. */
  deliver: (user: ImapLogin) => Promise<number>
  /** 0 ≤ random() < 1: which bodies to fetch. */
  random: () => number
  /** Which SEARCH_WORDS entry to search for. */
  searchIndex: number
}

export interface SessionOutcome {
  /** Commands answered OK, the deliverer's APPEND included. */
  commands: number
  /** Literal octets received (headers and bodies). */
  octets: number
  /** From sending the deliverer's APPEND to the IDLE session's EXISTS; null without IDLE. */
  notifyMs: number | null
  /** Milliseconds of each step (STEPS), the connection and greeting first. */
  steps: Record<string, number>
}

/** The steps of a session, as the load reports their times. */
export const STEPS = [
  'connect',
  'LOGIN',
  'SELECT',
  'FETCH headers',
  'FETCH bodies',
  'STORE',
  'SEARCH UNSEEN',
  'SEARCH SUBJECT',
  'APPEND',
  'deliver',
  'IDLE',
  'STORE Deleted',
  'EXPUNGE',
  'LOGOUT',
] as const

export async function runImapSession(options: SessionOptions): Promise<SessionOutcome> {
  const { user, base } = options
  const steps: Record<string, number> = {}
  let stepStart = performance.now()
  const client = await ImapClient.connect(options.port)
  steps.connect = performance.now() - stepStart
  let commands = 0
  let octets = 0
  const ok = async (
    step: (typeof STEPS)[number],
    line: string,
    literal: Buffer | null = null,
  ): Promise<CommandResult> => {
    stepStart = performance.now()
    const result = await client.ok(line, literal)
    steps[step] = performance.now() - stepStart
    commands += 1
    return result
  }
  try {
    await ok('LOGIN', `LOGIN ${quoted(user.login)} ${quoted(user.password)}`)
    const selected = await ok('SELECT', 'SELECT INBOX')
    const exists = existsIn(selected.untagged)
    if (exists !== base)
      throw new Error(`${user.login}: SELECT says ${exists} messages, not ${base}`)

    const fetched = Math.min(HEADERS_FETCHED, base)
    const headers = await ok('FETCH headers', `UID FETCH 1:${fetched} ${HEADER_FETCH}`)
    const sizes = new Map<number, number>()
    const seen = new Set<number>()
    for (const response of headers.untagged) {
      if (!/^\* \d+ FETCH /.test(response.text)) continue
      const uid = Number(/[( ]UID (\d+)/.exec(response.text)?.[1])
      sizes.set(uid, Number(/RFC822\.SIZE (\d+)/.exec(response.text)?.[1]))
      if (/\\Seen[) ]/.test(response.text)) seen.add(uid)
      const [literal] = response.literals
      if (literal === undefined) throw new Error(`${user.login}: no header literal for UID ${uid}`)
      octets += literal.length
    }
    if (sizes.size !== fetched) {
      throw new Error(`${user.login}: the header FETCH returned ${sizes.size} of ${fetched}`)
    }

    const picked = new Set<number>()
    while (picked.size < Math.min(BODIES_FETCHED, fetched)) {
      picked.add(1 + Math.floor(options.random() * fetched))
    }
    const set = [...picked].sort((a, b) => a - b).join(',')
    const bodies = await ok('FETCH bodies', `UID FETCH ${set} (UID BODY.PEEK[])`)
    let bodyCount = 0
    for (const response of bodies.untagged) {
      if (!/^\* \d+ FETCH /.test(response.text)) continue
      const uid = Number(/[( ]UID (\d+)/.exec(response.text)?.[1])
      const body = response.literals[0]
      if (body === undefined || body.length !== sizes.get(uid)) {
        throw new Error(
          `${user.login}: UID ${uid}'s body has ${body?.length} octets, RFC822.SIZE said ${sizes.get(uid)}`,
        )
      }
      octets += body.length
      bodyCount += 1
    }
    if (bodyCount !== picked.size) {
      throw new Error(`${user.login}: the body FETCH returned ${bodyCount} of ${picked.size}`)
    }

    // Mark them read, or unread if most already are: the flags change every time.
    const unseen = [...picked].filter((uid) => !seen.has(uid)).length
    const operation = unseen * 2 >= picked.size ? '+FLAGS' : '-FLAGS'
    await ok('STORE', `UID STORE ${set} ${operation} (\\Seen)`)
    await ok('SEARCH UNSEEN', 'UID SEARCH UNSEEN')
    const word = SEARCH_WORDS[options.searchIndex % SEARCH_WORDS.length] ?? 'report'
    await ok('SEARCH SUBJECT', `UID SEARCH SUBJECT ${quoted(word)}`)

    const appended = await ok(
      'APPEND',
      `APPEND INBOX (\\Seen) {${options.append.length}}`,
      options.append,
    )
    const appendedUid = appendUid(appended.tagged)
    const toDelete = [appendedUid]
    let notifyMs: number | null = null
    if (options.idle) {
      let sentAt = 0
      let deliveredUid = 0
      stepStart = performance.now()
      await client.idle(
        async () => {
          sentAt = performance.now()
          deliveredUid = await options.deliver(user)
          steps.deliver = performance.now() - sentAt
        },
        (response: ImapResponse) => {
          const count = /^\* (\d+) EXISTS$/.exec(response.text)
          if (count === null || Number(count[1]) < base + 2) return false
          notifyMs = performance.now() - sentAt
          return true
        },
      )
      steps.IDLE = performance.now() - stepStart
      commands += 2 // the IDLE and the deliverer's APPEND
      toDelete.push(deliveredUid)
    }
    await ok('STORE Deleted', `UID STORE ${toDelete.join(',')} +FLAGS.SILENT (\\Deleted)`)
    const expunged = await ok('EXPUNGE', 'EXPUNGE')
    const gone = expunged.untagged.filter((response) => / EXPUNGE$/.test(response.text)).length
    if (gone !== toDelete.length) {
      throw new Error(`${user.login}: EXPUNGE removed ${gone} messages, not ${toDelete.length}`)
    }
    stepStart = performance.now()
    await client.logout()
    steps.LOGOUT = performance.now() - stepStart
    commands += 1
    return { commands, octets, notifyMs, steps }
  } finally {
    client.close()
  }
}

/** The last "* n EXISTS" among the responses, or -1. */
export function existsIn(responses: readonly ImapResponse[]): number {
  let exists = -1
  for (const response of responses) {
    const match = /^\* (\d+) EXISTS$/.exec(response.text)
    if (match !== null) exists = Number(match[1])
  }
  return exists
}

/** The UID in "[APPENDUID validity uid]" (RFC 4315 §3). */
export function appendUid(tagged: string): number {
  const match = /\[APPENDUID \d+ (\d+)\]/i.exec(tagged)
  if (match === null) throw new Error(`APPEND without APPENDUID: ${tagged.slice(0, 200)}`)
  return Number(match[1])
}
