import { Command, CommanderError } from 'commander'
import { runSendmail } from '../client/index.ts'
import { POSTERN_VERSION } from '../server/index.ts'
import { aliasCommands } from './commands/alias.ts'
import { dkimCommands } from './commands/dkim.ts'
import { domainCommands } from './commands/domain.ts'
import { fetchCommand } from './commands/fetch.ts'
import { migrateCommands } from './commands/migrate.ts'
import { queueCommands } from './commands/queue.ts'
import { serve } from './commands/serve.ts'
import { userCommands } from './commands/user.ts'
import { type CliIo, processIo } from './io.ts'

export { type CliIo, processIo } from './io.ts'

/**
 * Runs one `postern …` command line and resolves with the exit code: 0 success, 1 runtime
 * failure, 2 bad usage or bad config (DESIGN.md §Operator interface).
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  // sendmail(8)'s command line is not commander's (-fuser, -oi, -t …): it is read as is.
  if (argv[0] === 'sendmail') return runSendmail(argv.slice(1), io)
  let exitCode = 0
  const program = new Command('postern')
    .description(
      'Postern: a complete Internet mail system (SMTP, queue and relay, mailbox store, IMAP, POP3)',
    )
    .version(POSTERN_VERSION, '-V, --version', 'print the version')
    .helpCommand('help [command]', 'show help for a command')
    .showHelpAfterError('(run "postern help" for the commands)')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.error(text) })

  program
    .command('serve')
    .description('start every configured listener and run until SIGTERM or SIGINT')
    .option(
      '-c, --config <file>',
      'TOML config file (default: $POSTERN_CONFIG, else the embedded default)',
    )
    .action(async (options: { config?: string }) => {
      exitCode = await serve(options, io)
    })

  const done = (code: number) => {
    exitCode = code
  }
  // Listed for help only: runCli hands `sendmail` to runSendmail before commander sees it.
  program
    .command('sendmail')
    .description(
      'send a message from standard input (sendmail-compatible: -t -f -F -i -v …), spooling it while the server is unreachable; --flush, --daemon, --queue work the spool',
    )
    .allowUnknownOption()
    .allowExcessArguments()
  fetchCommand(program, io, done)
  domainCommands(program, io, done)
  dkimCommands(program, io, done)
  userCommands(program, io, done)
  aliasCommands(program, io, done)
  queueCommands(program, io, done)
  migrateCommands(program, io, done)

  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander exits 0 for --help, help and --version, non-zero for every usage error.
      return error.exitCode === 0 ? 0 : 2
    }
    throw error
  }
  return exitCode
}
