// Lint: the recommended JS and type-aware TypeScript rules, the import boundaries of DESIGN.md, and lines of at most 160 characters.
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const restricted = (from, forbidden) => ({
  files: [`src/${from}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((f) => ({
        group: [`**/${f}/*`, `**/${f}/**`, `../${f}`, `../../${f}`, `../${f}.js`, `../../${f}.js`],
        message: `src/${from} may not import src/${f} (see DESIGN.md, Layout)`
      }))
    }]
  }
})
// src/app (the composition root and the modules that join layers) may import every layer; no layer imports it
const layer = (from, forbidden) => restricted(from, [...forbidden, 'app'])

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', '.cache/**', 'load-tests/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: Object.fromEntries([
        'process', 'console', 'Buffer', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'URL', 'performance', 'fetch',
        'AbortController', 'AbortSignal'
      ].map((name) => [name, 'readonly']))
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error'
    }
  },
  // lines of at most 160 characters, strings and template literals included (core max-len, kept until ESLint 11)
  {
    files: ['src/**/*.ts', 'scripts/**/*.{ts,mjs,js}'],
    rules: { 'max-len': ['error', { code: 160, ignoreUrls: true, ignoreStrings: false, ignoreTemplateLiterals: false }] }
  },
  // the browser pages (plain ES modules served as they are) and the libraries' globals they load first
  {
    files: ['web/**/*.js'],
    languageOptions: { globals: { ...globals.browser, uPlot: 'readonly', GraphiQL: 'readonly', React: 'readonly', ReactDOM: 'readonly', graphqlWs: 'readonly' } },
    rules: { 'max-len': ['error', { code: 160 }] }
  },
  layer('model', ['ingest', 'speed', 'batch', 'merger', 'api', 'enrich']),
  layer('ingest', ['speed', 'batch', 'merger', 'api', 'enrich']),
  // enrichment is a stage both speed and batch run: it imports only model
  layer('enrich', ['ingest', 'speed', 'batch', 'merger', 'api']),
  layer('speed', ['ingest', 'batch', 'merger', 'api']),
  layer('batch', ['ingest', 'speed', 'merger', 'api']),
  layer('merger', ['ingest', 'speed', 'batch', 'api', 'enrich']),
  layer('api', ['ingest', 'speed', 'batch', 'enrich']),
  // nor the CLI: the app is built from a Config, whoever parsed it
  restricted('app', ['main', 'cli-args'])
)
