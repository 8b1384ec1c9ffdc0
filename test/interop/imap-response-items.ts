/**
 * Splits the data of one FETCH response, "(NAME value NAME value …)", into its items, reading
 * quoted strings, literals and nested parentheses as IMAP does (RFC 9051 §4), so a literal's
 * contents are never scanned. Values are returned as they were on the wire.
 */
export function fetchItems(data: string): Map<string, string> {
  const items = new Map<string, string>()
  let position = data.indexOf('(') + 1
  while (position < data.length) {
    while (data[position] === ' ') position += 1
    if (data[position] === ')' || position >= data.length) break
    // An item name runs to the space before its value; BODY[...] may contain spaces in brackets.
    let nameEnd = position
    let brackets = 0
    while (nameEnd < data.length && (brackets > 0 || data[nameEnd] !== ' ')) {
      if (data[nameEnd] === '[') brackets += 1
      if (data[nameEnd] === ']') brackets -= 1
      nameEnd += 1
    }
    const name = data.slice(position, nameEnd)
    const valueStart = nameEnd + 1
    const valueEnd = skipValue(data, valueStart)
    items.set(name, data.slice(valueStart, valueEnd))
    position = valueEnd
  }
  return items
}

/** Returns the offset after one value: an atom/number/NIL, a quoted string, a literal or a list. */
export function skipValue(data: string, start: number): number {
  let position = start
  const char = data[position]
  if (char === '"') {
    position += 1
    while (position < data.length && data[position] !== '"')
      position += data[position] === '\\' ? 2 : 1
    return position + 1
  }
  if (char === '{') {
    const close = data.indexOf('}', position)
    const length = Number(data.slice(position + 1, close).replace('+', ''))
    return close + 3 + length
  }
  if (char === '(') {
    position += 1
    while (position < data.length && data[position] !== ')') {
      if (data[position] === ' ') position += 1
      else position = skipValue(data, position)
    }
    return position + 1
  }
  while (position < data.length && !' ()'.includes(data[position] as string)) position += 1
  return position
}

/** The octets of a string value (quoted or literal) as a binary string. */
export function stringValue(value: string): string {
  if (value.startsWith('{')) return value.slice(value.indexOf('}') + 3)
  if (value.startsWith('"')) return value.slice(1, -1).replace(/\\(.)/g, '$1')
  return value
}
