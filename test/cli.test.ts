// The `hourglass` CLI as a user runs it: a child process (scripts/hourglass-dev.ts, the CLI from the
// sources), its exit codes, what it prints, and what seed and batch leave in a data folder.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { hourglass, ROOT } from './helpers/cli.js'

async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hourglass-cli-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function listFiles (dir: string): Promise<string[]> {
  if (!existsSync(dir)) return []
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
}

// Each run is a process of its own (about a second of start-up): run them side by side.
describe('the hourglass CLI', { concurrency: 4 }, () => {
  test('--help lists the commands and exits 0', async () => {
    const runs = await Promise.all([['--help'], ['help'], ['-h']].map(async (args) => ({ args, r: await hourglass(args) })))
    for (const { args, r } of runs) {
      assert.equal(r.code, 0, args.join(' ') + ': ' + r.stderr)
      assert.match(r.stdout, /^Usage: hourglass <command>/)
      for (const command of ['serve', 'batch', 'seed', 'produce', 'vacuum', 'migrate']) assert.match(r.stdout, new RegExp(`^  ${command} `, 'm'))
      assert.equal(r.stderr, '')
    }
  })

  test('serve --help lists its options and exits 0 without serving', async () => {
    const r = await hourglass(['serve', '--help'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Usage: hourglass serve/)
    for (const flag of ['--port', '--source', '--data', '--help']) assert.match(r.stdout, new RegExp(`^  ${flag}\\b`, 'm'))
    assert.match(r.stdout, /HOURGLASS_PORT/, 'each option names its variable')
    const seed = await hourglass(['seed', '--help'])
    assert.equal(seed.code, 0)
    for (const flag of ['--days', '--force', '--data']) assert.match(seed.stdout, new RegExp(`^  ${flag}\\b`, 'm'))
    for (const flag of ['--store', '--brokers', '--topics', '--group', '--redis-url']) assert.match(r.stdout, new RegExp(`^  ${flag}\\b`, 'm'))
    const produce = await hourglass(['produce', '--help'])
    assert.equal(produce.code, 0)
    for (const flag of ['--brokers', '--topic', '--rate', '--count', '--duration', '--file', '--format']) assert.match(produce.stdout, new RegExp(`^  ${flag}\\b`, 'm'))
    const migrate = await hourglass(['migrate', '--help'])
    assert.equal(migrate.code, 0)
    assert.match(migrate.stdout, /^Usage: hourglass migrate/)
    assert.match(migrate.stdout, /_manifest\.json/)
    for (const flag of ['--data', '--help']) assert.match(migrate.stdout, new RegExp(`^  ${flag}\\b`, 'm'))
    const vacuum = await hourglass(['vacuum', '--help'])
    assert.match(vacuum.stdout, /^ {2}--gold-retain\b.*HOURGLASS_GOLD_RETENTION, default 168h/m)
  })

  test('produce: bad options exit 2 naming the flag, before connecting to anything', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--rate', 'fast'], /^hourglass: --rate="fast" is not a rate above 0/],
      [['--count', '0'], /^hourglass: --count="0" is not a whole number above 0/],
      [['--duration', 'soon'], /^hourglass: --duration="soon" is not a duration/],
      [['--count', '5', '--duration', '5s'], /^hourglass: give --count or --duration, not both/],
      [['--file', '/nonexistent/events.jsonl'], /^hourglass: --file="\/nonexistent\/events.jsonl": .* is not a readable file/],
      [['--topic', 'a b'], /^hourglass: --topic="a b" is not a topic name/],
      [['--format', 'xml'], /^hourglass: --format="xml" is not json or avro/],
      [['--format', 'avro'], /^hourglass: --format avro needs HOURGLASS_SCHEMA_REGISTRY_URL/]
    ]
    const runs = await Promise.all(cases.map(async ([args]) => await hourglass(['produce', ...args])))
    runs.forEach((r, i) => {
      const [args, says] = cases[i] as [string[], RegExp]
      assert.equal(r.code, 2, args.join(' '))
      assert.match(r.stderr, says)
      assert.match(r.stderr, /Usage: hourglass produce/)
    })
  })

  test('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    const r = await hourglass(['--version'])
    assert.equal(r.code, 0)
    assert.equal(r.stdout.trim(), pkg.version)
  })

  test('an unknown command exits 2 naming it, with the usage', async () => {
    const r = await hourglass(['frobnicate'])
    assert.equal(r.code, 2)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^hourglass: Unknown command "frobnicate"/)
    assert.match(r.stderr, /Usage: hourglass <command>/)
  })

  test('an unknown flag exits 2 naming it, with the command\'s usage', async () => {
    const r = await hourglass(['serve', '--prot', '3001'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^hourglass: Unknown option '--prot'/)
    assert.match(r.stderr, /Usage: hourglass serve/)
    // a flag of another command is unknown here too
    const batch = await hourglass(['batch', '--port', '3001'])
    assert.equal(batch.code, 2)
    assert.match(batch.stderr, /Unknown option '--port'/)
    assert.match(batch.stderr, /Usage: hourglass batch/)
  })

  test('a bad environment variable exits 2 naming the variable, before anything starts', async (t) => {
    const dir = await tempDir(t)
    const r = await hourglass(['serve'], { HOURGLASS_PORT: 'abc', HOURGLASS_DATA_DIR: join(dir, 'data') })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^hourglass: HOURGLASS_PORT="abc" is not an integer/)
    assert.equal(existsSync(join(dir, 'data')), false, 'nothing was created')
    const level = await hourglass(['batch'], { HOURGLASS_LOG_LEVEL: 'loud' })
    assert.equal(level.code, 2)
    assert.match(level.stderr, /HOURGLASS_LOG_LEVEL="loud" is not valid: expected one of/)
  })

  test('a bad flag value exits 2 naming the flag', async () => {
    const r = await hourglass(['seed', '--days', 'many'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^hourglass: --days="many" is not an integer/)
  })

  test('seed, seed again, batch: one data folder through bronze to gold', async (t) => {
    const data = await tempDir(t)
    const env = { HOURGLASS_SYNTHETIC_RATE: '1' } // ≈ 86k records: a second or two

    const seeded = await hourglass(['seed', '--days', '1', '--data', data], env)
    assert.equal(seeded.code, 0, seeded.stderr)
    assert.match(seeded.stdout, /^seed: 1 day of synthetic history \(1 events\/s\)/m)
    assert.match(seeded.stdout, /^seed: \d{4}-\d{2}-\d{2}, [\d,]+ records so far$/m, 'a progress line per day')
    assert.match(seeded.stdout, /^seed: [\d,]+ records \([\d,]+ invalid, left out\)/m)
    assert.match(seeded.stdout, /^batch: published gold v1: \d+ (new )?hours to \S+Z, [\d,]+ events/m)

    const bronze = (await listFiles(join(data, 'bronze', 'events'))).filter((f) => f.endsWith('.parquet'))
    assert.ok(bronze.length >= 24, `bronze Parquet files, one or more per hour (got ${bronze.length})`)
    for (const f of bronze) assert.match(f, /date=\d{4}-\d{2}-\d{2}[/\\]hour=\d{2}[/\\][^/\\]+\.parquet$/)
    // gold: the hourly Delta table's commit 0 creates it, commit 1 is the publish (read as plain JSON lines here)
    const hourlyTable = join(data, 'gold', 'hourly_metrics')
    assert.deepEqual((await readdir(join(hourlyTable, '_delta_log'))).filter((n) => n.endsWith('.json')).sort(),
      ['00000000000000000000.json', '00000000000000000001.json'])
    const actions = (await readFile(join(hourlyTable, '_delta_log', '00000000000000000001.json'), 'utf8')).trim().split('\n')
      .map((l) => JSON.parse(l) as { add?: { path: string, stats: string }, metaData?: { configuration: Record<string, string> } })
    const adds = actions.flatMap((a) => (a.add === undefined ? [] : [a.add]))
    assert.ok(adds.length > 0)
    assert.ok(adds.reduce((n, a) => n + (JSON.parse(a.stats) as { numRecords: number }).numRecords, 0) > 0)
    for (const a of adds) assert.ok(existsSync(join(hourlyTable, a.path)), `added gold file ${a.path} exists`)
    const properties = actions.find((a) => a.metaData !== undefined)?.metaData?.configuration
    assert.match(properties?.['hourglass.complete_until'] ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/)

    const again = await hourglass(['seed', '--days', '1', '--data', data], env)
    assert.equal(again.code, 1)
    assert.match(again.stderr, /bronze already holds data/)
    assert.match(again.stderr, /--force/)
    const after = await listFiles(join(data, 'bronze', 'events'))
    assert.equal(after.length, bronze.length, 'the refused seed wrote nothing')

    const batch = await hourglass(['batch', '--data', data])
    assert.equal(batch.code, 0, batch.stderr)
    // an hour boundary may have passed since the seed: then the new hour is published as v2
    assert.match(batch.stdout, /^batch: (nothing new to build; gold version 1 stays in force|published gold v2: )/m)

    // compaction merges the small files of finished hours and leaves gold's answer unchanged
    const compact = await hourglass(['compact', '--data', data])
    assert.equal(compact.code, 0, compact.stderr)
    assert.match(compact.stdout, /^compact: \d+ hours, \d+ files merged into \d+, [\d,]+ events/m)
    const compacted = (await listFiles(join(data, 'bronze', 'events'))).filter((f) => f.endsWith('.parquet'))
    assert.ok(compacted.length <= bronze.length)
    const badHour = await hourglass(['compact', '--hour', 'noon', '--data', data])
    assert.equal(badHour.code, 2)
    assert.match(badHour.stderr, /--hour="noon" is not the start of an hour/)

    // a dry-run vacuum with a 1 h retention names what it would remove and removes nothing
    const dry = await hourglass(['vacuum', '--retain', '1h', '--dry-run', '--data', data])
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, /^vacuum \(dry run\): bronze \d+ dates/m)
    assert.deepEqual((await listFiles(join(data, 'bronze', 'events'))).filter((f) => f.endsWith('.parquet')).length, compacted.length)
    const bad = await hourglass(['vacuum', '--retain', 'forever', '--data', data])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--retain="forever" is not a duration/)
  })

  test('batch on an empty folder says there is nothing to build', async (t) => {
    const data = await tempDir(t)
    const r = await hourglass(['batch'], { HOURGLASS_DATA_DIR: data })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'batch: nothing new to build; gold version none stays in force')
  })
})
