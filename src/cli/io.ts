/** What a command may touch of the process, so the CLI can be run in-process by tests. */
export interface CliIo {
  out(text: string): void
  error(text: string): void
  env: NodeJS.ProcessEnv
  /** All of standard input, as text (a password piped to `postern user add`). */
  readStdin(): Promise<string>
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
}
