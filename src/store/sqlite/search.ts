import {
  normalizeRanges,
  queryTrigrams,
  type TextQuery,
  textMatches,
  type UidRanges,
} from '../index.ts'
import type { Connection } from './connection.ts'

/**
 * An FTS5 query that finds every row that can match `query`, and perhaps more: the rows that
 * hold each of its trigrams in the right column. The index keeps no positions (detail=column,
 * about half the size of a full index), so it cannot check that the trigrams are adjacent;
 * searchText checks each candidate.
 */
function ftsTerm(query: TextQuery): string | null {
  const trigrams = queryTrigrams(query.value)
  if (trigrams.length === 0) return null
  const terms = trigrams.map((trigram) => `"${trigram.replaceAll('"', '""')}"`).join(' AND ')
  if (query.field === 'body') return `body : (${terms})`
  if (query.field === 'text') return `{headers body} : (${terms})`
  return `headers : (${terms})`
}

/**
 * The UIDs whose text matches every query. The trigram index (which folds Unicode case) finds
 * the candidates; each candidate is then checked here, where a header query also has to match
 * inside the named field, so the result is exact: IMAP SEARCH is a case-insensitive substring
 * match (RFC 9051 §6.4.4). Queries shorter than a trigram are checked on every message.
 */
export function searchText(
  c: Connection,
  mailboxId: number,
  queries: readonly TextQuery[],
  ranges: UidRanges | undefined,
): number[] {
  const limits: Array<[number, number]> =
    ranges === undefined ? [[1, Number.MAX_SAFE_INTEGER]] : normalizeRanges(ranges)
  const terms = queries.map(ftsTerm).filter((term) => term !== null)
  const select = `SELECT m.uid, t.headers, t.body FROM messages m
    JOIN blob_text t ON t.rowid = m.blob
    WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?`
  // Text not indexed yet is a candidate whatever the query; the check below decides.
  const pending = c.hasTable('blob_text_pending')
    ? `UNION ALL SELECT m.uid, p.headers, p.body FROM messages m
       JOIN blob_text_pending p ON p.id = m.blob
       WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?`
    : ''
  const pendingParams = (low: number, high: number) =>
    pending === '' ? [] : [mailboxId, low, high]
  return c.read(() => {
    const uids: number[] = []
    for (const [low, high] of limits) {
      const rows =
        terms.length === 0
          ? c.all(
              `${select} ${pending} ORDER BY 1`,
              mailboxId,
              low,
              high,
              ...pendingParams(low, high),
            )
          : c.all(
              `${select} AND m.blob IN (SELECT rowid FROM blob_text WHERE blob_text MATCH ?)
               ${pending} ORDER BY 1`,
              mailboxId,
              low,
              high,
              terms.join(' AND '),
              ...pendingParams(low, high),
            )
      for (const row of rows) {
        const headers = String(row.headers)
        const body = String(row.body)
        if (queries.every((query) => textMatches(headers, body, query))) uids.push(Number(row.uid))
      }
    }
    return uids
  })
}
