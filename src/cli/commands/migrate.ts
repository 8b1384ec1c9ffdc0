import type { Command } from 'commander'
import { ConfigError, loadConfig } from '../../config/index.ts'
import { describeStore, migrateStore, storeSchemaStatus } from '../../server/index.ts'
import type { SchemaStatus } from '../../store/index.ts'
import type { CliIo } from '../io.ts'

/** `postern migrate status|up [--dry-run]`: the store's schema version, and upgrading it. */
export function migrateCommands(program: Command, io: CliIo, done: (code: number) => void): void {
  const migrate = program
    .command('migrate')
    .description("show or upgrade the store's schema version (back up first)")
  migrate
    .command('status')
    .description('the schema version of the store and the migrations this Postern would apply')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (options: { config?: string }) => {
      done(
        await withConfig(options, io, async (config) => {
          const status = await storeSchemaStatus(config)
          io.out(`store: ${describeStore(config)}`)
          io.out(describeStatus(status))
          for (const step of status.pending) io.out(`  ${step.version}  ${step.description}`)
          if (status.pending.length > 0) io.out('run "postern migrate up" to apply them')
          return 0
        }),
      )
    })
  migrate
    .command('up')
    .description('apply the pending migrations, each in its own transaction')
    .option('-c, --config <file>', 'TOML config file')
    .option('-n, --dry-run', 'only list what would be applied')
    .action(async (options: { config?: string; dryRun?: boolean }) => {
      done(
        await withConfig(options, io, async (config) => {
          const dryRun = options.dryRun === true
          const before = await storeSchemaStatus(config)
          if (before.current > before.latest) {
            io.error(`postern: ${describeStatus(before)}`)
            return 1
          }
          if (before.pending.length === 0) {
            io.out(`nothing to apply: ${describeStatus(before)}`)
            return 0
          }
          io.out(dryRun ? 'would apply:' : 'applying:')
          for (const step of before.pending) io.out(`  ${step.version}  ${step.description}`)
          if (dryRun) return 0
          const after = await migrateStore(config, { dryRun })
          io.out(describeStatus(after))
          return 0
        }),
      )
    })
}

function describeStatus(status: SchemaStatus): string {
  const versions = `schema version ${status.current} (this Postern knows ${status.latest})`
  if (status.current > status.latest) return `${versions}: written by a newer Postern`
  if (status.pending.length === 0) return `${versions}: up to date`
  const count = status.pending.length
  return `${versions}: ${count} migration${count === 1 ? '' : 's'} pending`
}

async function withConfig(
  options: { config?: string },
  io: CliIo,
  work: (config: ReturnType<typeof loadConfig>) => Promise<number>,
): Promise<number> {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig({ path: options.config ?? (io.env.POSTERN_CONFIG || null) })
  } catch (error) {
    if (error instanceof ConfigError) {
      io.error(`postern: bad config: ${error.message}`)
      return 2
    }
    throw error
  }
  try {
    return await work(config)
  } catch (error) {
    io.error(
      `postern: cannot reach the store (${describeStore(config)}): ${(error as Error).message}`,
    )
    return 1
  }
}
