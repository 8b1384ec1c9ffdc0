import type { ClientIo } from '../client/index.ts'

/**
 * What a command may touch of the process, so the CLI can be run in-process by tests: the
 * shape `postern sendmail` and `postern fetch` take (src/client), which every command shares.
 */
export type CliIo = ClientIo

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  error: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  env: process.env,
  async readStdin() {
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  },
  async readStdinBytes(maxOctets) {
    const chunks: Buffer[] = []
    let total = 0
    for await (const chunk of process.stdin) {
      total += (chunk as Buffer).length
      if (total > maxOctets) {
        process.stdin.destroy()
        return null
      }
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks)
  },
  isErrorTerminal: process.stderr.isTTY === true,
}
