// The progress bar `postern fetch` draws on a terminal for a long download: one line on standard
// error, redrawn at most ten times a second. Not on a pipe or a file: scripts get only the
// summary line when they ask for it (-v) and the errors.

const WIDTH = 30
const REDRAW_MS = 100

export class Progress {
  readonly #write: ((text: string) => void) | null
  readonly #total: number
  readonly #totalOctets: number
  #done = 0
  #octets = 0
  #drawnAt = 0

  /** `write` is null when there is no terminal: then nothing is drawn. */
  constructor(write: ((text: string) => void) | null, total: number, totalOctets: number) {
    this.#write = total > 1 ? write : null
    this.#total = total
    this.#totalOctets = totalOctets
  }

  advance(octets: number): void {
    this.#done += 1
    this.#octets += octets
    const now = Date.now()
    if (this.#done < this.#total && now - this.#drawnAt < REDRAW_MS) return
    this.#drawnAt = now
    this.#write?.(`\r${this.line()}`)
  }

  /** Clears the bar's line so the next output starts clean. */
  finish(): void {
    if (this.#drawnAt !== 0) this.#write?.('\r\u001b[K')
  }

  /** "[#####-----] 12/40 messages, 1.2 of 3.4 MB" */
  line(): string {
    const share = this.#total === 0 ? 1 : this.#done / this.#total
    const filled = Math.round(share * WIDTH)
    const mb = (octets: number) => (octets / 1024 / 1024).toFixed(1)
    return `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${this.#done}/${this.#total} messages, ${mb(this.#octets)} of ${mb(this.#totalOctets)} MB`
  }
}
