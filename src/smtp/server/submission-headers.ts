import type { Directory } from '../../directory/index.ts'
import {
  addressOf,
  firstField,
  formatDate,
  generateMessageId,
  parseAddressList,
  splitHeaderFields,
  unfoldedFieldValue,
} from '../../mime/index.ts'
import type { Account } from '../../store/index.ts'
import { type Reply, reply } from '../proto/index.ts'

/** Header fields looked at, and octets of header read, for the checks below. */
const MAX_HEADER_FIELDS = 1000
const MAX_HEADER_OCTETS = 1024 * 1024

/**
 * What submission does to a message before it is accepted (RFC 6409 §8): every From address must
 * be the user's (else 550 5.7.1, so a stolen password cannot forge someone else's mail), and a
 * missing Date or Message-ID is added (RFC 6409 §8.2, §8.3). Returns the header text to put in
 * front of the message and the author's domain, or the reply that refuses it.
 */
export async function checkSubmission(
  message: Buffer,
  login: Account,
  directory: Directory,
  hostname: string,
): Promise<{ added: string; fromDomain: string } | Reply> {
  const header = splitHeaderFields(message, 0, message.length, MAX_HEADER_FIELDS, MAX_HEADER_OCTETS)
  // A From past the bounds would go unchecked, so a header that long is refused outright.
  if (header.isTruncated) {
    return reply(552, '5.6.0', `The header is longer than ${MAX_HEADER_FIELDS} fields or 1 MiB`)
  }
  const froms = header.fields.filter((field) => field.lowerName === 'from')
  const from = froms[0]
  if (from === undefined) {
    return reply(550, '5.6.0', 'The message has no From header (RFC 5322 section 3.6.2)')
  }
  // RFC 5322 §3.6: exactly one From; a second one could name someone else unchecked.
  if (froms.length > 1) {
    return reply(550, '5.6.0', 'The message has more than one From header (RFC 5322 section 3.6)')
  }
  const fromText = Buffer.from(unfoldedFieldValue(message, from), 'latin1').toString('utf8')
  const addresses = parseAddressList(fromText).flatMap((entry) =>
    entry.kind === 'mailbox' ? [entry] : entry.members,
  )
  if (addresses.length === 0) {
    return reply(550, '5.6.0', 'The From header has no address')
  }
  for (const mailbox of addresses) {
    const address = addressOf(mailbox)
    if (!(await directory.ownsAddress(login, address))) {
      return reply(550, '5.7.1', `From address <${address}> is not owned by ${login.address}`)
    }
  }
  // The domain DKIM signs for: the author's (RFC 7489 §3.1 alignment is with From).
  const fromDomain = (addresses[0]?.host ?? '').toLowerCase()
  let added = ''
  if (firstField(header.fields, 'date') === undefined) {
    added += `Date: ${formatDate(new Date())}\r\n`
  }
  if (firstField(header.fields, 'message-id') === undefined) {
    added += `Message-ID: ${generateMessageId(hostname)}\r\n`
  }
  return { added, fromDomain }
}
