export { formatAddressList, formatBodyStructure, formatEnvelope } from './body-structure.ts'
export { formatHumanString, formatNString, formatString, formatStringList } from './string.ts'
