// What `postern sendmail` and `postern fetch` touch of the process, so tests can run them in
// process. The CLI's CliIo is this type (src/client does not import the CLI, the CLI imports it).
export interface ClientIo {
  out(text: string): void
  error(text: string): void
  env: NodeJS.ProcessEnv
  /** All of standard input, as text (a password piped to `postern user add`). */
  readStdin(): Promise<string>
  /** Standard input as bytes, or null once longer than `maxOctets`. */
  readStdinBytes?(maxOctets: number): Promise<Buffer | null>
  /** Whether standard error is a terminal (a progress bar goes there, never into a pipe). */
  isErrorTerminal?: boolean
}
