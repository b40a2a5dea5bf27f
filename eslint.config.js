// Lint: the recommended JS and type-aware TypeScript rules, plus the import boundaries of DESIGN.md.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const layer = (from, forbidden) => ({
  files: [`src/${from}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((f) => ({ group: [`**/${f}/*`, `**/${f}/**`, `../${f}`, `../../${f}`], message: `src/${from} may not import src/${f} (see DESIGN.md, Layout)` }))
    }]
  }
})

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', '.cache/**', 'load-tests/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', performance: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error'
    }
  },
  layer('model', ['ingest', 'speed', 'batch', 'merger', 'api']),
  layer('ingest', ['speed', 'batch', 'merger', 'api']),
  layer('speed', ['ingest', 'batch', 'merger', 'api']),
  layer('batch', ['ingest', 'speed', 'merger', 'api']),
  layer('merger', ['ingest', 'speed', 'batch', 'api']),
  layer('api', ['ingest', 'speed', 'batch'])
)
