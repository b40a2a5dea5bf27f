// What the fuzz test sends: requests generated from openapi/openapi.json (each declared parameter
// given a plausible value, a hostile one or left out, plus unknown parameters and other methods),
// and generators and fixed lists of hostile GraphQL and OData inputs. Pure: no I/O.
import fc from 'fast-check'

const H = 3_600_000
const D = 24 * H

export interface OpenApiParameter { name: string, in: string, required?: boolean }
export interface OpenApiOperation { parameters?: OpenApiParameter[], responses: Record<string, unknown> }
export interface OpenApiDocument { paths: Record<string, Record<string, OpenApiOperation>> }

export interface Request { method: string, url: string, headers?: Record<string, string>, payload?: string }

/** Percent-encoding of a string's UTF-8 bytes (a lone surrogate becomes U+FFFD, where encodeURIComponent throws). */
export function enc (s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('')
}

/** Strings an attacker or a broken client sends: empty, huge, control bytes, other scripts, injections. */
export const hostileString = fc.oneof(
  fc.constantFrom('', ' ', '0', '-1', 'null', 'undefined', 'NaN', 'Infinity', '1e309', '9007199254740993', '[]', '{}',
    "' OR 1=1 --", '"; DROP TABLE gold; --', '../../etc/passwd', '%00', '\u0000', '\uFFFF', '\uD800', '😀', 'ß', '${7*7}',
    '<script>alert(1)</script>', 'a'.repeat(5000), ',,,', 'event_type,event_type', '2026-13-45T25:61:61Z', '1970-01-01T00:00:00Z',
    '+275760-09-13T00:00:00Z', '0000-01-01T00:00:00Z'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer().map(String),
  fc.double().map(String)
)

/** A plausible value for a parameter of the REST API, relative to `now` so that some answer 200. */
function plausible (name: string, now: number): fc.Arbitrary<string> {
  const instant = fc.integer({ min: -30 * D, max: 2 * H }).map((d) => new Date(now + d).toISOString())
  switch (name) {
    case 'from': return fc.oneof(instant, fc.integer({ min: -500 * D, max: 0 }).map((d) => new Date(now + d).toISOString()))
    case 'to': return instant
    case 'granularity': return fc.constantFrom('minute', 'hour', 'day', 'week', 'HOUR')
    case 'group_by': return fc.subarray(['event_type', 'region', 'user_id', 'event_type']).map((a) => a.join(','))
    case 'event_type': return fc.subarray(['purchase', 'page_view', 'search', 'click', 'x'.repeat(70)]).map((a) => a.join(','))
    case 'region': return fc.subarray(['us-east', 'eu-west', 'ap-south', '']).map((a) => a.join(','))
    case 'metrics': return fc.subarray(['total_events', 'avg_latency', 'p95_response', 'total_revenue', 'p99']).map((a) => a.join(','))
    case 'last': return fc.constantFrom('15m', '1h', '2h', '0s', '90s', '1d', '15', '-5m')
    case 'limit': return fc.oneof(fc.integer({ min: -5, max: 2000 }).map(String), fc.constant('all'))
    default: return hostileString
  }
}

const METHODS = ['GET', 'GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/** Requests for the REST operations of an OpenAPI document. */
export function restRequests (doc: OpenApiDocument, now: number): fc.Arbitrary<Request> {
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.values(methods).map((op) => ({ path, op })))
  return fc.constantFrom(...ops).chain(({ path, op }) => {
    const params = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) =>
      fc.option(fc.oneof({ weight: 4, arbitrary: plausible(p.name, now) }, { weight: 1, arbitrary: hostileString })
        .map((v) => [p.name, v] as const), { freq: p.required === true ? 8 : 2 }))
    const extra = fc.option(fc.tuple(fc.constantFrom('api_key', '$top', 'x', 'from[]', '__proto__', 'constructor'), hostileString), { freq: 4 })
    return fc.record({ method: fc.constantFrom(...METHODS), values: fc.tuple(...params), extra, slash: fc.boolean() }).map(({ method, values, extra, slash }) => {
      const pairs = [...values, extra].filter((x): x is readonly [string, string] => x !== null)
      const qs = pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')
      return { method, url: `${path}${slash ? '/' : ''}${qs === '' ? '' : '?' + qs}` }
    })
  })
}

const FIELDS = ['window_start', 'event_type', 'region', 'total_events', 'avg_latency', 'p95_response', 'total_revenue', 'nope', '$it', 'Event_Type']
const LITERALS = ["'purchase'", "'it''s'", "'", '0', '-1', '1e308', '9223372036854775808', 'null', 'true', '2026-01-01T00:00:00Z',
  '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', 'now()', "''", 'duration\'PT1H\'', '(1,2)', '[]']
