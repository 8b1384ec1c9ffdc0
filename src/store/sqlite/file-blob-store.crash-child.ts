// Child of the crash test: stores blobs as fast as it can and appends "id seed" to the log only
// after put() resolved, until the parent kills it with SIGKILL.
import { appendFileSync } from 'node:fs'
import { openFileBlobStore } from './file-blob-store.ts'

const [root = '', log = '', run = '0'] = process.argv.slice(2)
const store = await openFileBlobStore(root)
process.stdout.write('ready\n')
for (let n = 0; ; n += 1) {
  const seed = `${run}-${n}`
  const size = 1000 + ((n * 7919) % 200_000)
  const bytes = Buffer.alloc(size, seed)
  const { id } = await store.put(bytes)
  appendFileSync(log, `${id} ${seed}\n`)
}
