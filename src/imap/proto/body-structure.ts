import {
  type AddressListEntry,
  EMPTY_TEXT_PART,
  type Envelope,
  type Mailbox,
  type PartStructure,
} from '../../mime/index.ts'
import { formatHumanString, formatNString, formatString, formatStringList } from './string.ts'

/**
 * ENVELOPE (RFC 9051 §7.5.2): date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to,
 * message-id. Sender and Reply-To that are absent or empty take the value of From, as the RFC
 * tells the server to do.
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-7.5.2
 */
export function formatEnvelope(envelope: Envelope): string {
  const from = formatEnvelopeAddressList(envelope.from)
  const orFrom = (list: AddressListEntry[] | null) => {
    const formatted = formatEnvelopeAddressList(list)
    return formatted === 'NIL' ? from : formatted
  }
  return `(${[
    formatUnfolded(envelope.date),
    envelope.subject === null ? 'NIL' : formatHumanString(envelope.subject),
    from,
    orFrom(envelope.sender),
    orFrom(envelope.replyTo),
    formatEnvelopeAddressList(envelope.to),
    formatEnvelopeAddressList(envelope.cc),
    formatEnvelopeAddressList(envelope.bcc),
    formatUnfolded(envelope.inReplyTo),
    formatUnfolded(envelope.messageId),
  ].join(' ')})`
}

/** A header value with its folds' line breaks removed (RFC 5322 §2.2.3 unfolding). */
function formatUnfolded(value: string | null): string {
  return formatNString(value === null ? null : value.replace(/\r?\n/g, ''))
}

/**
 * An address list; a group is its start marker (NIL NIL "name" NIL), its members, and the end
 * marker (NIL NIL NIL NIL) (RFC 9051 §7.5.2).
 */
export function formatEnvelopeAddressList(list: AddressListEntry[] | null): string {
  if (list === null || list.length === 0) return 'NIL'
  const items: string[] = []
  for (const entry of list) {
    if (entry.kind === 'mailbox') {
      items.push(formatAddress(entry))
    } else {
      items.push(`(NIL NIL ${formatString(entry.name)} NIL)`)
      for (const member of entry.members) items.push(formatAddress(member))
      items.push('(NIL NIL NIL NIL)')
    }
  }
  return `(${items.join('')})`
}

/**
 * address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"   (RFC 9051 §9)
 * A NIL host marks a group (RFC 9051 §7.5.2), so a mailbox without a domain, or without a local
 * part, gets the placeholders Dovecot and Cyrus use, and clients already know.
 */
function formatAddress(mailbox: Mailbox): string {
  const name = mailbox.name === null ? 'NIL' : formatHumanString(mailbox.name)
  const localPart = mailbox.mailbox === '' ? 'MISSING_MAILBOX' : mailbox.mailbox
  const host = mailbox.host === null || mailbox.host === '' ? 'MISSING_DOMAIN' : mailbox.host
  return `(${name} ${formatNString(mailbox.route)} ${formatNString(localPart)} ${formatNString(host)})`
}

/**
 * BODY (isExtended false) or BODYSTRUCTURE (true) of a part tree (RFC 9051 §7.5.2, grammar in
 * §9: body, body-type-1part, body-type-mpart, body-ext-1part, body-ext-mpart).
 * @see https://www.rfc-editor.org/rfc/rfc9051#section-7.5.2
 */
export function formatBodyStructure(part: PartStructure, isExtended: boolean): string {
  if (part.type.toLowerCase() === 'multipart') {
    // A multipart needs at least one body; one without parts is shown with an empty text part.
    const children = (part.parts.length > 0 ? part.parts : [EMPTY_TEXT_PART])
      .map((child) => formatBodyStructure(child, isExtended))
      .join('')
    let result = `(${children} ${formatString(part.subtype)}`
    if (isExtended) {
      // body-ext-mpart = body-fld-param SP body-fld-dsp SP body-fld-lang SP body-fld-loc
      result += ` ${formatParams(part.params)} ${formatDisposition(part)} ${formatStringList(part.language)} ${formatNString(part.location)}`
    }
    return `${result})`
  }
  // body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP body-fld-octets
  let result = `(${formatString(part.type)} ${formatString(part.subtype)} ${formatParams(part.params)} ${formatNString(part.id)} ${formatNString(part.description)} ${formatString(part.encoding)} ${part.size}`
  if (part.message !== null) {
    result += ` ${formatEnvelope(part.message.envelope)} ${formatBodyStructure(part.message.body, isExtended)} ${part.lines ?? 0}`
  } else if (part.lines !== null) {
    result += ` ${part.lines ?? 0}`
  }
  if (isExtended) {
    // body-ext-1part = body-fld-md5 SP body-fld-dsp SP body-fld-lang SP body-fld-loc
    result += ` ${formatNString(part.md5)} ${formatDisposition(part)} ${formatStringList(part.language)} ${formatNString(part.location)}`
  }
  return `${result})`
}

// body-fld-param = "(" string SP string *(SP string SP string) ")" / nil
function formatParams(params: ReadonlyArray<readonly [string, string]>): string {
  if (params.length === 0) return 'NIL'
  return `(${params.map(([name, value]) => `${formatString(name)} ${formatString(value)}`).join(' ')})`
}

// body-fld-dsp = "(" string SP body-fld-param ")" / nil
function formatDisposition(part: PartStructure): string {
  if (part.disposition === null) return 'NIL'
  return `(${formatString(part.disposition.type)} ${formatParams(part.disposition.params)})`
}
