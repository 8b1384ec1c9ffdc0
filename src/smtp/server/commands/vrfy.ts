import type { CommandHandler } from '../command.ts'

/**
 * VRFY (RFC 5321 §3.5.3). Off by default, since it lets anyone list the accounts: 252 then says
 * "cannot verify, but will try" as §3.5.3 allows. With `vrfy = true`, local addresses are looked
 * up. EXPN (which would list an alias's members) is never offered.
 */
export const vrfy: CommandHandler<'VRFY' | 'EXPN'> = async (session, command) => {
  if (command.verb === 'EXPN') {
    session.reply(502, '5.5.1', 'EXPN is not available')
    return
  }
  if (!session.deps.config.vrfy) {
    session.reply(252, '2.5.0', 'Cannot VRFY user, but will accept message and attempt delivery')
    return
  }
  const address = command.argument.replace(/^<(.*)>$/, '$1')
  const resolution = await session.deps.directory.resolve(address)
  switch (resolution.kind) {
    case 'deliver':
      session.reply(250, '2.1.5', `<${address}>`)
      break
    case 'unknown':
      session.reply(550, '5.1.1', `<${address}>: User unknown`)
      break
    case 'invalid':
      session.reply(501, '5.1.3', resolution.reason)
      break
    case 'not-local':
      session.reply(252, '2.5.0', 'Not a local address; cannot verify')
      break
  }
}
