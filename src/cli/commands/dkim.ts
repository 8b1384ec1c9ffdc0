// `postern dkim generate|list|activate|remove`: the DKIM signing keys of the local domains, kept
// in the data dir (src/mailauth/dkim-keys.ts). A running server notices the changes by itself.
import type { Command } from 'commander'
import { canonicalDomain, type Directory } from '../../directory/index.ts'
import {
  activateDkimKey,
  type DkimKey,
  dkimDnsRecord,
  generateDkimKey,
  listDkimKeys,
  removeDkimKey,
} from '../../mailauth/index.ts'
import { NotFoundError } from '../../store/index.ts'
import type { CliIo } from '../io.ts'
import { runAdminCommand, UsageError } from './admin.ts'

interface ConfigOption {
  config?: string
}

export function dkimCommands(program: Command, io: CliIo, done: (code: number) => void): void {
  const dkim = program
    .command('dkim')
    .description('manage the DKIM keys that sign mail from the local domains')

  /** Runs `work` with the data dir of the config, as an admin command (exit codes 0/1/2). */
  const run = (
    options: ConfigOption,
    work: (dataDir: string, directory: Directory) => Promise<void>,
  ) =>
    runAdminCommand(options, io, async (directory, _store, config) => {
      await work(config.dataDir, directory)
    })

  dkim
    .command('generate <domain>')
    .description(
      'create a key and print the DNS TXT record to publish; the first key of an algorithm is active at once, a later one waits for "dkim activate"',
    )
    .option('-s, --selector <selector>', 'the selector (default: <yyyymm>-rsa or <yyyymm>-ed)')
    .option('-a, --algorithm <algorithm>', 'rsa (2048 bits) or ed25519', 'rsa')
    .option('--activate', 'sign with the new key at once, retiring the active one')
    .option('-c, --config <file>', 'TOML config file')
    .action(
      async (
        name: string,
        options: ConfigOption & { selector?: string; algorithm: string; activate?: boolean },
      ) => {
        done(
          await run(options, async (dataDir, directory) => {
            const algorithm = options.algorithm.toLowerCase()
            if (algorithm !== 'rsa' && algorithm !== 'ed25519') {
              throw new UsageError(`Unknown algorithm "${options.algorithm}": use rsa or ed25519`)
            }
            const domain = await localDomain(directory, name)
            const key = await generateDkimKey(dataDir, domain, {
              algorithm,
              ...(options.selector === undefined ? {} : { selector: options.selector }),
              activate: options.activate === true,
            })
            io.out(`generated ${key.algorithm} key ${key.selector} for ${key.domain}: ${key.state}`)
            if (key.state === 'active') {
              io.out('mail from the domain is signed with it now: publish this record at once')
            } else {
              io.out(
                `publish this record, wait until it is visible (the old record's TTL), then run: postern dkim activate ${key.domain} ${key.selector}`,
              )
            }
            printRecord(io, key)
          }),
        )
      },
    )

  dkim
    .command('list [domain]')
    .description('list the keys with their state and DNS record name')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (name: string | undefined, options: ConfigOption) => {
      done(
        await run(options, async (dataDir, directory) => {
          const domain =
            name === undefined ? undefined : await knownDomain(directory, dataDir, name)
          const keys = listDkimKeys(dataDir, domain, (problem) =>
            io.error(`postern: cannot read ${problem.file}: ${problem.message}`),
          )
          for (const key of keys) io.out(keyLine(key))
          if (keys.length === 0) {
            io.out(`no DKIM keys${domain === undefined ? '' : ` for ${domain}`}`)
          }
        }),
      )
    })

  dkim
    .command('activate <domain> <selector>')
    .description('sign with this key from now on; the active key of its algorithm is retired')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (name: string, selector: string, options: ConfigOption) => {
      done(
        await run(options, async (dataDir, directory) => {
          const domain = await localDomain(directory, name)
          const { activated, retired } = activateDkimKey(dataDir, domain, selector)
          io.out(`active: ${activated.domain} ${activated.selector} (${activated.algorithm})`)
          for (const key of retired) {
            io.out(
              `retired: ${key.selector}; keep its record ${recordName(key)} published for a few days (mail in flight), then run: postern dkim remove ${key.domain} ${key.selector}`,
            )
          }
          if (retired.length === 0) io.out('no key was retired')
        }),
      )
    })

  dkim
    .command('remove <domain> <selector>')
    .description('delete a pending or retired key (the active key only with --force)')
    .option('--force', 'also remove the active key: mail goes out without its signature')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (name: string, selector: string, options: ConfigOption & { force?: boolean }) => {
      done(
        await run(options, async (dataDir, directory) => {
          const domain = await knownDomain(directory, dataDir, name)
          const key = removeDkimKey(dataDir, domain, selector, { force: options.force === true })
          io.out(
            `removed ${key.state} key ${key.selector} of ${key.domain}; its record ${recordName(key)} can be deleted from DNS`,
          )
        }),
      )
    })
}

/** The canonical name of a local domain. @throws NotFoundError when Postern does not have it */
async function localDomain(directory: Directory, name: string): Promise<string> {
  const domain = canonicalDomain(name)
  if (!(await directory.isLocalDomain(domain))) {
    throw new NotFoundError(`${domain} is not a local domain (see postern domain list)`)
  }
  return domain
}

/** A local domain, or one that is not local any more but still has keys to list or remove. */
async function knownDomain(directory: Directory, dataDir: string, name: string): Promise<string> {
  const domain = canonicalDomain(name)
  if (listDkimKeys(dataDir, domain).length > 0) return domain
  return localDomain(directory, domain)
}

function printRecord(io: CliIo, key: DkimKey): void {
  const record = dkimDnsRecord(key)
  io.out('DNS TXT record:')
  io.out(`  name:  ${record.name}`)
  io.out(`  value: ${record.value}`)
  io.out('zone file line:')
  io.out(record.zoneLine)
}

function keyLine(key: DkimKey): string {
  const activated = key.activatedAt === undefined ? '' : `, activated ${key.activatedAt}`
  const problem = key.problem === null ? '' : `  UNUSABLE: ${key.problem}`
  return `${key.domain}  ${key.selector}  ${key.algorithm}  ${key.state}  (created ${key.createdAt}${activated})  TXT ${recordName(key)}${problem}`
}

function recordName(key: DkimKey): string {
  return `${key.selector}._domainkey.${key.domain}`
}
