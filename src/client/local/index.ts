// Local mail files for the user's side: durable writes, a Maildir and mbox files that
// `postern fetch` delivers into, and the private directories `postern sendmail` spools in.
export { ensurePrivateDirectory, fsyncDirectory, writeFileDurably } from './atomic-file.ts'
export { crlfToLf, Maildir } from './maildir.ts'
export { appendToMbox, type MboxAppendOptions } from './mbox.ts'
