import packageJson from '../../package.json' with { type: 'json' }

export const POSTERN_VERSION: string = packageJson.version
