import { isUtf8 } from 'node:buffer'
import { parsePath, type SmtpPath } from './path.ts'
import { type Reply, reply } from './reply.ts'

/** One SMTP command line, parsed (RFC 5321 §4.1.1, RFC 3030 §2, RFC 3207 §4, RFC 4954 §4). */
export type SmtpCommand =
  | { verb: 'EHLO' | 'HELO'; domain: string }
  | { verb: 'MAIL'; path: SmtpPath; params: string }
  | { verb: 'RCPT'; path: SmtpPath; params: string }
  | { verb: 'DATA' | 'RSET' | 'QUIT' | 'STARTTLS' | 'NOOP' }
  | { verb: 'HELP'; topic: string }
  | { verb: 'VRFY' | 'EXPN'; argument: string }
  | { verb: 'BDAT'; size: number; isLast: boolean }
  | { verb: 'AUTH'; mechanism: string; initialResponse: string | null }

export type SmtpVerb = SmtpCommand['verb']

export type CommandParse =
  | { kind: 'command'; command: SmtpCommand }
  /** A known verb with bad arguments: answer the reply, the session goes on. */
  | { kind: 'error'; verb: SmtpVerb | null; reply: Reply }

/** The largest BDAT chunk size that is a safe integer; anything above is refused by policy anyway. */
const MAX_BDAT_DIGITS = 15

/**
 * Parses one command line (without its CRLF). Verbs are case-insensitive (RFC 5321 §2.4). The
 * line must be UTF-8: ASCII, or UTF-8 addresses under SMTPUTF8 (RFC 6531 §3.3).
 */
export function parseCommand(line: Buffer): CommandParse {
  if (!isUtf8(line)) {
    return error(null, 500, '5.5.2', 'Command line is not valid UTF-8')
  }
  const text = line.toString('utf8')
  const space = text.indexOf(' ')
  const word = space < 0 ? text : text.slice(0, space)
  // Verbs are ASCII letters. String#toUpperCase folds some other letters into them ("ı" to
  // "I", "ſ" to "S"), which would let "MAıL" or "ſTARTTLS" pass for a verb.
  const verb = /^[A-Za-z]+$/.test(word) ? word.toUpperCase() : ''
  const argument = space < 0 ? '' : text.slice(space + 1)

  switch (verb) {
    case 'EHLO':
    case 'HELO': {
      // RFC 5321 §4.1.1.1 wants a domain or address literal. Many real clients send a bare host
      // name with "_" or other junk, which Postfix and Exim accept; the first word is kept
      // (for the Received header) and only an empty one is refused.
      const domain = argument.trim().split(' ')[0] ?? ''
      if (domain === '') return error(verb, 501, '5.5.4', `${verb} needs your domain name`)
      return ok({ verb, domain })
    }
    case 'MAIL':
    case 'RCPT': {
      const prefix = verb === 'MAIL' ? 'FROM:' : 'TO:'
      if (argument.slice(0, prefix.length).toUpperCase() !== prefix) {
        return error(verb, 501, '5.5.4', `Syntax: ${verb} ${prefix}<address> [parameters]`)
      }
      // RFC 5321 has no space after the colon; many clients send one, and every server takes it.
      const pathText = argument.slice(prefix.length).replace(/^ +/, '')
      const parsed = parsePath(pathText, {
        allowNull: verb === 'MAIL',
        allowPostmaster: verb === 'RCPT',
      })
      if ('error' in parsed) {
        return error(verb, 501, verb === 'MAIL' ? '5.1.7' : '5.1.3', parsed.error)
      }
      return ok({ verb, path: parsed.path, params: parsed.rest })
    }
    case 'DATA':
    case 'RSET':
    case 'QUIT':
    case 'STARTTLS':
      if (argument.trim() !== '') return error(verb, 501, '5.5.4', `${verb} takes no arguments`)
      return ok({ verb })
    case 'NOOP':
      // NOOP [ SP String ]: the string is ignored (RFC 5321 §4.1.1.9).
      return ok({ verb })
    case 'HELP':
      return ok({ verb, topic: argument.trim() })
    case 'VRFY':
    case 'EXPN':
      if (argument.trim() === '') return error(verb, 501, '5.5.4', `${verb} needs an argument`)
      return ok({ verb, argument: argument.trim() })
    case 'BDAT': {
      // bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ]; end-marker = "LAST" (RFC 3030 §2)
      const match = /^(\d+)(?: (LAST))?$/i.exec(argument)
      if (match === null || (match[1] as string).length > MAX_BDAT_DIGITS) {
        return error(verb, 501, '5.5.4', 'Syntax: BDAT <size> [LAST]')
      }
      return ok({ verb, size: Number(match[1]), isLast: match[2] !== undefined })
    }
    case 'AUTH': {
      // auth-command = "AUTH" SP sasl-mech [SP initial-response] (RFC 4954 §4)
      const match = /^([A-Za-z0-9_-]{1,20})(?: (\S+))?$/.exec(argument)
      if (match === null)
        return error(verb, 501, '5.5.4', 'Syntax: AUTH <mechanism> [initial-response]')
      return ok({
        verb,
        mechanism: (match[1] as string).toUpperCase(),
        initialResponse: match[2] ?? null,
      })
    }
    default:
      return error(null, 500, '5.5.2', 'Command not recognized')
  }
}

function ok(command: SmtpCommand): CommandParse {
  return { kind: 'command', command }
}

function error(verb: SmtpVerb | null, code: number, status: string, text: string): CommandParse {
  return { kind: 'error', verb, reply: reply(code, status, text) }
}
