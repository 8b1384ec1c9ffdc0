// The command line of `postern sendmail`, read the way sendmail(8) reads it, so that programs
// that run /usr/sbin/sendmail (cron, git send-email, PHP's mail(), mutt) work unchanged. Options
// may be glued to their value (`-fuser@host`) or separate (`-f user@host`), and sendmail's
// single-dash long forms (`-oi`, `-bm`, `-odq`) are options too. Postern's own spool commands
// have double-dash names. A usage error is thrown as SendmailUsageError (exit EX_USAGE).

/** What the command was asked to do. */
export type SendmailMode = 'send' | 'flush' | 'queue' | 'daemon'

export interface SendmailArgs {
  mode: SendmailMode
  /** -t: the recipients are read from To, Cc and Bcc (and Bcc removed). */
  isFromHeaders: boolean
  /** -f / -r: the envelope sender (and From when the message has none). */
  sender: string | null
  /** -F: the full name put in a From field that Postern adds. */
  fullName: string | null
  /** -i / -oi: a line holding a single "." is text, not the end of the message. */
  isDotText: boolean
  /** -v: say what happens on standard error. */
  isVerbose: boolean
  /** -odq: put the message in the spool without trying the server now. */
  isQueueOnly: boolean
  /** -N: the DSN NOTIFY list (RFC 3461 §4.1); [] for NEVER; null when not given. */
  notify: Array<'success' | 'failure' | 'delay'> | null
  /** -R: the DSN RET (RFC 3461 §4.3). */
  ret: 'full' | 'hdrs' | null
  /** -V: the DSN ENVID (RFC 3461 §4.4). */
  envelopeId: string | null
  /** --config FILE (also -C FILE). */
  configPath: string | null
  /** Recipients named on the command line, as written (comma lists split later). */
  recipients: string[]
  /** Options that sendmail knows and that mean nothing here; reported with -v. */
  ignored: string[]
}

export class SendmailUsageError extends Error {}

/** sendmail options that take a value, glued (`-fx`) or as the next argument (`-f x`). */
const WITH_VALUE = new Set(['f', 'r', 'F', 'N', 'R', 'V', 'C', 'B', 'L', 'O', 'X', 'h', 'p'])

/** Parses sendmail's arguments (argv after `postern sendmail`). */
export function parseSendmailArgs(argv: readonly string[]): SendmailArgs {
  const args: SendmailArgs = {
    mode: 'send',
    isFromHeaders: false,
    sender: null,
    fullName: null,
    isDotText: false,
    isVerbose: false,
    isQueueOnly: false,
    notify: null,
    ret: null,
    envelopeId: null,
    configPath: null,
    recipients: [],
    ignored: [],
  }
  const setMode = (mode: SendmailMode) => {
    if (args.mode !== 'send' && args.mode !== mode) {
      throw new SendmailUsageError(`--${args.mode} and --${mode} cannot be used together`)
    }
    args.mode = mode
  }
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? ''
    if (arg === '--') {
      args.recipients.push(...argv.slice(i + 1))
      break
    }
    if (arg.startsWith('--')) {
      const [name = '', inline] = splitOnce(arg.slice(2), '=')
      switch (name) {
        case 'flush':
        case 'queue':
        case 'daemon':
          setMode(name)
          continue
        case 'config': {
          const value = inline ?? argv[i + 1]
          if (value === undefined) throw new SendmailUsageError('--config needs a file name')
          if (inline === undefined) i += 1
          args.configPath = value
          continue
        }
        default:
          throw new SendmailUsageError(`unknown option ${arg}`)
      }
    }
    if (!arg.startsWith('-') || arg === '-') {
      args.recipients.push(arg)
      continue
    }
    const letter = arg[1] ?? ''
    if (WITH_VALUE.has(letter)) {
      let value = arg.slice(2)
      if (value === '') {
        const next = argv[i + 1]
        if (next === undefined) throw new SendmailUsageError(`option -${letter} needs a value`)
        value = next
        i += 1
      }
      applyValue(args, letter, value)
      continue
    }
    applyFlag(args, arg, setMode)
  }
  if (args.mode !== 'send' && args.recipients.length > 0) {
    throw new SendmailUsageError(`--${args.mode} takes no recipients`)
  }
  return args
}

function applyValue(args: SendmailArgs, letter: string, value: string): void {
  switch (letter) {
    case 'f':
    case 'r':
      // sendmail accepts "<user@host>" as well as the bare address; "<>" is the null sender.
      args.sender = value.replace(/^<(.*)>$/, '$1')
      return
    case 'F':
      args.fullName = value
      return
    case 'C':
      args.configPath = value
      return
    case 'N':
      args.notify = parseNotify(value)
      return
    case 'R': {
      const ret = value.toLowerCase()
      if (ret !== 'full' && ret !== 'hdrs') {
        throw new SendmailUsageError(`-R takes "full" or "hdrs", not "${value}"`)
      }
      args.ret = ret
      return
    }
    case 'V':
      args.envelopeId = value
      return
    default:
      // -B type, -L tag, -O option, -X logfile, -h hops, -p protocol: nothing to do here.
      args.ignored.push(`-${letter} ${value}`)
  }
}

function applyFlag(args: SendmailArgs, arg: string, setMode: (mode: SendmailMode) => void): void {
  switch (arg) {
    case '-t':
      args.isFromHeaders = true
      return
    case '-i':
    case '-oi':
      args.isDotText = true
      return
    case '-v':
      args.isVerbose = true
      return
    case '-q':
      setMode('flush')
      return
    case '-bp':
      setMode('queue')
      return
    case '-bm':
    case '-U':
    case '-n':
      return
    case '-odq':
      args.isQueueOnly = true
      return
    case '-bs':
    case '-bd':
    case '-bv':
    case '-bi':
    case '-bD':
    case '-bt':
    case '-I':
      throw new SendmailUsageError(
        `${arg} is not supported: postern sendmail only sends a message read from standard input`,
      )
  }
  // -o options (-oem, -odb, -oee, -om …) and -q intervals (-q15m): nothing to do here.
  if (arg.startsWith('-o') || arg.startsWith('-q') || arg.startsWith('-d')) {
    args.ignored.push(arg)
    return
  }
  throw new SendmailUsageError(`unknown option ${arg}`)
}

/** RFC 3461 §4.1: NEVER alone, or any of SUCCESS, FAILURE, DELAY. */
function parseNotify(value: string): Array<'success' | 'failure' | 'delay'> {
  const words = value
    .toLowerCase()
    .split(',')
    .map((word) => word.trim())
  if (words.length === 1 && words[0] === 'never') return []
  const notify: Array<'success' | 'failure' | 'delay'> = []
  for (const word of words) {
    if (word !== 'success' && word !== 'failure' && word !== 'delay') {
      throw new SendmailUsageError(
        `-N takes "never" or a list of "success", "failure" and "delay", not "${value}"`,
      )
    }
    if (!notify.includes(word)) notify.push(word)
  }
  return notify
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator)
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)]
}
