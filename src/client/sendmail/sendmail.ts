// `postern sendmail`: send the message on standard input through the configured submission
// server, or spool it when the server cannot take it now, and work the spool (--flush, --daemon,
// --queue). Exit codes are sysexits.h's. The promise to the caller: exit 0 means the message was
// sent or is whole in the spool (fsynced) to be sent later; a refusal (5xx) is reported and the
// message kept in the spool's failed/ folder; nothing is dropped without a word.
import os from 'node:os'
import path from 'node:path'
import {
  ClientConfigError,
  readClientFile,
  type SubmissionSettings,
  spoolDirectory,
  submissionSettings,
} from '../config.ts'
import type { ClientIo } from '../io.ts'
import { Spool } from '../spool.ts'
import { parseSendmailArgs, type SendmailArgs, SendmailUsageError } from './args.ts'
import {
  EX_CONFIG,
  EX_DATAERR,
  EX_NOUSER,
  EX_OK,
  EX_TEMPFAIL,
  EX_UNAVAILABLE,
  EX_USAGE,
} from './exit-codes.ts'
import {
  cutAtDotLine,
  isMailbox,
  MessageInputError,
  parseRecipientArgs,
  prepareMessage,
} from './message.ts'
import { attemptEntry, listSpool, retryDelayMs, runDaemon, setAside } from './spool-runner.ts'
import { submitMessage } from './submit.ts'

/** The largest message read from standard input. */
export const MAX_INPUT_OCTETS = 128 * 1024 * 1024

/** Runs `postern sendmail ARGS` and resolves with its exit code. */
export async function runSendmail(argv: readonly string[], io: ClientIo): Promise<number> {
  const say = (text: string) => io.error(`postern sendmail: ${text}`)
  let args: SendmailArgs
  try {
    args = parseSendmailArgs(argv)
  } catch (error) {
    if (!(error instanceof SendmailUsageError)) throw error
    say(error.message)
    return EX_USAGE
  }
  try {
    const loaded = readClientFile(args.configPath, io.env)
    if (args.mode === 'queue') return await listSpool(spoolDirectory(loaded, io.env), io)
    const settings = submissionSettings(loaded, io.env)
    const narrate = args.isVerbose ? say : () => {}
    for (const ignored of args.ignored) narrate(`ignoring ${ignored}`)
    if (args.mode === 'flush') return await flush(settings, io, narrate)
    if (args.mode === 'daemon') return await runDaemon(settings, io)
    return await send(args, settings, io, narrate)
  } catch (error) {
    if (error instanceof ClientConfigError) {
      say(error.message)
      return EX_CONFIG
    }
    throw error
  }
}

