import { readFileSync } from 'node:fs'

/** A system user's uid and gid from /etc/passwd, or null: for peers that run as Debian's users. */
export function lookupUser(name: string): { uid: number; gid: number } | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':')
    if (fields[0] === name && fields.length >= 4) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) }
    }
  }
  return null
}

/** A group's name from /etc/group, or null. */
export function lookupGroupName(gid: number): string | null {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const fields = line.split(':')
    if (fields[2] === String(gid) && fields[0] !== undefined) return fields[0]
  }
  return null
}
