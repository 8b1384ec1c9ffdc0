import { BadCharsetError, parseSearchRequest } from '../../proto/index.ts'
import { type ImapCommand, type ImapCommandEntry, SELECTED } from '../command.ts'
import { matchingMessages } from '../search.ts'
import { formatEsearchResponse, formatSearchResponse, uidsToSave } from '../search-eval.ts'
import type { ImapSession } from '../session.ts'

/** SEARCH (RFC 9051 §6.4.4); UID SEARCH goes through uid.ts. */
export const search: ImapCommandEntry = {
  states: SELECTED,
  handle: (session, command) => runSearch(session, command, false),
}

/** The charsets SEARCH understands, for BADCHARSET (RFC 9051 §6.4.4 requires both). */
export const BADCHARSET = 'NO [BADCHARSET (UTF-8 US-ASCII)] Unknown charset'

/**
 * SEARCH [RETURN (…)] [CHARSET c] keys. An IMAP4rev1 client gets "* SEARCH …" unless it asked
 * for ESEARCH with RETURN (RFC 4731 §3.1); IMAP4rev2 has only ESEARCH (RFC 9051 §7.3.4), ALL
 * by default. RETURN (SAVE) keeps the result as "$" (RFC 5182).
 */
export async function runSearch(
  session: ImapSession,
  command: ImapCommand,
  isUid: boolean,
): Promise<void> {
  const { tag, reader } = command
  let request: ReturnType<typeof parseSearchRequest>
  try {
    request = parseSearchRequest(reader, { utf8Enabled: session.utf8 })
  } catch (error) {
    if (!(error instanceof BadCharsetError)) throw error
    await session.tagged(tag, 'NO', BADCHARSET.slice(3))
    return
  }
  const matches = await matchingMessages(session, request)
  const options = request.returnOptions ?? (session.isRev2 ? new Set<never>() : null)
  if (options === null) {
    await session.untagged(formatSearchResponse(isUid, matches, request.key))
  } else {
    if (options.has('SAVE')) session.savedSearch = uidsToSave(options, matches)
    const response = formatEsearchResponse(tag, isUid, options, matches, request.key)
    if (response !== null) await session.untagged(response)
  }
  await session.tagged(tag, 'OK', `${isUid ? 'UID SEARCH' : 'SEARCH'} completed`)
}
