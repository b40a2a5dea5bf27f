// Writing a Delta table's log: a commit is the file `_delta_log/<version>.json`, one action per line,
// created only if absent (a hard link from a complete temp file), so of two writers of one version exactly
// one wins and a reader never sees half a commit. The action shapes are the Delta protocol's.
import { link, mkdir, open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { tempPathFor } from '../atomic-file.js'
import { commitName, DeltaError } from './log-plan.js'
import { deltaLogDir } from './log-replay.js'

export interface AddAction {
  /** a URI relative to the table */
  path: string
  partitionValues: Record<string, string | null>
  size: number
  modificationTime: number
  dataChange: boolean
  /** JSON text: numRecords, minValues, maxValues, nullCount */
  stats?: string
  tags?: Record<string, string>
}

export interface RemoveAction {
  path: string
  deletionTimestamp: number
  dataChange: boolean
  extendedFileMetadata?: boolean
  partitionValues?: Record<string, string | null>
  size?: number
}

export interface MetaDataAction {
  id: string
  format: { provider: 'parquet', options: Record<string, string> }
  schemaString: string
  partitionColumns: string[]
  configuration: Record<string, string>
  createdTime?: number
}

export interface ProtocolAction {
  minReaderVersion: number
  minWriterVersion: number
}

export interface CommitInfoAction {
  timestamp: number
  operation: string
  operationParameters?: Record<string, string>
  engineInfo?: string
  isBlindAppend?: boolean
  [key: string]: unknown
}

export type DeltaAction =
  | { add: AddAction }
  | { remove: RemoveAction }
  | { metaData: MetaDataAction }
  | { protocol: ProtocolAction }
  | { commitInfo: CommitInfoAction }

/** Another writer created this version first: nothing of this commit was written. */
export class CommitConflictError extends DeltaError {
  override name = 'CommitConflictError'
}

/** The text of a commit: one JSON action per line. */
export function commitText (actions: readonly DeltaAction[]): string {
  return actions.map((a) => JSON.stringify(a)).join('\n') + '\n'
}

/**
 * Create `_delta_log/<version>.json` with the actions, if no commit of that version exists: the text
 * is written and synced to a temp file first, then hard-linked to the commit's name (link fails when
 * the name exists, so the commit appears whole or not at all). Throws CommitConflictError when
 * another writer holds the version.
 */
export async function writeCommit (table: string, version: number, actions: readonly DeltaAction[]): Promise<void> {
  if (!Number.isSafeInteger(version) || version < 0) throw new DeltaError(`a commit version must be an integer ≥ 0, not ${version}`)
  const dir = deltaLogDir(table)
  await mkdir(dir, { recursive: true })
  const path = join(dir, commitName(version))
  const tmp = tempPathFor(path)
  try {
    const fh = await open(tmp, 'wx')
    try {
      await fh.writeFile(commitText(actions), 'utf8')
      await fh.sync()
    } finally {
      await fh.close()
    }
    try {
      await link(tmp, path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CommitConflictError(`${table}: version ${version} was committed by another writer`)
      throw err
    }
  } finally {
    await rm(tmp, { force: true })
  }
}
