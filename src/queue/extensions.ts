// What a message needs of the next hop beyond plain SMTP (RFC 6531 SMTPUTF8, RFC 3030
// BINARYMIME), checked against what the host announced: a need it cannot meet bounces.
import type { SmtpCapabilities } from '../smtp/client/index.ts'
import type { QueueEntry, QueueRecipient } from '../store/index.ts'
import type { RelayJob } from './relay.ts'

/** What the peer lacks that this message needs; such a message bounces (it cannot ever go). */
export function checkExtensions(
  entry: QueueEntry,
  needsUtf8: boolean,
  capabilities: SmtpCapabilities,
  remote: string,
): { status: string; reply: string } | null {
  if (needsUtf8) {
    // RFC 6531 §3.4: an SMTPUTF8 message is not sent to a server that lacks it.
    return {
      status: '5.6.7',
      reply: `${remote} does not support SMTPUTF8, which the message needs`,
    }
  }
  if (entry.body === 'binarymime' && !(capabilities.binaryMime && capabilities.chunking)) {
    return { status: '5.6.3', reply: `${remote} does not accept binary data (no BINARYMIME)` }
  }
  return null
}

/** Whether the envelope or the header section holds non-ASCII (the body is 8BITMIME's business). */
export async function needsSmtputf8(
  entry: QueueEntry,
  recipients: readonly QueueRecipient[],
  job: RelayJob,
): Promise<boolean> {
  const isAscii = (text: string) => [...text].every((c) => c.charCodeAt(0) < 0x80)
  if (!isAscii(entry.sender) || recipients.some((r) => !isAscii(r.address))) return true
  const parts: Buffer[] = []
  let size = 0
  for await (const chunk of job.read()) {
    parts.push(chunk)
    size += chunk.length
    const seen = Buffer.concat(parts, size)
    const end = seen.indexOf('\r\n\r\n')
    const head = end < 0 ? seen : seen.subarray(0, end)
    if (head.some((octet) => octet > 0x7f)) return true
    if (end >= 0) return false
  }
  return false
}
