// src/client: the user's side of the mail model. `postern sendmail` submits a message to any
// submission server and spools it while the server cannot take it; `postern fetch` downloads an
// account over POP3 or IMAP into a local Maildir or mbox.
export {
  ClientConfigError,
  type FetchSettings,
  fetchSettings,
  readClientFile,
  type SubmissionSettings,
} from './config.ts'
export { type FetchOptions, type FetchSummary, MailClientError, runFetch } from './fetch/index.ts'
export type { ClientIo } from './io.ts'
export { runSendmail } from './sendmail/sendmail.ts'
