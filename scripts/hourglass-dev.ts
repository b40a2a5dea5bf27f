// The `hourglass` CLI straight from the TypeScript sources, no build needed (bin/hourglass.js runs
// dist/): `node --import tsx scripts/hourglass-dev.ts seed --days 1`. The CLI tests spawn this.
import { main } from '../src/main.js'

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
}, (err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exitCode = 1
})
