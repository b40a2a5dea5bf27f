// GraphiQL on /graphql: queries over HTTP, subscriptions (windowUpdated) over a WebSocket on the same
// path (graphql-transport-ws, the graphql-ws client), both carrying the tab's API key.
// Nothing is asked of the server before the key was entered (or "none" chosen) in this tab, unless the
// server needs no key. The URL may
// carry query, variables and operationName (a link to a ready query).
import { authHeaders, keyForm, keyReady } from '/graphiql/api-key.js'

const { GraphiQL, React, ReactDOM, graphqlWs } = window

const DEFAULT_QUERY = `# Hourglass: the last 24 hours by event type, merged from the batch and speed layers.
# Ctrl-Enter runs it; the subscription below pushes the minute windows as the stream changes them.
query Last24h($from: String!) {
  metrics(from: $from, granularity: hour, groupBy: [event_type]) {
    rows { window_start event_type total_events p95_response total_revenue }
    meta { boundary complete sources { layer from to } gaps { from to reason } }
  }
}

subscription Live {
  windowUpdated(groupBy: [event_type]) {
    rows { window_start event_type total_events }
  }
}
`

function defaultVariables () {
  const from = new Date(Date.now() - 24 * 3600_000)
  from.setUTCMinutes(0, 0, 0)
  return JSON.stringify({ from: from.toISOString() }, null, 2)
}

let wsClient = null

function fetcher () {
  wsClient?.dispose()
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  wsClient = graphqlWs.createClient({ url: `${scheme}://${location.host}/graphql`, lazy: true, connectionParams: () => authHeaders() })
  return GraphiQL.createFetcher({ url: `${location.origin}/graphql`, headers: authHeaders(), wsClient })
}

function fromUrl () {
  const params = new URLSearchParams(location.search)
  const props = {}
  for (const name of ['query', 'variables', 'operationName']) if (params.has(name)) props[name] = params.get(name)
  return props
}

const host = document.getElementById('graphiql')
let root = null
let generation = 0
async function render () {
  if (!(await keyReady('/graphiql/config.json'))) {
    root?.unmount()
    root = null
    host.textContent = 'Enter an API key above (or Use with none, for a server without keys) to start.'
    return
  }
  root ??= ReactDOM.createRoot(host)
  generation++
  root.render(React.createElement(GraphiQL, {
    key: generation,
    fetcher: fetcher(),
    defaultQuery: DEFAULT_QUERY,
    variables: defaultVariables(),
    defaultEditorToolsVisibility: true,
    ...fromUrl()
  }))
}

keyForm(document.getElementById('key'), () => { void render() })
void render()
