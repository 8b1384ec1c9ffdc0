import type { ImapCommandEntry } from '../command.ts'
import type { Enableable } from '../session.ts'

/** The names ENABLE takes, in upper case, and what each turns on. */
const ENABLEABLE = new Map<string, Enableable[]>([
  ['IMAP4REV2', ['IMAP4rev2']], // RFC 9051 §6.3.1
  ['CONDSTORE', ['CONDSTORE']], // RFC 7162 §3.1
  ['QRESYNC', ['QRESYNC', 'CONDSTORE']], // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
  ['UTF8=ACCEPT', ['UTF8=ACCEPT']], // RFC 6855 §3
])

/**
 * ENABLE capability… (RFC 5161 §3.1), in the authenticated state only: RFC 7162 §3.2.3 and
 * RFC 6855 §3 forbid turning QRESYNC and UTF8=ACCEPT on with a mailbox selected. Names it does
 * not know are ignored; "* ENABLED" lists those this command turned on.
 */
export const enable: ImapCommandEntry = {
  states: ['authenticated'],
  async handle(session, { tag, reader }) {
    const names: string[] = []
    do {
      reader.space()
      names.push(reader.keyword())
    } while (!reader.isAtEnd)
    reader.end()
    const turnedOn: Enableable[] = []
    for (const name of names) {
      for (const extension of ENABLEABLE.get(name) ?? []) {
        if (session.enabled.has(extension)) continue
        session.enabled.add(extension)
        turnedOn.push(extension)
      }
    }
    await session.untagged(turnedOn.length === 0 ? 'ENABLED' : `ENABLED ${turnedOn.join(' ')}`)
    await session.tagged(tag, 'OK', 'ENABLE completed')
  },
}
