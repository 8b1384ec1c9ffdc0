// `postern fetch`: download an account's messages over POP3 or IMAP (any server) into a local
// Maildir or mbox, as fetchmail and getmail do. Each message is written and fsynced locally and
// remembered (fetch-state.ts) before the server is told to delete it; with --keep nothing is
// deleted and the remembered UIDLs/UIDs keep a message from being fetched twice. --idle (IMAP)
// waits for new mail after each pass and fetches it as it comes, until SIGTERM or SIGINT.
import type { FetchSettings } from '../config.ts'
import type { ClientIo } from '../io.ts'
import { appendToMbox, Maildir } from '../local/index.ts'
import { FetchState } from './fetch-state.ts'
import { ImapClient } from './imap-client.ts'
import { MailClientError } from './mail-socket.ts'
import { Pop3Client } from './pop3-client.ts'
import { Progress } from './progress.ts'

/** Servers end IDLE after 30 minutes (RFC 9051 §6.3.13); start a new one before that. */
const IDLE_RENEW_MS = 25 * 60_000

export interface FetchOptions {
  isIdle: boolean
  isVerbose: boolean
  isQuiet: boolean
  /** Stops --idle (tests; the CLI uses SIGTERM and SIGINT). */
  signal?: AbortSignal
}

export interface FetchSummary {
  messages: number
  octets: number
  deleted: number
}

/** Where fetched messages go. */
type Sink = (message: Buffer) => Promise<void>

/** Runs the fetch; resolves with what one pass (or all passes, with --idle) fetched. */
export async function runFetch(
  settings: FetchSettings,
  options: FetchOptions,
  io: ClientIo,
): Promise<FetchSummary> {
  const sink = await openSink(settings)
  const account = `${settings.protocol}://${settings.user ?? ''}@${settings.host}:${settings.port}/${settings.mailbox}`
  const state = FetchState.open(settings.stateDir, account)
  const drawProgress =
    io.isErrorTerminal === true && !options.isQuiet
      ? (text: string) => process.stderr.write(text)
      : null
  const report = (summary: FetchSummary) => {
    if (options.isVerbose || (drawProgress !== null && summary.messages > 0)) {
      io.error(
        `postern fetch: ${summary.messages} message(s), ${(summary.octets / 1024).toFixed(0)} KB from ${settings.host} into ${settings.maildir ?? settings.mbox}${summary.deleted > 0 ? `, ${summary.deleted} deleted on the server` : ''}`,
      )
    }
  }
  const context = { settings, sink, state, drawProgress }
  if (settings.protocol === 'pop3') {
    if (options.isIdle)
      throw new MailClientError('protocol', '--idle needs IMAP: POP3 has no way to wait for mail')
    const summary = await fetchPop3(context)
    report(summary)
    return summary
  }
  return fetchImap(context, options, report)
}

interface Context {
  settings: FetchSettings
  sink: Sink
  state: FetchState
  drawProgress: ((text: string) => void) | null
}

async function openSink(settings: FetchSettings): Promise<Sink> {
  if (settings.mbox !== null) {
    const file = settings.mbox
    return async (message) => {
      await appendToMbox(file, message, { sender: returnPath(message), date: new Date() })
    }
  }
  const maildir = await Maildir.open(settings.maildir ?? 'Maildir')
  return async (message) => {
    await maildir.deliver(message)
  }
}

function connectOptions(settings: FetchSettings) {
  return {
    host: settings.host,
    port: settings.port,
    security: settings.security,
    tls: settings.ca === null ? {} : { ca: settings.ca },
    timeoutMs: settings.timeoutMs,
  }
}

function credentials(settings: FetchSettings): { user: string; password: string } {
  if (settings.user === null || settings.password === null) {
    throw new MailClientError(
      'auth',
      'no user or password: set user and password (or password_file) in [fetch], or POSTERN_FETCH_USER and POSTERN_FETCH_PASSWORD',
    )
  }
  return { user: settings.user, password: settings.password }
}

