// UTC time buckets. All instants inside Hourglass are epoch milliseconds.

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000

export type Granularity = 'minute' | 'hour' | 'day'
export const GRANULARITIES: readonly Granularity[] = ['minute', 'hour', 'day']

export const BUCKET_MS: Record<Granularity, number> = { minute: MINUTE_MS, hour: HOUR_MS, day: DAY_MS }

/** Start of the UTC bucket holding t. */
export function bucketStart (t: number, g: Granularity): number {
  const size = BUCKET_MS[g]
  return Math.floor(t / size) * size
}

export function isAligned (t: number, g: Granularity): boolean {
  return bucketStart(t, g) === t
}

export function iso (t: number): string {
  return new Date(t).toISOString()
}

/** "2024-05-01" for the UTC day holding t. */
export function utcDate (t: number): string {
  return iso(t).slice(0, 10)
}

/** "07" for the UTC hour holding t. */
export function utcHour (t: number): string {
  return iso(t).slice(11, 13)
}

const DURATION = /^(\d{1,6})(ms|s|m|h|d)$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS }

/** "15m" → 900000; null when it is not a duration. */
export function parseDuration (text: string): number | null {
  const m = DURATION.exec(text.trim())
  if (m === null) return null
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number)
}

/**
 * An instant from an ISO-8601 string (with a zone, or UTC when it has none) or epoch milliseconds.
 * null when it cannot be read.
 */
export function parseInstant (value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && Number.isInteger(value) ? value : null
  if (typeof value !== 'string' || value.length === 0 || value.length > 40) return null
  if (/^-?\d{1,15}$/.test(value)) return Number(value)
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) return null
  if (!dateExists(value)) return null
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(value) && value.length > 10
  const t = Date.parse(hasZone || value.length === 10 ? value : value + 'Z')
  return Number.isFinite(t) ? t : null
}

/** Date.parse rolls 2026-02-30 over to March 2 instead of refusing it: check the calendar. */
function dateExists (text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text)
  if (m === null) return true
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const date = new Date(Date.UTC(y, mo - 1, d))
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d
}
