import type { ListenerName } from '../config/index.ts'

/** The protocol families a listener can speak. Submission on 587 and 465 is one protocol. */
export type ProtocolName = 'smtp' | 'submission' | 'imap' | 'pop3' | 'admin'

/**
 * Which protocol each configured listener runs and whether TLS starts at once.
 * 'none' listeners offer STARTTLS/STLS where their protocol has it.
 */
export const LISTENERS: Record<ListenerName, { protocol: ProtocolName; tls: 'none' | 'implicit' }> =
  {
    smtp: { protocol: 'smtp', tls: 'none' }, // RFC 5321, STARTTLS per RFC 3207
    submission: { protocol: 'submission', tls: 'none' }, // RFC 6409 on 587, STARTTLS
    submissions: { protocol: 'submission', tls: 'implicit' }, // RFC 8314 §3.3 on 465
    imap: { protocol: 'imap', tls: 'none' }, // RFC 9051, STARTTLS
    imaps: { protocol: 'imap', tls: 'implicit' }, // RFC 8314 §3.3 on 993
    pop3: { protocol: 'pop3', tls: 'none' }, // RFC 1939, STLS per RFC 2595
    pop3s: { protocol: 'pop3', tls: 'implicit' }, // RFC 8314 §3.3 on 995
    admin: { protocol: 'admin', tls: 'none' },
  }
