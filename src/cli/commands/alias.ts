import type { Command } from 'commander'
import type { CliIo } from '../io.ts'
import { runAdminCommand } from './admin.ts'

/** `postern alias add|list|remove`. */
export function aliasCommands(program: Command, io: CliIo, done: (code: number) => void): void {
  const alias = program
    .command('alias')
    .description('manage aliases: an address (or @domain, the catch-all) delivered to others')
  alias
    .command('add <source> <targets...>')
    .description('add targets (local or remote addresses) to an alias, creating it if needed')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (source: string, targets: string[], options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (directory) => {
          const added = await directory.addAlias(source, targets)
          io.out(`alias ${added.source} → ${added.targets.join(', ')}`)
        }),
      )
    })
  alias
    .command('list [domain]')
    .description('list aliases, of one domain or all')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (domain: string | undefined, options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (directory) => {
          for (const { source, targets } of await directory.listAliases(domain)) {
            io.out(`${source}\t${targets.join(', ')}`)
          }
        }),
      )
    })
  alias
    .command('remove <source> [targets...]')
    .description('remove the given targets, or the whole alias')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (source: string, targets: string[], options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (directory) => {
          await directory.removeAlias(source, targets.length > 0 ? targets : undefined)
          io.out(
            targets.length > 0
              ? `removed ${targets.join(', ')} from ${source}`
              : `removed alias ${source}`,
          )
        }),
      )
    })
}
