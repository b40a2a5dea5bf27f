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

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):?(\d{2}))?)?$/
const EPOCH_MS = /^-?\d{1,15}$/

function daysInMonth (y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31
}

/**
 * An instant from an ISO-8601 string (with a zone, or UTC when it has none; fractions past the
 * millisecond are cut) or epoch milliseconds. null when it cannot be read, including dates that
 * do not exist (2026-02-30, which Date.parse would roll over to March 2).
 */
export function parseInstant (value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && Number.isInteger(value) ? value : null
  if (typeof value !== 'string' || value.length === 0 || value.length > 40) return null
  return canonicalInstant(value) ?? parseText(value)
}

/** Two or three decimal digits at `at`, or -1. */
function digits (s: string, at: number, n: number): number {
  let v = 0
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

/** the last canonical hour seen ("2026-01-05T12") and its epoch ms */
let hourPrefix = ''
let hourStart = 0

/**
 * The form producers send almost always, `YYYY-MM-DDTHH:MM:SS.sssZ` (toISOString), read without
 * the regular expression: the hour part is read once by parseText and kept (an event stream stays
 * in one hour for a long while), the rest from its digits. undefined: not in that form, or not a
 * valid instant (parseText then decides and explains nothing more than null).
 */
function canonicalInstant (v: string): number | undefined {
  if (v.length !== 24 || v.charCodeAt(10) !== 84 || v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58 || v.charCodeAt(19) !== 46 ||
    v.charCodeAt(23) !== 90) return undefined
  const mi = digits(v, 14, 2)
  const sec = digits(v, 17, 2)
  const ms = digits(v, 20, 3)
  if (mi < 0 || mi > 59 || sec < 0 || sec > 59 || ms < 0) return undefined
  if (hourPrefix.length === 0 || !v.startsWith(hourPrefix)) {
    const prefix = v.slice(0, 13)
    const start = parseText(prefix + ':00:00.000Z')
    if (start === null) return undefined
    hourPrefix = prefix
    hourStart = start
  }
  return hourStart + mi * 60_000 + sec * 1000 + ms
}

function parseText (value: string): number | null {
  const m = ISO_INSTANT.exec(value)
  if (m === null) return EPOCH_MS.test(value) ? Number(value) : null
  const y = Number(m[1]); const mo = Number(m[2]); const d = Number(m[3])
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null
  const h = m[4] === undefined ? 0 : Number(m[4])
  const mi = m[5] === undefined ? 0 : Number(m[5])
  const sec = m[6] === undefined ? 0 : Number(m[6])
  if (h > 23 || mi > 59 || sec > 59) return null
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'))
  let offset = 0
  if (m[9] !== undefined) {
    const oh = Number(m[10]); const om = Number(m[11])
    if (oh > 23 || om > 59) return null
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000
  }
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms) - offset
}
