// Issue 11's crash torture: a real `postern serve` under mixed load (submission with local and
// remote recipients, MX inbound, IMAP APPEND/STORE/EXPUNGE, POP3 RETR/DELE/QUIT, big messages
// among them) is SIGKILLed at random moments, now and then again while it recovers, and
// restarted on the same data dir each time. The clients check what they read as they go; after
// the last restart, with the load stopped and the queue drained, the store and the remote MX are
// checked against what the clients were told:
//
// - every copy acknowledged (250 at the end of data, OK [APPENDUID]) or seen by a reader is
//   stored exactly once, unless an acknowledged UID EXPUNGE or DELE+QUIT removed it; one whose
//   removal was sent without an answer is there at most once; nothing is stored twice, nothing
//   is stored that was never sent there;
// - remote recipients got every acknowledged message. A second copy is allowed only inside the
//   at-least-once window README "Outbound queue and relay" promises (RFC 5321 §6.1 prefers a
//   duplicate to a loss): the run that sent the first copy died before it recorded the
//   delivery, which a copy of the database taken right after each kill shows; no run of the
//   server sends one copy twice;
// - no message is half visible: each stored message reads back at its recorded size, parses,
//   has its metadata, and is byte for byte what was sent (trace fields aside);
// - UIDs never went backwards: UIDVALIDITY never changed, each APPENDUID and UIDNEXT is above
//   every UID seen before it was asked for, a message keeps its UID and no UID names two
//   messages; flags an acknowledged STORE or APPEND set stay set;
// - the queue is empty, every start succeeded, the last run stops cleanly, no run wrote to
//   stderr or logged a fatal error, and no client met a refusal or a failure while no kill was
//   under way.
//
// Sizes come from support/settings.ts; the seed is printed (POSTERN_TORTURE_SEED replays the
// choices, though not the timing).

