import type { TextQuery } from './types.ts'

/** A trigram index (SQLite FTS5 trigram, PostgreSQL pg_trgm) looks up 3-character runs. */
const TRIGRAM_CHARS = 3

/** Enough trigrams to narrow the candidates well; more only cost index lookups. */
const MAX_QUERY_TRIGRAMS = 12

/**
 * Distinct trigrams of a search value, at most MAX_QUERY_TRIGRAMS, none holding NUL (which no
 * index query can carry); empty when the value is too short to look up.
 */
export function queryTrigrams(value: string): string[] {
  const chars = [...value]
  const trigrams = new Set<string>()
  for (let i = 0; i + TRIGRAM_CHARS <= chars.length; i += 1) {
    const trigram = chars.slice(i, i + TRIGRAM_CHARS).join('')
    if (!trigram.includes('\u0000')) trigrams.add(trigram)
  }
  return [...trigrams].slice(0, MAX_QUERY_TRIGRAMS)
}

/**
 * Whether stored search text matches a query exactly: a case-insensitive substring (RFC 9051
 * §6.4.4) of the body, of header and body ("text"), or of the named header field's value.
 * `headers` holds one "name: value" line per field (describeMessage). Index lookups only find
 * candidates; this is the check that decides.
 */
export function textMatches(headers: string, body: string, query: TextQuery): boolean {
  const needle = query.value.toLowerCase()
  if (query.field === 'body') return body.toLowerCase().includes(needle)
  if (query.field === 'text') {
    return headers.toLowerCase().includes(needle) || body.toLowerCase().includes(needle)
  }
  const prefix = `${query.field.toLowerCase()}: `
  return headers
    .split('\n')
    .some(
      (line) => line.startsWith(prefix) && line.slice(prefix.length).toLowerCase().includes(needle),
    )
}
