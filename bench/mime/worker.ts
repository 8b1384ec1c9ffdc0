// One library, one fresh process: `node worker.ts LIBRARY throughput|memory`. Prints one JSON line.
import { readFileSync, statSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { simpleParser } from 'mailparser'
import PostalMime from 'postal-mime'
import { bodyStructure, parseMessage, readEnvelope, searchText } from '../../src/mime/index.ts'
import { corpusFiles, loadCorpus } from './corpus.ts'

type Parse = (message: Buffer) => Promise<unknown> | unknown

/**
 * What each library does with one message. Postern: the work delivery does once per message
 * (part tree, BODYSTRUCTURE, ENVELOPE, decoded text of headers and text parts for SEARCH); it
 * does not decode attachments, which IMAP serves as slices. The peers decode everything.
 */
const PARSERS: Record<string, Parse> = {
  postern: (message) => {
    const parsed = parseMessage(message)
    return [bodyStructure(parsed), readEnvelope(parsed.bytes, parsed.root), searchText(parsed)]
  },
  mailparser: (message) => simpleParser(message, { skipImageLinks: true, skipTextToHtml: true }),
  'postal-mime': (message) => PostalMime.parse(message),
}

const [library = '', mode = 'throughput'] = process.argv.slice(2)
const parse = PARSERS[library]
if (!parse) throw new Error(`unknown library ${library}`)

if (mode === 'throughput') {
  const corpus = loadCorpus()
  const octets = corpus.reduce((sum, message) => sum + message.length, 0)
  for (const message of corpus.slice(0, 300)) await parse(message) // warm-up
  const rounds: number[] = []
  for (let round = 0; round < 3; round += 1) {
    const started = performance.now()
    for (const message of corpus) await parse(message)
    rounds.push(performance.now() - started)
  }
  process.stdout.write(
    `${JSON.stringify({ library, messages: corpus.length, octets, roundsMs: rounds })}\n`,
  )
} else {
  // Peak memory for the largest message: the high-water RSS while parsing it, above the
  // high-water mark reached after loading it and warming the parser up on a small message.
  // Only the largest message is read (found by size), so the baseline holds nothing else.
  const files = corpusFiles()
  let largestFile = files[0] as string
  for (const file of files) if (statSync(file).size > statSync(largestFile).size) largestFile = file
  await parse(readFileSync(files[0] as string))
  const largest = readFileSync(largestFile)
  const before = process.resourceUsage().maxRSS * 1024
  const result = await parse(largest)
  const after = process.resourceUsage().maxRSS * 1024
  process.stdout.write(
    `${JSON.stringify({ library, largestOctets: largest.length, peakAboveBaseline: after - before, kept: result !== undefined })}\n`,
  )
}
