/** What a command may touch of the process, so the CLI can be run in-process by tests. */
export interface CliIo {
  out(text: string): void
  error(text: string): void
  env: NodeJS.ProcessEnv
  /** All of standard input, as text (a password piped to `postern user add`). */
  readStdin(): Promise<string>
  /**
   * Standard input as bytes (a message for `postern sendmail`), or null once it is longer than
   * `maxOctets` (reading stops there).
   */
  readStdinBytes?(maxOctets: number): Promise<Buffer | null>
  /** Whether standard error is a terminal (progress bars go there, never into a pipe). */
  isErrorTerminal?: boolean
}

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
