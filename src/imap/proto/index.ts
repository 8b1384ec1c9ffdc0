export { formatBodyStructure, formatEnvelope, formatEnvelopeAddressList } from './body-structure.ts'
export { CommandReader, ParseError } from './command-reader.ts'
export {
  type FetchItem,
  type FetchPartial,
  type FetchRequest,
  fetchResponseName,
  formatFetchItem,
  parseFetchRequest,
  setsSeen,
} from './fetch-items.ts'
export * from './limits.ts'
export { type LiteralAnnouncement, literalAtLineEnd } from './literal.ts'
export { decodeMailboxName, encodeMailboxName } from './mutf7.ts'
export {
  BadCharsetError,
  MAX_SEARCH_KEY_DEPTH,
  parseSearchRequest,
  type SearchKey,
  type SearchRequest,
  type SearchReturnOption,
} from './search-keys.ts'
export {
  formatSequenceSet,
  MAX_NZ_NUMBER,
  parseSequenceSet,
  resolveSequenceSet,
  type SavedSearchResult,
  type SequenceNumber,
  type SequenceRange,
  type SequenceRanges,
  type SequenceSet,
} from './sequence-set.ts'
export {
  formatSortResponse,
  formatThreadResponse,
  parseSortCriteria,
  parseThreadAlgorithm,
  type SortCriterion,
  type SortKey,
  type ThreadAlgorithm,
  type ThreadNode,
} from './sort-thread.ts'
export { formatHumanString, formatNString, formatString, formatStringList } from './string.ts'
