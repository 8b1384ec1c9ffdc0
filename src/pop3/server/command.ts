import type { Pop3Command, Pop3Verb } from '../proto/index.ts'
import type { Pop3Session, Pop3State } from './session.ts'

/** One verb: the states it is valid in (RFC 1939 §§4-6) and its handler. */
export interface Pop3CommandEntry {
  states: readonly Pop3State[]
  handle(session: Pop3Session, command: Pop3Command): Promise<void>
}

export type Pop3CommandTable = Record<Pop3Verb, Pop3CommandEntry>

export const AUTHORIZATION = ['authorization'] as const
export const TRANSACTION = ['transaction'] as const
export const ANY_STATE = ['authorization', 'transaction'] as const
