import { execFileSync } from 'node:child_process'

/**
 * Why a test needs a program that is not installed here, or false when `binary` is on the PATH:
 * `{ skip: binaryMissing('mbsync', 'isync') }`. CI installs every such package (.ci/run), so
 * there the tests run; this is the only reason they may skip.
 */
export function binaryMissing(binary: string, debianPackage: string): string | false {
  try {
    execFileSync('sh', ['-c', `command -v "$1"`, 'sh', binary], { stdio: 'ignore' })
    return false
  } catch {
    return `"${binary}" is missing: install Debian's ${debianPackage} package (see .ci/run)`
  }
}
