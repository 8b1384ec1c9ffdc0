import type { Command } from 'commander'
import {
  ClientConfigError,
  fetchSettings,
  MailClientError,
  readClientFile,
  runFetch,
} from '../../client/index.ts'
import type { CliIo } from '../io.ts'

interface FetchFlags {
  config?: string
  protocol?: string
  host?: string
  port?: string
  security?: string
  user?: string
  mailbox?: string
  maildir?: string
  mbox?: string
  keep?: boolean
  idle?: boolean
  verbose?: boolean
  quiet?: boolean
}

/** `postern fetch`: download an account's mail over POP3 or IMAP into a Maildir or mbox. */
export function fetchCommand(program: Command, io: CliIo, done: (code: number) => void): void {
  program
    .command('fetch')
    .description(
      'download mail from a POP3 or IMAP account (any server) into a local Maildir or mbox',
    )
    .option(
      '-c, --config <file>',
      'client config (default $POSTERN_CLIENT_CONFIG, else ~/.config/postern/client.toml)',
    )
    .option('--protocol <imap|pop3>', 'the protocol (default imap)')
    .option('--host <host>', 'the server')
    .option('--port <port>', 'the port (default 993 for IMAP, 995 for POP3; 143/110 with STARTTLS)')
    .option('--security <tls|starttls|none>', 'TLS from the start (default), STARTTLS, or none')
    .option(
      '--user <name>',
      'the login (the password comes from the config or POSTERN_FETCH_PASSWORD)',
    )
    .option('--mailbox <name>', 'IMAP mailbox to fetch (default INBOX)')
    .option('--maildir <dir>', 'write into this Maildir (default ~/Maildir)')
    .option('--mbox <file>', 'append to this mbox file instead')
    .option('-k, --keep', 'leave the messages on the server (each is fetched once)')
    .option('--idle', 'IMAP: stay connected and fetch new mail as it arrives (until Ctrl-C)')
    .option('-v, --verbose', 'say what was fetched')
    .option('-q, --quiet', 'no progress bar')
    .action(async (flags: FetchFlags) => {
      done(await fetch(flags, io))
    })
}

async function fetch(flags: FetchFlags, io: CliIo): Promise<number> {
  const say = (text: string) => io.error(`postern fetch: ${text}`)
  try {
    const loaded = readClientFile(flags.config ?? null, io.env)
    const settings = fetchSettings(loaded, io.env, {
      protocol: flags.protocol,
      host: flags.host,
      port: flags.port === undefined ? undefined : Number(flags.port),
      security: flags.security,
      user: flags.user,
      mailbox: flags.mailbox,
      maildir: flags.maildir,
      mbox: flags.mbox,
      keep: flags.keep,
    })
    await runFetch(
      settings,
      {
        isIdle: flags.idle === true,
        isVerbose: flags.verbose === true,
        isQuiet: flags.quiet === true,
      },
      io,
    )
    return 0
  } catch (error: unknown) {
    if (error instanceof ClientConfigError) {
      say(error.message)
      return 2
    }
    if (error instanceof MailClientError) {
      say(error.message)
      return 1
    }
    const code = (error as NodeJS.ErrnoException).code
    if (typeof code === 'string') {
      say((error as Error).message)
      return 1
    }
    throw error
  }
}
