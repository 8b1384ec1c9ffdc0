/** What a command may touch of the process, so the CLI can be run in-process by tests. */
export interface CliIo {
  out(text: string): void
  error(text: string): void
  env: NodeJS.ProcessEnv
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  error: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  env: process.env,
}
