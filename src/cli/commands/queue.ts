import type { Command } from 'commander'
import {
  NotFoundError,
  type QueueEntry,
  type QueueRecipient,
  type Store,
} from '../../store/index.ts'
import type { CliIo } from '../io.ts'
import { runAdminCommand, UsageError } from './admin.ts'

/** `postern queue list|show|flush|remove`: the outbound queue, running server or not. */
export function queueCommands(program: Command, io: CliIo, done: (code: number) => void): void {
  const queue = program
    .command('queue')
    .description('the outbound queue: messages waiting for other servers to take them')
  queue
    .command('list')
    .description('list queued messages with each recipient, its status, attempts and last reply')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (_directory, store) => {
          let count = 0
          for await (const entry of allEntries(store)) {
            count += 1
            io.out(entryLine(entry))
            for (const recipient of entry.recipients) io.out(`    ${recipientLine(recipient)}`)
          }
          io.out(count === 0 ? 'the queue is empty' : `${count} queued message(s)`)
        }),
      )
    })
  queue
    .command('show <id>')
    .description("show one queued message: its envelope, every recipient's state, its header")
    .option('-c, --config <file>', 'TOML config file')
    .action(async (id: string, options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (_directory, store) => {
          const entry = await store.getQueueEntry(parseId(id))
          if (entry === null) throw new NotFoundError(`Queue entry ${id} does not exist`)
          io.out(
            [
              `id:           ${entry.id}`,
              `arrived:      ${isoTime(entry.createdAt)}`,
              `size:         ${entry.size}`,
              `sender:       <${entry.sender}>`,
              `body:         ${entry.body}${entry.smtputf8 ? ', SMTPUTF8' : ''}`,
              `envid:        ${entry.envelopeId ?? '-'}`,
              `ret:          ${entry.ret ?? '-'}`,
              `submitted by: ${entry.submittedBy === null ? '- (arrived over MX)' : `account ${entry.submittedBy}`}`,
              'recipients:',
              ...entry.recipients.map((r) => `    ${recipientLine(r)}`),
              '',
              (await header(store, entry)).replaceAll('\r\n', '\n').trimEnd(),
            ].join('\n'),
          )
        }),
      )
    })
  queue
    .command('flush [id]')
    .description('make deferred recipients (of one message, or all) due now')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (id: string | undefined, options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (_directory, store) => {
          const count = await store.rescheduleQueue(id === undefined ? undefined : parseId(id))
          io.out(
            `${count} recipient(s) due now; a running server tries them within its [queue] poll_ms`,
          )
        }),
      )
    })
  queue
    .command('remove <id>')
    .description('delete a queued message without delivering it or notifying the sender')
    .option('-c, --config <file>', 'TOML config file')
    .action(async (id: string, options: { config?: string }) => {
      done(
        await runAdminCommand(options, io, async (_directory, store) => {
          await store.removeQueueEntry(parseId(id))
          io.out(`removed queue entry ${id}`)
        }),
      )
    })
}

async function* allEntries(store: Store): AsyncIterable<QueueEntry> {
  let afterId = 0
  for (;;) {
    const page = await store.listQueue({ afterId, limit: 500 })
    yield* page
    const last = page.at(-1)
    if (last === undefined) return
    afterId = last.id
  }
}

function parseId(text: string): number {
  if (!/^[1-9]\d{0,15}$/.test(text)) throw new UsageError(`"${text}" is not a queue id`)
  return Number(text)
}

function isoTime(date: Date | null): string {
  return date === null ? '-' : date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function entryLine(entry: QueueEntry): string {
  return `${entry.id}\t${isoTime(entry.createdAt)}\t${entry.size}\t<${entry.sender}>`
}

function recipientLine(r: QueueRecipient): string {
  const next =
    r.status === 'pending' || r.status === 'deferred' ? `next ${isoTime(r.nextAttemptAt)}` : ''
  return [`<${r.address}>`, r.status, `attempts ${r.attempts}`, next, r.lastReply ?? '']
    .filter((part) => part !== '')
    .join('\t')
}

/** The message's header section, as queued (at most 64 KiB of it). */
async function header(store: Store, entry: QueueEntry): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of store.readMessage(entry.blobId, 0, Math.min(entry.size, 65_536))) {
    chunks.push(chunk)
    size += chunk.length
  }
  const text = Buffer.concat(chunks, size).toString('utf8')
  const end = text.indexOf('\r\n\r\n')
  return end < 0 ? text : text.slice(0, end + 2)
}
