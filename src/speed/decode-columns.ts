// Decoding raw records into validated events, in a form that crosses a thread boundary cheaply: the
// records' bytes packed into one buffer going in, columns coming out (numbers in typed arrays that are
// moved, not copied; event types and regions as indexes into a per-batch list of names). Cloning one
// object per event costs about as much as parsing it (docs/design.md, "Decoding"). Pure logic.
import { type HourglassEvent, INVALID_REASONS, type InvalidReason, parseEvent, type Validation } from '../model/index.js'
import { decodeValue, JSON_VALUES, type ValueDecoding } from './decode-avro.js'

/** A record's value as consumed */
export type RawValue = string | Uint8Array

/** The records of a batch: record i is bytes[ends[i − 1] ?? 0, ends[i]) */
export interface PackedRecords {
  bytes: Uint8Array
  ends: Uint32Array
}

/** The validations of a packed batch, as columns. */
export interface DecodedColumns {
  /** per record: 0 valid, else 1 + the index of its reason in INVALID_REASONS */
  status: Uint8Array
  /** per invalid record, in order */
  details: string[]
  /** per valid record, in order: event_id i is ids.slice(idEnds[i − 1] ?? 0, idEnds[i]) (one string crosses, not one per event) */
  ids: string
  idEnds: Uint32Array
  ts: Float64Array
  /** indexes into names */
  types: Uint32Array
  regions: Uint32Array
  names: string[]
  /** NaN where absent */
  processing: Float64Array
  response: Float64Array
  revenue: Float64Array
  /** user_id as the ids, with an end of −1 where absent */
  users: string
  userEnds: Int32Array
  /** text as user_id */
  texts: string
  textEnds: Int32Array
}

export function byteLength (value: RawValue): number {
  return typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength
}

export function tooLarge (bytes: number, maxBytes: number): Validation {
  return { ok: false, reason: 'too_large', detail: `the record has ${bytes} bytes, more than the limit of ${maxBytes}` }
}

export function decodeFailed (why: string): Validation {
  return { ok: false, reason: 'decode_failed', detail: `decoding the record failed: ${why}` }
}

/** One record in this thread: over the size limit it is not parsed. */
export function decodeRecord (value: RawValue, now: number, maxBytes: number, decoding: ValueDecoding = JSON_VALUES): Validation {
  const n = byteLength(value)
  if (n > maxBytes) return tooLarge(n, maxBytes)
  try {
    return decodeValue(value, now, decoding)
  } catch (err) {
    return decodeFailed(err instanceof Error ? err.message : String(err))
  }
}

/** The values in one new buffer of their own (it is moved to another thread). */
export function packRecords (values: readonly RawValue[]): PackedRecords {
  const parts = values.map((v) => typeof v === 'string' ? Buffer.from(v, 'utf8') : v)
  let total = 0
  for (const p of parts) total += p.byteLength
  const bytes = new Uint8Array(total)
  const ends = new Uint32Array(parts.length)
  let at = 0
  parts.forEach((p, i) => {
    bytes.set(p, at)
    at += p.byteLength
    ends[i] = at
  })
  return { bytes, ends }
}

const REASON_STATUS = new Map<InvalidReason, number>(INVALID_REASONS.map((r, i) => [r, i + 1]))

/** Parse and validate every packed record at wall-clock time `now`. */
export function decodeColumns ({ bytes, ends }: PackedRecords, now: number, decoding: ValueDecoding = JSON_VALUES): DecodedColumns {
  const n = ends.length
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const c: DecodedColumns = {
    status: new Uint8Array(n),
    details: [],
    ids: '',
    idEnds: new Uint32Array(n),
    ts: new Float64Array(n),
    types: new Uint32Array(n),
    regions: new Uint32Array(n),
    names: [],
    processing: new Float64Array(n),
    response: new Float64Array(n),
    revenue: new Float64Array(n),
    users: '',
    userEnds: new Int32Array(n),
    texts: '',
    textEnds: new Int32Array(n)
  }
  const ids: string[] = []
  const users: string[] = []
  let idEnd = 0
  let userEnd = 0
  const texts: string[] = []
  let textEnd = 0
  const nameIndex = new Map<string, number>()
  const name = (s: string): number => {
    let i = nameIndex.get(s)
    if (i === undefined) { i = c.names.length; c.names.push(s); nameIndex.set(s, i) }
    return i
  }
  let start = 0
  let j = 0
  for (let i = 0; i < n; i++) {
    const end = ends[i] as number
    const v = decoding.format === 'json' ? parseEvent(text.toString('utf8', start, end), now) : decodeValue(bytes.subarray(start, end), now, decoding)
    start = end
    if (!v.ok) {
      c.status[i] = REASON_STATUS.get(v.reason) as number
      c.details.push(v.detail)
      continue
    }
    const e = v.event
    ids.push(e.event_id)
    idEnd += e.event_id.length
    c.idEnds[j] = idEnd
    c.ts[j] = e.ts
    c.types[j] = name(e.event_type)
    c.regions[j] = name(e.region)
    c.processing[j] = e.processing_time ?? NaN
    c.response[j] = e.response_time ?? NaN
    c.revenue[j] = e.revenue_cents ?? NaN
    if (e.user_id === undefined) c.userEnds[j] = -1
    else {
      users.push(e.user_id)
      userEnd += e.user_id.length
      c.userEnds[j] = userEnd
    }
    if (e.text === undefined) c.textEnds[j] = -1
    else {
      texts.push(e.text)
      textEnd += e.text.length
      c.textEnds[j] = textEnd
    }
    j++
  }
  c.ids = ids.join('')
  c.users = users.join('')
  c.texts = texts.join('')
  return c
}

/** The buffers of `c` that can be moved instead of copied */
export function columnBuffers (c: DecodedColumns): ArrayBuffer[] {
  return [c.status, c.idEnds, c.ts, c.types, c.regions, c.processing, c.response, c.revenue, c.userEnds, c.textEnds].map((a) => a.buffer as ArrayBuffer)
}

/** The validations again, one per record, as parseEvent returns them. */
export function unpackColumns (c: DecodedColumns): Validation[] {
  const out: Validation[] = new Array<Validation>(c.status.length)
  let j = 0
  let k = 0
  let idStart = 0
  let userStart = 0
  let textStart = 0
  for (let i = 0; i < c.status.length; i++) {
    const s = c.status[i] as number
    if (s !== 0) {
      out[i] = { ok: false, reason: INVALID_REASONS[s - 1] as InvalidReason, detail: c.details[k++] as string }
      continue
    }
    // the fields in validateEvent's order: the same object shape
    const event: HourglassEvent = {
      event_id: c.ids.slice(idStart, c.idEnds[j]),
      ts: c.ts[j] as number,
      event_type: c.names[c.types[j] as number] as string,
      region: c.names[c.regions[j] as number] as string
    }
    const processing = c.processing[j] as number
    if (!Number.isNaN(processing)) event.processing_time = processing
    const response = c.response[j] as number
    if (!Number.isNaN(response)) event.response_time = response
    const revenue = c.revenue[j] as number
    if (!Number.isNaN(revenue)) event.revenue_cents = revenue
    idStart = c.idEnds[j] as number
    const userEnd = c.userEnds[j] as number
    if (userEnd >= 0) {
      event.user_id = c.users.slice(userStart, userEnd)
      userStart = userEnd
    }
    const textEnd = c.textEnds[j] as number
    if (textEnd >= 0) {
      event.text = c.texts.slice(textStart, textEnd)
      textStart = textEnd
    }
    out[i] = { ok: true, event }
    j++
  }
  return out
}