const OPERATORS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'and', 'or', 'not', 'in', 'has', 'add', 'sub', '(', ')', ',', '/']
const FUNCTIONS = ['contains', 'startswith', 'endswith', 'tolower', 'length', 'year', 'substring', 'cast', 'any']

/** A $filter: a token soup from OData's grammar, and some well-formed comparisons. */
const filter = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(...FIELDS), fc.constantFrom(...LITERALS), fc.constantFrom(...OPERATORS),
    fc.constantFrom(...FUNCTIONS).map((f) => f + '('), hostileString), { maxLength: 14 }).map((a) => a.join(' ')),
  fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom('eq', 'ne', 'gt', 'ge', 'lt', 'le'), fc.constantFrom(...LITERALS)).map((a) => a.join(' ')),
  fc.integer({ min: 1, max: 300 }).map((n) => '('.repeat(n) + "event_type eq 'a'" + ')'.repeat(n)),
  fc.integer({ min: 1, max: 200 }).map((n) => Array.from({ length: n }, (_, i) => `region eq 'r${i}'`).join(' or '))
)

/** A $skiptoken: base64 JSON of the service's own shape with hostile numbers, or anything. */
const skiptoken = fc.oneof(
  fc.record({
    v: fc.oneof(fc.constant(1), fc.integer()),
    r: fc.tuple(fc.oneof(fc.integer({ min: 0, max: 2 ** 53 }), fc.double()), fc.oneof(fc.integer({ min: 0, max: 2 ** 53 }), fc.double())),
    a: fc.array(fc.jsonValue(), { maxLength: 3 }),
    n: fc.oneof(fc.integer(), fc.double(), fc.string())
  }).map((t) => Buffer.from(JSON.stringify(t)).toString('base64url')),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64')),
  hostileString
)

/** OData requests: entity sets, $count, $metadata and system query options, well- and ill-formed. */
export function odataRequests (): fc.Arbitrary<Request> {
  const option = fc.oneof(
    filter.map((v) => ['$filter', v] as const),
    fc.oneof(fc.integer({ min: -10, max: 100_000 }).map(String), hostileString).map((v) => ['$top', v] as const),
    fc.oneof(fc.integer({ min: -10, max: 10 ** 9 }).map(String), hostileString).map((v) => ['$skip', v] as const),
    skiptoken.map((v) => ['$skiptoken', v] as const),
    fc.subarray(FIELDS).map((a) => ['$select', a.join(',')] as const),
    fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom('', ' asc', ' desc', ' sideways')).map(([f, d]) => ['$orderby', f + d] as const),
    fc.constantFrom('true', 'false', 'maybe').map((v) => ['$count', v] as const),
    fc.constantFrom('json', 'xml', 'atom', 'application/json;odata.metadata=full').map((v) => ['$format', v] as const),
    fc.tuple(fc.constantFrom('$apply', '$expand', '$search', '$levels', '$compute', 'x'), hostileString)
  )
  const path = fc.constantFrom('/odata', '/odata/', '/odata/$metadata', '/odata/HourlyMetrics', '/odata/DailyMetrics', '/odata/MinuteMetrics',
    '/odata/HourlyMetrics/$count', '/odata/Nope', '/odata/HourlyMetrics(1)', '/odata/$batch', '/odata/HourlyMetrics/$value')
  return fc.record({
    method: fc.constantFrom('GET', 'GET', 'GET', 'GET', 'POST', 'DELETE', 'PATCH'),
    path,
    options: fc.array(option, { maxLength: 4 }),
    prefer: fc.option(fc.constantFrom('odata.maxpagesize=0', 'odata.maxpagesize=-1', 'odata.maxpagesize=99999999999', 'odata.maxpagesize=x')),
    wrecked: fc.boolean()
  }).map(({ method, path, options, prefer, wrecked }) => {
    // some options are sent as they are (unencoded spaces, quotes): what a careless client does
    const qs = options.map(([k, v]) => `${k}=${wrecked ? v.replace(/[\s#&%]/g, enc) : enc(v)}`).join('&')
    return { method, url: path + (qs === '' ? '' : '?' + qs), ...(prefer === null ? {} : { headers: { prefer } }) }
  })
}

