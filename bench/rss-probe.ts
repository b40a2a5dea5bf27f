// Loaded into the measured service with --import (bench/rss.ts): every HG_RSS_PROBE_MS it appends one JSON line to
// HG_RSS_PROBE_FILE with process.memoryUsage() and the committed size of each V8 heap space (where RSS goes).
import { appendFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'

const file = process.env.HG_RSS_PROBE_FILE
const every = Number(process.env.HG_RSS_PROBE_MS ?? '10000')
if (file !== undefined) {
  const sample = (): void => {
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]))
    appendFileSync(file, JSON.stringify({ at: Date.now(), ...process.memoryUsage(), spaces }) + '\n')
  }
  sample()
  setInterval(sample, every).unref()
}