import assert from 'node:assert/strict'
import { closeSync, copyFileSync, existsSync, openSync, readSync, rmSync } from 'node:fs'
import path from 'node:path'
import { type TestContext, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { simpleParser } from 'mailparser'
import { type Config, loadConfig } from '../../src/config/index.ts'
import { openStore } from '../../src/server/index.ts'
import type { Store } from '../../src/store/index.ts'
import { silentLogger } from '../../src/util/index.ts'
import { startDnsServer } from '../support/dns-server.ts'
import { startFakeSmtp } from '../support/fake-smtp.ts'
import { getFreePorts } from '../support/free-port.ts'
import { type PosternProcess, runPostern, startPostern } from '../support/postern-process.ts'
import { makeTempDir } from '../support/temp-dir.ts'
import { TORTURE_FORM, TORTURE_SEED, tortureCount } from './support/settings.ts'
import {
  between,
  digest,
  Ledger,
  MessageFactory,
  mailboxKey,
  makeRandom,
  remoteKey,
  tortureIdOf,
  withoutTrace,
} from './support/traffic.ts'
import {
  ACCOUNTS,
  addTortureAccounts,
  bigSender,
  DEFERRED,
  imapWorker,
  type LiveServer,
  type Load,
  mxSender,
  pop3Worker,
  REMOTE_ZONE,
  submitter,
  tortureToml,
} from './support/traffic-clients.ts'

const KILLS = tortureCount(20, 100)
/** How long the load runs between a restart and the next kill, at most. */
const MAX_RUN_MS = tortureCount(2500, 8000)
const BIG_SIZES = [tortureCount(1, 2) * 1024 * 1024, tortureCount(3, 8) * 1024 * 1024] as const
const TIMEOUT_MS = tortureCount(180_000, KILLS * (MAX_RUN_MS + 15_000) + 300_000)

test('crash: SIGKILL under mixed load loses no acknowledged message, duplicates none, shows none half', {
  timeout: TIMEOUT_MS,
}, async (t) => {
  const started = Date.now()
  t.diagnostic(
    `seed ${TORTURE_SEED} (POSTERN_TORTURE_SEED=${TORTURE_SEED}), ${TORTURE_FORM} form, ${KILLS} kills`,
  )
  const random = makeRandom(TORTURE_SEED)
  const ledger = new Ledger(TORTURE_SEED)

  // The remote MX: records every transaction (with the time it arrived) and defers a third
  // of the RCPTs for one address, so that retries are part of the load.
  const [relayPort = 0] = await getFreePorts(1)
  const arrivals: number[] = []
  const remote = await startFakeSmtp(t, {
    host: '127.0.0.1',
    port: relayPort,
    onRcpt: (address, attempt) =>
      address.toLowerCase() === DEFERRED && attempt % 3 === 1
        ? '451 4.2.0 Try again later'
        : '250 2.1.5 Ok',
    onData: () => {
      arrivals.push(Date.now())
      return '250 2.0.0 Ok: queued'
    },
  })
  const dns = await startDnsServer(t, REMOTE_ZONE)
  const extraToml = tortureToml(dns.port, relayPort, ['retry_min_ms = 1000', 'retry_max_ms = 2000'])

  let server = await startPostern(t, { extraToml })
  const { dir, configPath } = server
  const config = loadConfig({ path: configPath })
  await addTortureAccounts(config)

  // Which server is up; clients wait for the next one while it restarts.
  const spawnedAt: number[] = [started]
  /** When each kill came; kill n ended run n + 1 (runs counted from 1). */
  const killedAt: number[] = []
  /** Per kill: the remote copies the queue had not recorded as delivered when it died. */
  const unrecorded: Array<Set<string>> = []
  let snapshotMs = 0
  let generation = 1
  let live: LiveServer | null = { generation, ports: server.ports }
  let isStopped = false
  const waiting: Array<() => void> = []
  const wake = () => {
    for (const resume of waiting.splice(0)) resume()
  }
  const load: Load = {
    t,
    ledger,
    random,
    factory: new MessageFactory(random),
    async server() {
      while (!isStopped && live === null) await new Promise<void>((resume) => waiting.push(resume))
      return isStopped ? null : live
    },
    isUp: (g) => live !== null && live.generation === g,
    isStopped: () => isStopped,
    big: { inFlight: 0 },
    sizes: { big: BIG_SIZES },
    twins: [],
  }
  const clients = [
    submitter(load),
    submitter(load),
    mxSender(load),
    mxSender(load),
    imapWorker(load),
    imapWorker(load),
    pop3Worker(load),
    bigSender(load),
  ]

  const instances: PosternProcess[] = [server]
  /** SIGKILL, then what the dead server's queue had not recorded, then a fresh start. */
  const killAndStart = async (waitForReady: boolean) => {
    killedAt.push(Date.now())
    const ended = await server.stop('SIGKILL')
    assert.equal(
      ended.signal,
      'SIGKILL',
      `run ${instances.length} ended by itself (exit ${ended.code}) before the kill:\n${server.stderr()}`,
    )
    // Whatever the dead server had sent reaches the fake MX before the next one starts.
    await sleep(50)
    const snapshotStarted = Date.now()
    unrecorded.push(await unrecordedAtKill(t, config, server.dataDir))
    snapshotMs += Date.now() - snapshotStarted
    spawnedAt.push(Date.now())
    server = await startPostern(t, { dir, extraToml, waitForReady })
    instances.push(server)
  }
  let killsDuringBig = 0
  let killsDuringStartup = 0
  for (let kill = 0; kill < KILLS; kill += 1) {
    await sleep(between(random, 200, MAX_RUN_MS))
    if (kill % 3 === 2) {
      // Every third kill waits for a big message on the wire, then lands in it.
      const until = Date.now() + 5000
      while (load.big.inFlight === 0 && Date.now() < until) await sleep(20)
      await sleep(between(random, 0, 300))
    }
    if (load.big.inFlight > 0) killsDuringBig += 1
    live = null
    if (kill % 4 === 3) {
      // Now and then the restarted server is killed again while it recovers: after its store
      // opened, while it binds its listeners and its queue takes back the dead run's work.
      await killAndStart(false)
      await server.waitForLog('store opened')
      await sleep(between(random, 0, 250))
      killsDuringStartup += 1
    }
    await killAndStart(true)
    generation += 1
    live = { generation, ports: server.ports }
    wake()
  }
  await sleep(between(random, 1000, 2500))
  isStopped = true
  wake()
  await bounded(Promise.all(clients), 90_000, 'the clients to finish')
  const loadEnded = Date.now()

  // The queue drains: every remote copy reaches the fake MX, retries included.
  let queue = ''
  for (let i = 0; ; i += 1) {
    queue = (await runPostern(['queue', 'list', '--config', configPath])).stdout
    if (queue.includes('the queue is empty')) break
    assert.ok(i < 120, `the queue did not drain:\n${queue}`)
    await sleep(500)
  }
  const drained = Date.now()
  const stopped = await server.stop('SIGTERM')
  assert.equal(stopped.code, 0, `the last run stops cleanly:\n${server.stderr()}`)

  for (const [i, instance] of instances.entries()) {
    assert.equal(instance.stderr(), '', `run ${i + 1} wrote to stderr`)
    const fatal = instance.logs.filter((line) => line.level === 'fatal')
    assert.deepEqual(fatal, [], `run ${i + 1} logged a fatal error`)
  }
  const errors = instances.flatMap((instance) =>
    instance.logs.filter((line) => line.level === 'error'),
  )

  const problems = [...ledger.violations]
  const store = await openStore(config, silentLogger, { isShortLived: true })
  try {
    assert.deepEqual(await store.listQueue(), [], 'the queue is empty')
    problems.push(...(await checkMailboxes(store, ledger)))
  } finally {
    await store.close()
  }
  problems.push(
    ...checkRemote(ledger, remote.transactions, arrivals, spawnedAt, unrecorded, killedAt),
  )
  problems.push(...checkCopies(ledger))

  const counts = Object.fromEntries(ledger.counts)
  t.diagnostic(
    `${KILLS} kills under load (${killsDuringBig} during a big message) and ${killsDuringStartup} during recovery, load ${Math.round((loadEnded - started) / 1000)} s, ` +
      `queue drained in ${Math.round((drained - loadEnded) / 1000)} s, ${Math.round((Date.now() - started) / 1000)} s in all`,
  )
  t.diagnostic(`counts ${JSON.stringify(counts)}`)
  t.diagnostic(`crash images read in ${snapshotMs} ms in all`)
  t.diagnostic(
    `remote MX: ${remote.transactions.length} transactions; ${errors.length} error lines logged by the servers`,
  )
  for (const line of errors.slice(0, 10)) t.diagnostic(`server error: ${JSON.stringify(line)}`)

  assert.deepEqual(problems, [], `${problems.length} broken promises`)
  // A refusal or a failed session while no kill was under way is a defect too.
  assert.deepEqual(ledger.anomalies, [], 'failures while the server was up')
  assert.ok((counts['acknowledged submissions'] ?? 0) > KILLS, 'submissions kept going')
  assert.ok((counts['acknowledged MX messages'] ?? 0) > KILLS, 'MX deliveries kept going')
  assert.ok((counts['acknowledged APPENDs'] ?? 0) > KILLS, 'APPENDs kept going')
  assert.ok((counts['IMAP mailbox checks'] ?? 0) > KILLS, 'IMAP sessions kept going')
  assert.ok((counts['POP3 maildrop checks'] ?? 0) > 0, 'POP3 sessions kept going')
  assert.ok(killsDuringBig > 0, 'some kills landed during a big message')
})

/**
 * What the queue of a killed server had not recorded as delivered: the copies a restart may
 * send again. Read from a copy of the database (the dead server's image, WAL included), so that
 * recovering from the crash is left to the next start; message files are read in place.
 */
async function unrecordedAtKill(
  t: TestContext,
  config: Config,
  dataDir: string,
): Promise<Set<string>> {
  const image = makeTempDir(t, 'postern-crash-image-')
  for (const name of ['store.sqlite', 'store.sqlite-wal']) {
    if (existsSync(path.join(dataDir, name))) {
      copyFileSync(path.join(dataDir, name), path.join(image, name))
    }
  }
  const unrecorded = new Set<string>()
  const store = await openStore({ ...config, dataDir: image }, silentLogger, {
    isShortLived: true,
  })
  try {
    for (let afterId = 0; ; ) {
      const entries = await store.listQueue({ afterId, limit: 1000 })
      if (entries.length === 0) break
      for (const entry of entries) {
        afterId = entry.id
        const id = tortureIdOf(
          readHead(path.join(dataDir, 'blobs', entry.blobId.slice(0, 2), entry.blobId)),
        )
        for (const recipient of entry.recipients) {
          if (recipient.status === 'pending' || recipient.status === 'deferred') {
            unrecorded.add(`${id} ${remoteKey(recipient.address)}`)
          }
        }
      }
    }
  } finally {
    await store.close()
    rmSync(image, { recursive: true, force: true })
  }
  return unrecorded
}

/** The first 64 KiB of a file: the header of a queued message, trace fields included. */
function readHead(file: string): Buffer {
  const fd = openSync(file, 'r')
  try {
    const buffer = Buffer.alloc(64 * 1024)
    return buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0))
  } finally {
    closeSync(fd)
  }
}

