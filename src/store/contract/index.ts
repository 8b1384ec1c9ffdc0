// The conformance suite every Store backend must pass, unchanged (after Hono's shared adapter
// tests): a backend's test file calls describeStoreContract with a way to open its store.
import { describe, type TestContext } from 'node:test'
import type { Store } from '../index.ts'
import { directoryContract } from './directory.ts'
import { feedContract } from './feed.ts'
import { limitContract } from './limits.ts'
import { mailboxContract } from './mailboxes.ts'
import { messageContract } from './messages.ts'
import { pop3Contract } from './pop3.ts'
import { queueContract } from './queue.ts'
import { queueClaimContract } from './queue-claims.ts'

/**
 * Opens a store for one test. Calling `open` again in the same test opens the same data (a
 * restart); the backend closes what it opened when the test ends.
 */
export type OpenStore = (t: TestContext) => { open(): Promise<Store> }

export function describeStoreContract(name: string, backend: OpenStore): void {
  describe(`Store contract: ${name}`, () => {
    describe('directory data', () => directoryContract(backend))
    describe('mailboxes', () => mailboxContract(backend))
    describe('messages', () => messageContract(backend))
    describe('outbound queue', () => queueContract(backend))
    describe('outbound queue claims', () => queueClaimContract(backend))
    describe('change feed', () => feedContract(backend))
    describe('limits', () => limitContract(backend))
    describe('POP3', () => pop3Contract(backend))
  })
}
