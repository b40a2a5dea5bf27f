#!/usr/bin/env node
// The installed CLI runs the compiled code (npm ci builds it through the prepare script).
import { main } from '../dist/main.js'

main(process.argv.slice(2)).then((code) => {
  if (typeof code === 'number') process.exitCode = code
}, (err) => {
  console.error(err instanceof Error ? err.message : err)
  process.exitCode = 1
})
