// What a bronze sink that died mid-flush leaves behind, removed before its source is read again: temp files, and files
// renamed into place that the state does not name (offsets past the partition's last recorded one). Reading resumes
// after that offset and may cut the flush differently, so left in place those files would hold events a second time.
// Compacted files stay, and so does a partition the state has no entry for (unless pending): a lost state deletes nothing.
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { partitionKey } from '../model/source-position.js'
import { isTempName } from './atomic-file.js'
import { parseBronzeName } from './bronze-coverage.js'
import { bronzeEventsDir, compareOffsets, dirNames, readBronzeState, topicSafe } from './bronze-layout.js'

export interface RecoverySummary {
  /** files renamed into place by a flush the state does not record (absolute paths) */
  unrecorded: string[]
  /** temp files of sink files and of the state file */
  temps: string[]
}

/** A sink file's name (not compacted) and the single range it covers, or null. */
function sinkRange (name: string): { topic: string, partition: number, first: string } | null {
  if (name.endsWith('.c.parquet')) return null
  const ranges = parseBronzeName(name)
  return ranges === null || ranges.length !== 1 ? null : (ranges[0] as { topic: string, partition: number, first: string })
}

/**
 * Remove the files of `topics` that a flush renamed into place without recording them in the
 * state, and the temp files a killed flush left (sink files of `topics`, and the state file's).
 * Call it before the source of those topics starts; nothing may flush them meanwhile.
 */
export async function removeUnrecordedBronze (dataDir: string, topics: readonly string[]): Promise<RecoverySummary> {
  const state = await readBronzeState(dataDir)
  const byTopic = new Map(topics.map((t) => [topicSafe(t), t]))
  const last = new Map(state.partitions.map((p) => [partitionKey(p.topic, p.partition), p.last_offset]))
  const pending = new Set((state.pending ?? []).map((p) => partitionKey(p.topic, p.partition)))
  const summary: RecoverySummary = { unrecorded: [], temps: [] }

  const bronze = join(dataDir, 'bronze')
  for (const name of await readdir(bronze).catch(() => [] as string[])) {
    if (name.startsWith('._state.json.tmp-')) {
      await rm(join(bronze, name), { force: true })
      summary.temps.push(join(bronze, name))
    }
  }
  const root = bronzeEventsDir(dataDir)
  for (const date of await dirNames(root)) {
    for (const hour of await dirNames(join(root, date))) {
      const dir = join(root, date, hour)
      for (const name of await readdir(dir)) {
        if (isTempName(name)) {
          // .<sink file name>.tmp-<pid>-<random> (atomic-file.ts, tempPathFor)
          const m = /^\.(.+\.parquet)\.tmp-/.exec(name)
          const r = m === null ? null : sinkRange(m[1] as string)
          if (r !== null && byTopic.has(r.topic)) {
            await rm(join(dir, name), { force: true })
            summary.temps.push(join(dir, name))
          }
          continue
        }
        const r = sinkRange(name)
        const topic = r === null ? undefined : byTopic.get(r.topic)
        if (r === null || topic === undefined) continue
        // a partition the state knows nothing of: its first flush died, if a reader said it was
        // reading it (pending); else the state was lost or the file is not ours to judge: kept
        const key = partitionKey(topic, r.partition)
        const recorded = last.get(key)
        if (recorded === undefined ? pending.has(key) : compareOffsets(r.first, recorded) > 0) {
          await rm(join(dir, name), { force: true })
          summary.unrecorded.push(join(dir, name))
        }
      }
    }
  }
  return summary
}