async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Every message in every mailbox: whole, parsed, sent there, with the UID and flags it had. */
async function checkMailboxes(store: Store, ledger: Ledger): Promise<string[]> {
  const problems: string[] = []
  const found = new Map<string, number>()
  for (const address of ACCOUNTS) {
    const account = await store.getAccount(address)
    if (account === null) {
      problems.push(`no account ${address}`)
      continue
    }
    for (const mailbox of await store.listMailboxes(account.id)) {
      const key = mailboxKey(address, mailbox.name)
      const status = await store.getMailboxStatus(mailbox.id)
      const view = ledger.mailboxes.get(key)
      if (view?.uidValidity != null && view.uidValidity !== status.uidValidity) {
        problems.push(`${key}: UIDVALIDITY ${status.uidValidity}, clients saw ${view.uidValidity}`)
      }
      if (view !== undefined && status.uidNext <= view.highest) {
        problems.push(`${key}: UIDNEXT ${status.uidNext}, but UID ${view.highest} was seen`)
      }
      for (const record of await store.getMessages(mailbox.id, [[1, 2 ** 32 - 1]])) {
        const where = `${key} UID ${record.uid}`
        const chunks: Buffer[] = []
        for await (const chunk of store.readMessage(record.blobId)) chunks.push(chunk)
        const bytes = Buffer.concat(chunks)
        if (bytes.length !== record.size) {
          problems.push(`${where}: ${bytes.length} octets, recorded as ${record.size}`)
        }
        const id = tortureIdOf(bytes)
        const sent = id === null ? undefined : ledger.messages.get(id)
        if (id === null || sent === undefined) {
          problems.push(
            `${where}: not a message the load sent: ${bytes.subarray(0, 200).toString('latin1')}`,
          )
          continue
        }
        const body = withoutTrace(bytes)
        if (body.length !== sent.size || digest(body) !== sent.digest) {
          problems.push(`${where}: ${id} is ${body.length} octets, not the ${sent.size} sent`)
        }
        try {
          await store.getMetadata(record.blobId)
          const parsed = await simpleParser(bytes)
          if (parsed.headers.get('x-torture-id') !== id)
            problems.push(`${where}: ${id} parses badly`)
        } catch (error) {
          problems.push(`${where}: ${id} does not parse: ${String(error)}`)
        }
        found.set(`${id} ${key}`, (found.get(`${id} ${key}`) ?? 0) + 1)
        const copy = ledger.knownCopy(id, key)
        if (copy === undefined) {
          problems.push(`${where}: ${id} was never sent to ${key}`)
          continue
        }
        if (copy.uid !== null && copy.uid !== record.uid) {
          problems.push(`${where}: ${id} was seen with UID ${copy.uid}`)
        }
        if (copy.flaggedAt !== null && !record.flags.includes('\\Flagged')) {
          problems.push(`${where}: ${id} lost \\Flagged`)
        }
        if (copy.deletedAt !== null && !record.flags.includes('\\Deleted')) {
          problems.push(`${where}: ${id} lost \\Deleted`)
        }
      }
    }
  }
  for (const copy of ledger.copies.values()) {
    if (copy.destination.startsWith('remote:')) continue
    const count = found.get(`${copy.id} ${copy.destination}`) ?? 0
    const what = `${copy.destination}: ${copy.id}`
    if (copy.removedAt !== null || copy.isRefused) {
      if (count !== 0)
        problems.push(`${what} is stored ${count} time(s) after its removal or refusal`)
    } else if (copy.isRemovalSent) {
      if (count > 1) problems.push(`${what} is stored ${count} times`)
    } else if (copy.acknowledgedAt !== null || copy.isSeen) {
      if (count !== 1) {
        const why = copy.acknowledgedAt !== null ? 'acknowledged' : 'seen by a client'
        problems.push(`${what} was ${why} and is stored ${count} time(s)`)
      }
    } else if (count > 1) {
      problems.push(`${what} (never acknowledged) is stored ${count} times`)
    }
  }
  return problems
}

