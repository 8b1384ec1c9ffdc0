import type { Command } from 'commander'
import { displayDomain } from '../../directory/index.ts'
import type { CliIo } from '../io.ts'
import { runAdminCommand } from './admin.ts'

/** `postern domain add|list|remove`. */
export function domainCommands(program: Command, io: CliIo, done: (code: number) => void): void {
  const domain = program
    .command('domain')
    .description('manage the domains Postern receives mail for')
  domain
    .command('add <name>')
    .description('add a local domain (IDN names are stored as A-labels)')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (name: string, options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (directory) => {
          const added = await directory.addDomain(name)
          io.out(`added domain ${describe(added.name)}`)
        }),
      )
    })
  domain
    .command('list')
    .description('list the local domains')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (directory) => {
          for (const { name } of await directory.listDomains()) io.out(describe(name))
        }),
      )
    })
  domain
    .command('remove <name>')
    .description('remove a local domain that has no accounts or aliases left')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (name: string, options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (directory) => {
          await directory.removeDomain(name)
          io.out(`removed domain ${name}`)
        }),
      )
    })
}

/** "xn--bcher-kva.test (bücher.test)" for IDNs, the name alone otherwise. */
function describe(aLabel: string): string {
  const unicode = displayDomain(aLabel)
  return unicode === aLabel ? aLabel : `${aLabel} (${unicode})`
}