/** Fixed GraphQL requests known to hurt servers: cost, depth, aliases, fragments, wrong types. */
export function hostileGraphql (now: number): Request[] {
  const from = new Date(now - 7 * D + H).toISOString()
  const aliases = (n: number, groupBy = ''): string =>
    `{ ${Array.from({ length: n }, (_, i) => `a${i}: metrics(from: "${from}"${groupBy}) { rows { window_start event_type total_events } }`).join(' ')} }`
  const post = (body: unknown): Request => ({ method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })
  return [
    post({ query: aliases(60) }),
    post({ query: aliases(100, ', groupBy: [event_type, region]') }),
    post({ query: 123 }), post({ query: true }), post({ query: null }), post({ query: ['{ __typename }'] }), post([{ query: '{ __typename }' }]),
    post({ query: '{ __typename }', variables: 'x' }), post({ query: '{ __typename }', operationName: 42 }),
    post({ query: '{'.repeat(5000) }), post({ query: `query { ${'__schema { types { fields { type { '.repeat(30)} }` }),
    post({ query: 'fragment A on Query { ...B } fragment B on Query { ...A } { ...A }' }),
    post({ query: `{ ${'__typename '.repeat(20_000)} }` }),
    post({ query: 'mutation { x }' }), post({ query: 'subscription { windowUpdated { window_start } }' }),
    post({ query: 'query($f: String!) { metrics(from: $f) { rows { total_events } } }', variables: { f: 'not a date' } }),
    post({ query: 'query($f: String!) { metrics(from: $f) { rows { total_events } } }', variables: { f: 12 } }),
    post({ query: '{ metrics(from: "1970-01-01T00:00:00Z", granularity: minute) { rows { total_events } } }' }),
    { method: 'GET', url: '/graphql?query=' + encodeURIComponent('mutation { x }') },
    { method: 'GET', url: '/graphql?query=' + encodeURIComponent('{ __typename }') + '&variables=%7B' },
    { method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload: '{"query": "{ __typename }"' },
    { method: 'POST', url: '/graphql', headers: { 'content-type': 'text/plain' }, payload: '{ __typename }' },
    { method: 'POST', url: '/graphql', headers: { 'content-type': 'application/graphql' }, payload: '{ __typename }' },
    { method: 'PUT', url: '/graphql', headers: { 'content-type': 'application/json' }, payload: '{}' }
  ]
}

/** GraphQL documents: a token soup over the schema's own names, with and without variables. */
export function graphqlRequests (): fc.Arbitrary<Request> {
  const token = fc.oneof(
    fc.constantFrom('{', '}', '(', ')', ':', '...', '$f', '!', '@include(if: true)', 'query', 'metrics', 'live', 'rows', 'meta', 'sources',
      'from', 'to', 'granularity', 'groupBy', 'total_events', 'window_start', 'hour', 'minute', '"2026-01-01T00:00:00Z"', '[event_type]',
      '__schema', '__type(name: "Query")', 'a:', 'b:', '#', '"""', '0', '-1', '1e999'),
    hostileString
  )
  return fc.record({
    query: fc.array(token, { maxLength: 30 }).map((a) => a.join(' ')),
    variables: fc.option(fc.dictionary(fc.constantFrom('f', 'from', 'x'), fc.jsonValue(), { maxKeys: 2 })),
    get: fc.boolean()
  }).map(({ query, variables, get }) => get
    ? { method: 'GET', url: `/graphql?query=${enc(query)}${variables === null ? '' : '&variables=' + enc(JSON.stringify(variables))}` }
    : { method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(variables === null ? { query } : { query, variables }) })
}

/** Raw request heads for the HTTP parser itself: bytes no client library would send. */
export function rawHeads (): fc.Arbitrary<Buffer> {
  const path = fc.oneof(
    fc.constantFrom('/v1/metrics', '/odata/HourlyMetrics', '/graphql', '/healthz', '/'),
    fc.uint8Array({ minLength: 1, maxLength: 60 }).map((b) => '/' + Buffer.from(b).toString('latin1').replace(/[\s]/g, '_')),
    fc.constantFrom('/v1/%00', '/odata/%FF%FE', '/v1/metrics?from=%C0%AF', '/%E0%A4%A', '*', '//', '/..%2F..%2Fetc')
  )
  const header = fc.oneof(
    fc.constantFrom('Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA', 'Transfer-Encoding: chunked',
      'Content-Length: -1', 'Content-Length: 5\r\nContent-Length: 6', 'Expect: 100-continue', 'Host:', 'X-Forwarded-Proto: gopher'),
    fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,20}$/), fc.string({ maxLength: 30 })).map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, '')}`)
  )
  return fc.record({
    method: fc.constantFrom('GET', 'POST', 'BREW', 'get', 'CONNECT', 'TRACE'),
    path,
    version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9'),
    headers: fc.array(header, { maxLength: 3 })
  }).map(({ method, path, version, headers }) =>
    Buffer.concat([Buffer.from(`${method} `), Buffer.from(path, 'latin1'), Buffer.from(` ${version}\r\nHost: 127.0.0.1\r\n${headers.map((h) => h + '\r\n').join('')}Connection: close\r\n\r\n`)]))
}