/**
 * The remote MX's transactions: whole messages the load sent to those recipients; every
 * acknowledged copy arrived; a second copy only from a later run of the server than the first.
 */
function checkRemote(
  ledger: Ledger,
  transactions: ReadonlyArray<{ to: string[]; data: Buffer }>,
  arrivals: readonly number[],
  spawnedAt: readonly number[],
  unrecorded: ReadonlyArray<ReadonlySet<string>>,
  killedAt: readonly number[],
): string[] {
  const problems: string[] = []
  // The run of the server that sent a transaction: the last one started before it arrived.
  const runAt = (time: number) => spawnedAt.filter((spawned) => spawned <= time).length
  const copies = new Map<string, Array<{ run: number; at: number }>>()
  transactions.forEach((transaction, i) => {
    const id = tortureIdOf(transaction.data)
    const sent = id === null ? undefined : ledger.messages.get(id)
    if (id === null || sent === undefined) {
      problems.push(`remote MX: transaction ${i} is not a message the load sent`)
      return
    }
    const body = withoutTrace(transaction.data)
    if (body.length !== sent.size || digest(body) !== sent.digest) {
      problems.push(`remote MX: ${id} arrived as ${body.length} octets, not the ${sent.size} sent`)
    }
    for (const address of transaction.to) {
      const key = `${id} ${remoteKey(address)}`
      const runs = copies.get(key) ?? []
      const at = arrivals[i] ?? 0
      runs.push({ run: runAt(at), at })
      copies.set(key, runs)
    }
  })
  let duplicates = 0
  let widest = 0
  for (const [key, runs] of copies) {
    const [id = '', destination = ''] = key.split(' ')
    const copy = ledger.knownCopy(id, destination)
    if (copy === undefined || copy.isRefused) {
      problems.push(`remote MX: ${id} went to ${destination}, where it was never sent`)
      continue
    }
    for (let i = 1; i < runs.length; i += 1) {
      duplicates += 1
      const { run, at } = runs[i - 1] ?? { run: 0, at: 0 }
      // Run n ended with kill n - 1; the copy it sent had to be still unrecorded then.
      if (runs[i]?.run === run) {
        problems.push(`remote MX: ${key} sent twice by run ${run} of the server`)
      } else if (!unrecorded[run - 1]?.has(key)) {
        problems.push(
          `remote MX: ${key} sent again after run ${run}, which had recorded it as delivered`,
        )
      } else {
        widest = Math.max(widest, (killedAt[run - 1] ?? at) - at)
      }
    }
  }
  for (const copy of ledger.copies.values()) {
    if (!copy.destination.startsWith('remote:') || copy.acknowledgedAt === null) continue
    if (!copies.has(`${copy.id} ${copy.destination}`)) {
      problems.push(
        `remote MX: ${copy.id} was acknowledged for ${copy.destination} and never arrived`,
      )
    }
  }
  ledger.count('second copies at the remote MX after a kill', duplicates)
  ledger.count('widest ms from a first copy to the kill that left it unrecorded', widest)
  return problems
}

/** Sanity of the ledger itself: every destination is one the test knows how to check. */
function checkCopies(ledger: Ledger): string[] {
  const known = new Set(ACCOUNTS)
  return [...ledger.copies.values()]
    .filter((copy) => !copy.destination.startsWith('remote:'))
    .filter((copy) => !known.has(copy.destination.slice(0, copy.destination.lastIndexOf('/'))))
    .map((copy) => `ledger: ${copy.id} meant for ${copy.destination}, which is not checked`)
}
