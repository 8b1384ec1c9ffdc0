import { testDatabase } from '../../../test/support/postgres.ts'
import { describeStoreContract } from '../contract/index.ts'
import type { Store } from '../index.ts'
import { openPostgresStore } from './index.ts'

describeStoreContract('postgres', (t) => {
  const url = testDatabase(t)
  const opened: Store[] = []
  t.after(async () => {
    for (const store of opened) await store.close()
  })
  return {
    async open() {
      const store = await openPostgresStore({ url: await url })
      opened.push(store)
      return store
    },
  }
})
