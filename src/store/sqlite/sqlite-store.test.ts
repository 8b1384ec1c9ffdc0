import { makeTempDir } from '../../../test/support/temp-dir.ts'
import { describeStoreContract } from '../contract/index.ts'
import type { Store } from '../index.ts'
import { openSqliteStore } from './index.ts'

describeStoreContract('sqlite', (t) => {
  const dataDir = makeTempDir(t)
  const opened: Store[] = []
  t.after(async () => {
    for (const store of opened) await store.close()
  })
  return {
    async open() {
      const store = await openSqliteStore({ dataDir, pollIntervalMs: 20 })
      opened.push(store)
      return store
    },
  }
})
