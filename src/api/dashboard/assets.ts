// The files the browser pages load, by URL: our own (web/ at the package root, beside src/ and dist/)
// and the libraries' browser builds, straight from their npm packages (no CDN, no build step).
// Only the files listed here are served.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** web/ at the package root: two folders up from src/api/dashboard/ and from dist/api/dashboard/ alike */
export const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url))

export interface Asset {
  /** the folder it is sent from */
  dir: string
  /** its path inside that folder */
  file: string
}

const require = createRequire(import.meta.url)

/** The folder of an installed package, whether or not its exports map lists package.json. */
export function packageDir (name: string): string {
  try {
    return path.dirname(require.resolve(`${name}/package.json`))
  } catch {
    let dir = path.dirname(require.resolve(name))
    while (!fs.existsSync(path.join(dir, 'package.json')) || readName(dir) !== name) {
      const up = path.dirname(dir)
      if (up === dir) throw new Error(`package ${name} not found`)
      dir = up
    }
    return dir
  }
}

function readName (dir: string): string | undefined {
  return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name
}

const ours = (file: string): Asset => ({ dir: WEB_DIR, file })
const fromPackage = (name: string, file: string): Asset => ({ dir: packageDir(name), file })

/** URL path under a page's prefix → file; every path a page loads, nothing else */
export function dashboardAssets (): Map<string, Asset> {
  return new Map([
    ['', ours('dashboard/index.html')],
    ['dashboard.js', ours('dashboard/dashboard.js')],
    ['charts.js', ours('dashboard/charts.js')],
    ['dashboard.css', ours('dashboard/dashboard.css')],
    ['api-key.js', ours('shared/api-key.js')],
    ['uPlot.iife.min.js', fromPackage('uplot', 'dist/uPlot.iife.min.js')],
    ['uPlot.min.css', fromPackage('uplot', 'dist/uPlot.min.css')]
  ])
}

export function graphiqlAssets (): Map<string, Asset> {
  return new Map([
    ['', ours('graphiql/index.html')],
    ['graphiql-page.js', ours('graphiql/graphiql-page.js')],
    ['api-key.js', ours('shared/api-key.js')],
    ['react.production.min.js', fromPackage('react', 'umd/react.production.min.js')],
    ['react-dom.production.min.js', fromPackage('react-dom', 'umd/react-dom.production.min.js')],
    ['graphiql.min.js', fromPackage('graphiql', 'graphiql.min.js')],
    ['graphiql.min.css', fromPackage('graphiql', 'graphiql.min.css')],
    ['graphql-ws.min.js', fromPackage('graphql-ws', 'umd/graphql-ws.min.js')]
  ])
}
