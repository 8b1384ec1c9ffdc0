export { formatBodyStructure, formatEnvelope, formatEnvelopeAddressList } from './body-structure.ts'
export { formatHumanString, formatNString, formatString, formatStringList } from './string.ts'
