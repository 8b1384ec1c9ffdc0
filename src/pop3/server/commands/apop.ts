import { createHash, timingSafeEqual } from 'node:crypto'
import { AddressError, type Directory } from '../../../directory/index.ts'
import { AUTHORIZATION, type Pop3CommandEntry } from '../command.ts'
import { enterMaildrop, mayTryLogin, refuseLogin } from '../login.ts'

/**
 * APOP (RFC 1939 §7): MD5 of the greeting's challenge and the shared secret, so the secret never
 * crosses the wire, which is why it is offered without TLS. Off unless the operator turns it on:
 * it needs the secret kept readable, stored only for passwords set while it is on.
 */
export const apop: Pop3CommandEntry = {
  states: AUTHORIZATION,
  async handle(session, { args }) {
    const challenge = session.apopChallenge
    if (challenge === null) {
      await session.fail('APOP is not offered here')
      return
    }
    const [name, digest] = args
    if (args.length !== 2 || name === undefined || !/^[0-9a-fA-F]{32}$/.test(digest ?? '')) {
      await session.fail('Usage: APOP name digest')
      return
    }
    if (!(await mayTryLogin(session))) return
    const account = await findAccount(session.deps.directory, name)
    // Looked up for an unknown name too, so that it costs what a known one does.
    const credentials = await session.deps.store.getCredentials(account?.address ?? name)
    // An unknown name or one with no secret costs the same hash as a known one.
    const secret = credentials?.apopSecret ?? ''
    const expected = createHash('md5').update(`${challenge}${secret}`, 'utf8').digest()
    const given = Buffer.from(digest as string, 'hex')
    if (account === null || secret === '' || !timingSafeEqual(expected, given)) {
      await refuseLogin(session, name, secret === '' ? 'no APOP secret' : 'wrong APOP digest')
      return
    }
    await enterMaildrop(session, account.address, 'APOP')
  },
}

/** The account a name logs in as, or null (a name that is no address at all included). */
async function findAccount(directory: Directory, name: string) {
  try {
    return await directory.getUser(name)
  } catch (error) {
    if (error instanceof AddressError) return null
    throw error
  }
}
