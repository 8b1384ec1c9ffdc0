// src/directory: domains, accounts and aliases in one canonical form, and what a recipient
// address means (an account, an alias's expansion, a catch-all, or nothing). SMTP's RCPT check,
// local delivery, SASL logins and the admin commands all ask here, never the store directly.
export {
  AddressError,
  type CanonicalAddress,
  canonicalAddress,
  canonicalAliasSource,
  canonicalDomain,
  displayDomain,
  throttleKey,
} from './canonical.ts'
export { createDirectory, type Directory, type DirectoryOptions } from './directory.ts'
export * from './limits.ts'
export type { LocalRecipient, Resolution } from './resolve.ts'