async function fetchPop3({ settings, sink, state, drawProgress }: Context): Promise<FetchSummary> {
  const { user, password } = credentials(settings)
  const client = await Pop3Client.connect(connectOptions(settings))
  try {
    await client.login(user, password)
    const uids = await client.uidl()
    const sizes = new Map((await client.list()).map((entry) => [entry.number, entry.size]))
    const fresh = uids.filter((entry) => !state.has(entry.uid))
    const progress = new Progress(
      drawProgress,
      fresh.length,
      sum(fresh.map((e) => sizes.get(e.number) ?? 0)),
    )
    const summary: FetchSummary = { messages: 0, octets: 0, deleted: 0 }
    try {
      for (const entry of fresh) {
        const message = await client.retrieve(entry.number)
        await sink(message)
        await state.add(entry.uid)
        summary.messages += 1
        summary.octets += message.length
        progress.advance(message.length)
      }
    } finally {
      progress.finish()
    }
    if (!settings.isKeep) {
      // Everything written locally goes, including what an earlier run wrote but did not get
      // to delete (RFC 1939 §6: the deletions take effect at QUIT).
      for (const entry of uids) {
        if (!state.has(entry.uid)) continue
        await client.delete(entry.number)
        summary.deleted += 1
      }
    }
    await client.quit()
    // After QUIT the deleted ones are gone; with --keep, what the server still has stays known.
    await state.keepOnly(new Set(settings.isKeep ? uids.map((entry) => entry.uid) : []))
    return summary
  } finally {
    client.close()
  }
}

async function fetchImap(
  { settings, sink, state, drawProgress }: Context,
  options: FetchOptions,
  report: (summary: FetchSummary) => void,
): Promise<FetchSummary> {
  const { user, password } = credentials(settings)
  const client = await ImapClient.connect(connectOptions(settings))
  const total: FetchSummary = { messages: 0, octets: 0, deleted: 0 }
  const controller = new AbortController()
  const stop = () => controller.abort()
  options.signal?.addEventListener('abort', stop)
  if (options.isIdle) {
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  }
  try {
    await client.login(user, password)
    const selected = await client.select(settings.mailbox)
    if (state.uidValidity !== selected.uidValidity) {
      // A first run, or the server renumbered the mailbox: every UID remembered is void.
      await state.resetFor(selected.uidValidity)
    }
    for (;;) {
      const summary = await imapPass(client, settings, sink, state, drawProgress)
      total.messages += summary.messages
      total.octets += summary.octets
      total.deleted += summary.deleted
      report(summary)
      if (!options.isIdle || controller.signal.aborted) break
      const woke = await client.idle(IDLE_RENEW_MS, controller.signal)
      if (woke === 'aborted') break
    }
    await client.logout()
    return total
  } finally {
    options.signal?.removeEventListener('abort', stop)
    process.off('SIGTERM', stop)
    process.off('SIGINT', stop)
    client.close()
  }
}

async function imapPass(
  client: ImapClient,
  settings: FetchSettings,
  sink: Sink,
  state: FetchState,
  drawProgress: ((text: string) => void) | null,
): Promise<FetchSummary> {
  const listed = await client.listMessages()
  const fresh = listed.filter((entry) => !state.has(String(entry.uid)))
  const progress = new Progress(drawProgress, fresh.length, sum(fresh.map((e) => e.size)))
  const summary: FetchSummary = { messages: 0, octets: 0, deleted: 0 }
  try {
    for (const entry of fresh) {
      const message = await client.fetchMessage(entry.uid)
      await sink(message)
      await state.add(String(entry.uid))
      summary.messages += 1
      summary.octets += message.length
      progress.advance(message.length)
    }
  } finally {
    progress.finish()
  }
  if (!settings.isKeep) {
    const written = listed.map((entry) => entry.uid).filter((uid) => state.has(String(uid)))
    if (written.length > 0) {
      await client.deleteMessages(written)
      summary.deleted = written.length
    }
  }
  const present = settings.isKeep ? listed.map((entry) => String(entry.uid)) : []
  await state.keepOnly(new Set(present))
  return summary
}

/** The envelope sender from Return-Path, for mbox's From_ line (MAILER-DAEMON if none). */
function returnPath(message: Buffer): string {
  const head = message.subarray(0, Math.min(message.length, 4096)).toString('latin1')
  const match = /^Return-Path:[ \t]*<([^>\r\n]*)>/im.exec(head)
  return match?.[1] || 'MAILER-DAEMON'
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0)
}
