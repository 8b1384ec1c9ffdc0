import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import pg from 'pg'
import { getFreePorts } from './free-port.ts'

/** Debian's postgresql package puts each major version's server binaries here. */
const POSTGRES_LIB = '/usr/lib/postgresql'

export interface PostgresServer {
  readonly port: number
  /** A connection URL for one database of this server. */
  url(database: string): string
  /** Stops the server (every connection is cut) and starts it again on the same port. */
  restart(): void
  /** The postmaster's process id (its backends are its children), from postmaster.pid. */
  pid(): number
}

let shared: Promise<PostgresServer> | null = null

/**
 * A throwaway PostgreSQL server for this test process, started on first use on a free loopback
 * port and stopped when the process exits: initdb into a temporary directory and pg_ctl start,
 * as the unprivileged "postgres" user when the tests run as root (PostgreSQL refuses to run as
 * root). Durability settings are off: these tests kill Postern, never the database.
 */
export function startPostgres(): Promise<PostgresServer> {
  shared ??= launch({ isDurable: false })
  return shared
}

/**
 * A server of its own for a benchmark: with `isDurable`, PostgreSQL's default durability
 * (fsync, synchronous commit), so that its figures mean what production would see.
 */
export function startPostgresServer(options: { isDurable: boolean }): Promise<PostgresServer> {
  return launch(options)
}

/** Creates a database on the server and returns its URL. */
export async function createDatabase(server: PostgresServer, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url('postgres') })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  return server.url(name)
}

/** A fresh database on the shared server, dropped when the test ends; returns its URL. */
export async function testDatabase(t: TestContext): Promise<string> {
  const server = await startPostgres()
  const name = `test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: server.url('postgres') })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  t.after(async () => {
    const client = new pg.Client({ connectionString: server.url('postgres') })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.end()
  })
  return server.url(name)
}

function binaries(): string {
  const versions = existsSync(POSTGRES_LIB)
    ? readdirSync(POSTGRES_LIB)
        .filter((name) => existsSync(path.join(POSTGRES_LIB, name, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : []
  const newest = versions[0]
  if (newest === undefined) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install postgresql',
    )
  }
  return path.join(POSTGRES_LIB, newest, 'bin')
}

async function launch(settings: { isDurable: boolean }): Promise<PostgresServer> {
  const bin = binaries()
  const [port = 0] = await getFreePorts(1)
  const dir = mkdtempSync(path.join(tmpdir(), 'postern-pg-'))
  const isRoot = process.getuid?.() === 0
  const owner = isRoot
    ? {
        uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
        gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
      }
    : {}
  if (isRoot && owner.uid !== undefined && owner.gid !== undefined) {
    chownSync(dir, owner.uid, owner.gid)
  }
  const run = (program: string, args: string[]) => {
    const result = spawnSync(path.join(bin, program), args, { ...owner, encoding: 'utf8' })
    if (result.status !== 0) {
      throw new Error(`${program} failed: ${result.stderr || result.stdout || result.error}`)
    }
  }
  const data = path.join(dir, 'data')
  run('initdb', [
    '-D',
    data,
    '-U',
    'postern',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ])
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-k ${dir}`,
    ...(settings.isDurable
      ? []
      : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
    '-c max_connections=200',
  ].join(' ')
  const log = path.join(dir, 'server.log')
  run('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '30', '-o', options, 'start'])
  process.once('exit', () => {
    spawnSync(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], owner)
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    port,
    url: (database) => `postgres://postern@127.0.0.1:${port}/${database}`,
    pid: () => Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
    // -l as at start: a server writing to pg_ctl's stdout would keep the pipe (and us) waiting.
    restart: () =>
      run('pg_ctl', [
        '-D',
        data,
        '-l',
        log,
        '-m',
        'fast',
        '-w',
        '-t',
        '30',
        '-o',
        options,
        'restart',
      ]),
  }
}
