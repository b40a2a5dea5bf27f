// Where Hourglass's own gold lives as Delta tables and what its writer records in them (docs/design.md, "Gold"):
// the hourly and daily tables under <data>/gold/, partitioned by `date`; the batch boundary and history start as
// table properties (every publish writes the metaData); the version of the daily table that belongs with an hourly
// version as a property of the hourly table; and on each hourly data file, in its add action's tags, the bronze
// fingerprints of the hours it was built from. Pure: names and the tag's encoding.
import { join } from 'node:path'

/** the hourly table's property naming the daily table's version built with it */
export const DAILY_VERSION_PROPERTY = 'hourglass.daily_version'
/** the add-action tag of an hourly file: JSON {"HH": fingerprint} of the hours of its date it was built from */
export const BUILT_FROM_TAG = 'hourglass.built_from'

export function hourlyTableDir (dataDir: string): string {
  return join(dataDir, 'gold', 'hourly_metrics')
}

export function dailyTableDir (dataDir: string): string {
  return join(dataDir, 'gold', 'daily_metrics')
}

/** The tags of an hourly file built from these hours' bronze ("HH" → fingerprint). */
export function builtFromTags (hours: Readonly<Record<string, string>>): Record<string, string> {
  // written by hand: an object puts "10"…"23" (integer keys) before "00"…"09"
  const sorted = Object.entries(hours).sort(([a], [b]) => (a < b ? -1 : 1))
  return { [BUILT_FROM_TAG]: '{' + sorted.map(([h, fp]) => `${JSON.stringify(h)}:${JSON.stringify(fp)}`).join(',') + '}' }
}

/**
 * date → "HH" → fingerprint, over the files of a snapshot (a file without the tag records nothing: its
 * hours count as changed, so a table another engine wrote is rebuilt, never trusted). Files of one date
 * built in different runs hold different hours; compaction unites their tags.
 */
export function builtFromOf (
  files: ReadonlyArray<{ partitionValues: Record<string, string | null>, tags: Record<string, string> }>
): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {}
  for (const f of files) {
    const date = f.partitionValues.date
    const text = f.tags[BUILT_FROM_TAG]
    if (date == null || text === undefined) continue
    let hours: unknown
    try {
      hours = JSON.parse(text)
    } catch {
      continue
    }
    if (typeof hours !== 'object' || hours === null || Array.isArray(hours)) continue
    const into = (out[date] ??= {})
    for (const [h, fp] of Object.entries(hours)) if (/^\d{2}$/.test(h) && typeof fp === 'string') into[h] = fp
  }
  return out
}
