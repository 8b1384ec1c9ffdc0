import { type Command, InvalidArgumentError } from 'commander'
import type { CliIo } from '../io.ts'
import { readPassword, runAdminCommand } from './admin.ts'

interface UserAddOptions {
  config?: string
  password?: string
  quotaStorage?: number
  quotaMessages?: number
}

function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number')
  return Number(value)
}

/** `postern user add|list|remove|passwd`. */
export function userCommands(program: Command, io: CliIo, done: (code: number) => void): void {
  const user = program.command('user').description('manage accounts (the login is the address)')
  user
    .command('add <address>')
    .description('add an account with INBOX, Sent, Drafts, Trash, Junk and Archive')
    .option('-c, --config <file>', 'TOML config file')
    .option('-p, --password <password>', 'the password (default: the first line of stdin)')
    .option('--quota-storage <octets>', 'storage quota in octets', count)
    .option('--quota-messages <count>', 'message count quota', count)
    .action(async (address: string, options: UserAddOptions) => {
      done(
        await runAdminCommand(options, io, async (directory) => {
          const password = await readPassword(options.password, io)
          const account = await directory.addUser(address, password, {
            storage: options.quotaStorage ?? null,
            messages: options.quotaMessages ?? null,
          })
          io.out(`added user ${account.address}`)
        }),
      )
    })
  user
    .command('list [domain]')
    .description('list accounts, of one domain or all')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (domain: string | undefined, options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (directory) => {
          for (const account of await directory.listUsers(domain)) {
            const { storage, messages } = account.quota
            const quota = [
              storage === null ? '' : `storage ${storage}`,
              messages === null ? '' : `messages ${messages}`,
            ].filter(Boolean)
            io.out(
              quota.length > 0 ? `${account.address}\tquota: ${quota.join(', ')}` : account.address,
            )
          }
        }),
      )
    })
  user
    .command('remove <address>')
    .description('remove an account with all its mailboxes and messages')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (address: string, options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (directory) => {
          await directory.removeUser(address)
          io.out(`removed user ${address}`)
        }),
      )
    })
  user
    .command('passwd <address>')
    .description("set an account's password")
    .option('-c, --config <file>', 'TOML config file')
    .option('-p, --password <password>', 'the new password (default: the first line of stdin)')
    .action(async (address: string, options: { config?: string; password?: string }) => {
      done(
        await runAdminCommand(options, io, async (directory) => {
          await directory.setPassword(address, await readPassword(options.password, io))
          io.out(`password changed for ${address}`)
        }),
      )
    })
}
