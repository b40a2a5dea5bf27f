// Read raw events back out of bronze for a time range (e.g. to rebuild the speed store after a
// restart). Events come back as they were flushed, duplicates included, in event-time order
// (ties by source position): deduplication is the reader's job, as it is the stream's.
import { listValue, timestampTZValue } from '@duckdb/node-api'
import type { HourglassEvent, SentimentLabel } from '../model/event.js'
import { bronzeFiles } from './bronze-columns.js'
import { HOUR_MS } from '../model/time.js'
import { listBronzeHours } from './bronze-layout.js'
import type { Db } from './duckdb.js'

export interface ReadBronzeOptions {
  dataDir: string
  db: Db
  /** event time range [from, to), epoch ms */
  from: number
  to: number
}

const READ_SQL = `SELECT event_id, CAST(epoch_ms(event_time) AS DOUBLE) AS ts, event_type, region,
       processing_time, response_time, CAST(revenue_cents AS DOUBLE) AS revenue_cents, user_id,
       text, sentiment_score, sentiment_label, entities
FROM ${bronzeFiles()}
WHERE event_time >= $from AND event_time < $to
ORDER BY event_time, src_topic, src_partition, src_offset`

export async function readBronzeEvents (o: ReadBronzeOptions): Promise<HourglassEvent[]> {
  if (!(o.from < o.to)) return []
  const hours = await listBronzeHours(o.dataDir, Math.floor(o.from / HOUR_MS) * HOUR_MS, o.to)
  const files = [...hours.values()].flat()
  if (files.length === 0) return []
  const conn = await o.db.connect()
  try {
    const cols = await conn.exclusive(async (raw) => (await raw.runAndReadAll(READ_SQL, {
      files: listValue(files),
      from: timestampTZValue(BigInt(Math.floor(o.from)) * 1000n),
      to: timestampTZValue(BigInt(Math.ceil(o.to)) * 1000n)
    })).getColumnsJS())
    if (cols.length === 0) return [] // no row matched: DuckDB hands back no columns at all
    const [id, ts, type, region, proc, resp, rev, user, text, score, label, entities] = cols as [
      string[], number[], string[], string[], Array<number | null>, Array<number | null>, Array<number | null>, Array<string | null>,
      Array<string | null>, Array<number | null>, Array<SentimentLabel | null>, Array<string[] | null>
    ]
    const out: HourglassEvent[] = new Array(id.length)
    for (let i = 0; i < id.length; i++) {
      const e: HourglassEvent = { event_id: id[i] as string, ts: ts[i] as number, event_type: type[i] as string, region: region[i] as string }
      if (proc[i] != null) e.processing_time = proc[i] as number
      if (resp[i] != null) e.response_time = resp[i] as number
      if (rev[i] != null) e.revenue_cents = rev[i] as number
      if (user[i] != null) e.user_id = user[i] as string
      if (text[i] != null) e.text = text[i] as string
      if (score[i] != null) e.enrichment = { score: score[i] as number, label: label[i] as SentimentLabel, entities: entities[i] ?? [] }
      out[i] = e
    }
    return out
  } finally {
    o.db.release(conn)
  }
}
