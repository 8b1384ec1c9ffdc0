/**
 * A message's UIDL (RFC 1939 §7, RFC 2449 §6.6): the mailbox's UIDVALIDITY and the message's
 * UID, both of which the store never reuses together, so the value is unique in the maildrop and
 * never changes: a client that leaves mail on the server never fetches a message twice, whether
 * it reads over POP3 or IMAP in between. Digits and one dot: well inside 0x21-0x7E and 70 octets.
 */
export function uniqueId(uidValidity: number, uid: number): string {
  return `${uidValidity}.${uid}`
}
