import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'

// A full-screen terminal program (mutt) driven the way a person would: it runs in a detached
// tmux session on a tmux server of its own (its socket in a temporary directory, so no one
// else's tmux is touched), keys go in with send-keys, and the screen is read with capture-pane.

const run = promisify(execFile)

export class TmuxSession {
  readonly #socket: string
  readonly #name = 'test'
  #isClosed = false

  private constructor(socket: string) {
    this.#socket = socket
  }

  /**
   * Starts `command` (a shell command line) in a detached session of `width` x `height` with
   * `env` added; the tmux server is killed when the test ends, the program with it.
   */
  static async start(
    t: TestContext,
    command: string,
    options: { env?: Record<string, string>; cwd?: string; width?: number; height?: number } = {},
  ): Promise<TmuxSession> {
    // Not makeTempDir: its cleanup may run before kill(), and a tmux server whose socket is gone
    // can no longer be told to exit. kill() removes the directory once the server is gone.
    const socket = path.join(mkdtempSync(path.join(tmpdir(), 'postern-tmux-')), 'tmux.sock')
    const session = new TmuxSession(socket)
    const env = Object.entries(options.env ?? {}).flatMap(([key, value]) => [
      '-e',
      `${key}=${value}`,
    ])
    // -f /dev/null: no user config; the session keeps its pane after the program exits, so that
    // the last screen can still be read.
    await session.#tmux([
      '-f',
      '/dev/null',
      'new-session',
      '-d',
      '-s',
      session.#name,
      '-x',
      String(options.width ?? 160),
      '-y',
      String(options.height ?? 40),
      ...(options.cwd === undefined ? [] : ['-c', options.cwd]),
      ...env,
      command,
    ])
    await session.#tmux(['set-option', '-t', session.#name, 'remain-on-exit', 'on'])
    t.after(() => session.kill())
    return session
  }

  /** Sends keys by tmux name ("Enter", "C-u", "Escape") or as single characters ("j", "$"). */
  async keys(...keys: string[]): Promise<void> {
    await this.#tmux(['send-keys', '-t', this.#name, ...keys])
  }

  /** Types text literally (no key names). */
  async type(text: string): Promise<void> {
    await this.#tmux(['send-keys', '-t', this.#name, '-l', text])
  }

  /** The screen as it is now, one line per row, trailing blanks removed. */
  async screen(): Promise<string> {
    const { stdout } = await this.#tmux(['capture-pane', '-p', '-t', this.#name])
    return stdout.replace(/[ \t]+$/gm, '').replace(/\n+$/, '\n')
  }

  /**
   * Polls the screen until `check` (a pattern, or a predicate) accepts it, and returns it; fails
   * after `timeoutMs` with the last screen and `what` in the message.
   */
  async waitFor(
    check: RegExp | ((screen: string) => boolean),
    what = String(check),
    timeoutMs = 10_000,
  ): Promise<string> {
    const accepts = typeof check === 'function' ? check : (screen: string) => check.test(screen)
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const screen = await this.screen()
      if (accepts(screen)) return screen
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; the screen:\n${screen}`)
      }
      await sleep(50)
    }
  }

  /** Whether the program in the pane has exited (remain-on-exit keeps the pane). */
  async hasExited(): Promise<boolean> {
    const { stdout } = await this.#tmux(['display-message', '-p', '-t', this.#name, '#{pane_dead}'])
    return stdout.trim() === '1'
  }

  /** Kills this session's tmux server, and so the program. */
  async kill(): Promise<void> {
    if (this.#isClosed) return
    this.#isClosed = true
    await this.#tmux(['kill-server']).catch(() => {})
    rmSync(path.dirname(this.#socket), { recursive: true, force: true })
  }

  #tmux(args: string[]) {
    return run('tmux', ['-S', this.#socket, ...args], { timeout: 10_000 })
  }
}
