import type { Command } from 'commander'
import { displayDomain } from '../../directory/index.ts'
import {
  checkDomain,
  dkimDomain,
  formatDomainCheck,
  listDkimKeys,
  ownStsRecord,
} from '../../mailauth/index.ts'
import { createDnsResolver } from '../../net/index.ts'
import { NotFoundError } from '../../store/index.ts'
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
  domain
    .command('check <name>')
    .description(
      'print what DNS must hold for the domain (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT) and what it holds now; exit 1 unless all are there',
    )
    .option('-c, --config <file>', 'TOML config file')
    .action(async (name: string, options: { config?: string }) => {
      let isComplete = true
      const code = await runAdminCommand(options, io, async (directory, _store, config) => {
        const ascii = dkimDomain(name)
        if (!(await directory.isLocalDomain(ascii))) {
          throw new NotFoundError(`${name} is not a local domain (postern domain add ${name})`)
        }
        const resolver = createDnsResolver({
          servers: config.dns.servers,
          timeoutMs: config.dns.timeoutMs,
          tries: config.dns.tries,
        })
        const rows = await checkDomain({
          domain: ascii,
          hostname: config.hostname,
          dkimKeys: listDkimKeys(config.dataDir, ascii),
          mtaStsRecord: ownStsRecord(config),
          resolver,
        })
        io.out(`DNS for ${describe(ascii)}, as the configured resolver sees it:`)
        for (const line of formatDomainCheck(rows)) io.out(line)
        // TLS-RPT is advice; everything else must be there.
        isComplete = rows.every((row) => row.status === 'ok' || row.kind === 'TLS-RPT')
        io.out(isComplete ? 'everything needed is published' : 'some records are missing or wrong')
      })
      done(code === 0 && !isComplete ? 1 : code)
    })
}

/** "xn--bcher-kva.test (bücher.test)" for IDNs, the name alone otherwise. */
function describe(aLabel: string): string {
  const unicode = displayDomain(aLabel)
  return unicode === aLabel ? aLabel : `${aLabel} (${unicode})`
}
