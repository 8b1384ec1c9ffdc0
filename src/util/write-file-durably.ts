import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/**
 * Writes a file so that after a crash it is either whole or absent: a temporary name, fsync,
 * rename over the target, fsync of the directory so the rename itself is durable.
 */
export function writeFileDurably(file: string, content: string | Buffer, mode = 0o644): void {
  const temporary = `${file}.tmp-${process.pid}`
  const fd = openSync(temporary, 'w', mode)
  try {
    writeFileSync(fd, content)
    fsyncSync(fd)
  } catch (error) {
    closeSync(fd)
    unlinkSync(temporary)
    throw error
  }
  closeSync(fd)
  renameSync(temporary, file)
  const dirFd = openSync(path.dirname(file), 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
}
