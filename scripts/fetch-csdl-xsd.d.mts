// Types for scripts/fetch-csdl-xsd.mjs, so that TypeScript tests can import it.
export const ODATA_CSDL_VERSION: string
export function ensureXmllint (log?: (line: string) => void): Promise<string>
export function ensureXsd (log?: (line: string) => void): string
export function fetchCsdlXsd (log?: (line: string) => void): Promise<{ dir: string, edmx: string, xmllint: string }>
