export { formatHostPort, type HostPort, parseHostPort } from './address.ts'
export { ConfigError } from './config-error.ts'
export {
  DEFAULT_AUTH,
  DEFAULT_IMAP,
  DEFAULT_LISTEN,
  DEFAULT_POP3,
  DEFAULT_QUEUE,
  DEFAULT_RELAY,
  DEFAULT_SMTP,
  LISTENER_NAMES,
  type ListenerName,
} from './defaults.ts'
export { type LoadConfigOptions, loadConfig } from './load.ts'
export type {
  Config,
  ImapConfig,
  LogLevel,
  MailauthConfig,
  MailauthPolicy,
  MtaStsConfig,
  Pop3Config,
  QueueConfig,
  RelayConfig,
  SmtpConfig,
} from './schema.ts'
