import { InvalidNameError } from './errors.ts'
import { MAX_KEYWORDS_PER_MESSAGE } from './limits.ts'
import type { FlagAction } from './types.ts'

export interface StoredFlags {
  mask: number
  keywords: string[]
}

/**
 * A message's flags after a STORE, or null when the STORE changes nothing (then its MODSEQ must
 * not move: RFC 7162 §3.1). Keywords compare case-insensitively and keep the case first set.
 * @throws InvalidNameError when the message would pass MAX_KEYWORDS_PER_MESSAGE.
 */
export function applyFlags(
  current: StoredFlags,
  action: FlagAction,
  given: StoredFlags,
): StoredFlags | null {
  const next = changedFlags(current, action, given)
  const isSame =
    next.mask === current.mask &&
    next.keywords.length === current.keywords.length &&
    next.keywords.every((keyword, index) => keyword === current.keywords[index])
  if (isSame) return null
  if (next.keywords.length > MAX_KEYWORDS_PER_MESSAGE) {
    throw new InvalidNameError(
      `A message cannot have more than ${MAX_KEYWORDS_PER_MESSAGE} keywords`,
    )
  }
  return next
}

function changedFlags(current: StoredFlags, action: FlagAction, given: StoredFlags): StoredFlags {
  if (action === 'replace') return given
  if (action === 'remove') {
    const lower = new Set(given.keywords.map((keyword) => keyword.toLowerCase()))
    return {
      mask: current.mask & ~given.mask,
      keywords: current.keywords.filter((keyword) => !lower.has(keyword.toLowerCase())),
    }
  }
  const present = new Set(current.keywords.map((keyword) => keyword.toLowerCase()))
  return {
    mask: current.mask | given.mask,
    keywords: current.keywords.concat(
      given.keywords.filter((keyword) => !present.has(keyword.toLowerCase())),
    ),
  }
}