async function send(
  args: SendmailArgs,
  settings: SubmissionSettings,
  io: ClientIo,
  narrate: (text: string) => void,
): Promise<number> {
  const say = (text: string) => io.error(`postern sendmail: ${text}`)
  const sender = args.sender ?? settings.from ?? defaultSender(settings, io.env)
  if (sender !== '' && !isMailbox(sender)) {
    say(`the sender "${sender}" is not an address (give -f user@domain or "from" in the config)`)
    return EX_USAGE
  }
  const qualifyDomain =
    settings.qualifyDomain ??
    (sender.includes('@') ? sender.slice(sender.lastIndexOf('@') + 1) : os.hostname())
  const input = io.readStdinBytes
    ? await io.readStdinBytes(MAX_INPUT_OCTETS)
    : Buffer.from(await io.readStdin(), 'utf8')
  if (input === null) {
    say(`the message is larger than ${MAX_INPUT_OCTETS / 1024 / 1024} MiB; nothing was sent`)
    return EX_DATAERR
  }
  let prepared: ReturnType<typeof prepareMessage>
  let recipients: string[]
  try {
    prepared = prepareMessage(cutAtDotLine(input, args.isDotText), {
      sender,
      fullName: args.fullName,
      isFromHeaders: args.isFromHeaders,
      qualifyDomain,
      messageIdDomain: qualifyDomain,
    })
    recipients = parseRecipientArgs(args.recipients, qualifyDomain)
    for (const address of prepared.headerRecipients) {
      if (!isMailbox(address))
        throw new MessageInputError(`the header names "${address}", not an address`)
      if (!recipients.includes(address)) recipients.push(address)
    }
  } catch (error) {
    if (!(error instanceof MessageInputError)) throw error
    say(`${error.message}; nothing was sent`)
    return args.isFromHeaders ? EX_DATAERR : EX_USAGE
  }
  if (recipients.length === 0) {
    say(
      args.isFromHeaders
        ? 'no recipients in To, Cc or Bcc; nothing was sent'
        : 'no recipients given (name them, or use -t); nothing was sent',
    )
    return EX_USAGE
  }
  if (prepared.added.length > 0) narrate(`added ${prepared.added.join(', ')}`)

  let spool: Spool
  try {
    spool = await Spool.open(settings.spoolDir)
  } catch (error) {
    say(`cannot open the spool ${settings.spoolDir}: ${(error as Error).message}; nothing was sent`)
    return EX_TEMPFAIL
  }
  const request = {
    sender,
    recipients,
    notify: args.notify,
    ret: args.ret,
    envelopeId: args.envelopeId,
  }
  if (args.isQueueOnly) {
    const entry = await spool.add({ sender, recipients }, prepared.message)
    say(`queued as ${entry.id} (-odq); postern sendmail --flush sends it`)
    return EX_OK
  }
  const outcome = await submitMessage(settings, request, prepared.message, narrate)
  let code = EX_OK
  if (outcome.temporary.length > 0) {
    try {
      const entry = await spool.add(
        {
          sender,
          recipients: outcome.temporary.map((problem) => problem.recipient),
          lastError: outcome.temporary[0]?.reason ?? 'not sent',
          nextAttemptAt: Date.now() + retryDelayMs(1, settings.retryMaxMs),
        },
        prepared.message,
      )
      say(
        `queued as ${entry.id} for ${outcome.temporary.length} recipient(s): ${outcome.temporary[0]?.reason}; it is sent by postern sendmail --flush or --daemon`,
      )
    } catch (error) {
      say(`cannot spool the message: ${(error as Error).message}; it was not sent`)
      return EX_TEMPFAIL
    }
  }
  if (outcome.permanent.length > 0) {
    const id = await setAside(spool, sender, outcome.permanent, prepared.message)
    const kept = path.join(settings.spoolDir, 'failed', `${id}.msg`)
    for (const problem of outcome.permanent)
      say(`refused for ${problem.recipient}: ${problem.reason}`)
    say(`the message is kept in ${kept}`)
    code = outcome.permanent.every((problem) => /^5\d\d 5\.1\./.test(problem.reason))
      ? EX_NOUSER
      : EX_UNAVAILABLE
  }
  if (outcome.accepted.length > 0) narrate(`sent to ${outcome.accepted.join(', ')}`)
  return code
}

/** --flush: every queued message, due or not, tried once now. */
async function flush(
  settings: SubmissionSettings,
  io: ClientIo,
  narrate: (text: string) => void,
): Promise<number> {
  const spool = await Spool.open(settings.spoolDir)
  const entries = (await spool.list()).filter((entry) => entry.state === 'queued')
  if (entries.length === 0) {
    io.out('the spool is empty')
    return EX_OK
  }
  let sent = 0
  let waiting = 0
  let failed = 0
  for (const entry of entries) {
    const result = await attemptEntry(spool, settings, entry.id, narrate)
    if (result === null) continue // taken by another flusher meanwhile
    io.out(`${entry.id}: ${result.summary}`)
    if (result.state === 'sent') sent += 1
    else if (result.state === 'queued') waiting += 1
    else failed += 1
  }
  io.out(`${sent} sent, ${waiting} still queued, ${failed} refused (kept in the spool's failed/)`)
  if (failed > 0) return EX_UNAVAILABLE
  return waiting > 0 ? EX_TEMPFAIL : EX_OK
}

/** user@host when nothing names the sender: the login's name and, if it is one, the user name. */
function defaultSender(settings: SubmissionSettings, env: NodeJS.ProcessEnv): string {
  if (settings.user?.includes('@')) return settings.user
  const name = env.USER ?? env.LOGNAME ?? os.userInfo().username
  return `${name}@${os.hostname()}`
}
