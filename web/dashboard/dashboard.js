// The dashboard: events per bucket by event type, p95 response and revenue over a chosen range,
// filtered by event type and region, from GET /v1/metrics (hourly; the merged batch + speed answer)
// or /v1/metrics/live (minute windows, for the last 15 minutes and hour). The speed part is asked
// again every `refresh` seconds (URL parameter, default 15): only the range after the boundary,
// spliced into the answer; the anomalies of the range (/v1/anomalies) are marked on the charts of their metric.
// Beside the charts: /v1/quality and /v1/reconciliation?limit=1.
import { authHeaders, keyForm, keyReady } from '/dashboard/api-key.js'
import { columns, drawChart } from '/dashboard/charts.js'

const MINUTE = 60_000
const HOUR = 3_600_000
const RANGES = {
  '15m': { live: '15m' },
  '1h': { live: '60m' },
  '6h': { hours: 6 },
  '24h': { hours: 24 },
  '7d': { hours: 168 }
}
const params = new URLSearchParams(location.search)
const REFRESH_MS = Math.max(1, Number(params.get('refresh') ?? 15)) * 1000

const $ = (id) => document.getElementById(id)
const status = $('status')
let showKeyNote = () => {}

class HttpError extends Error {
  constructor (status, body) {
    super(body?.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.code
  }
}

async function getJson (url) {
  const res = await fetch(url, { headers: { Accept: 'application/json', ...authHeaders() } })
  const body = await res.json().catch(() => null)
  if (!res.ok) throw new HttpError(res.status, body)
  return body
}

function say (text, error = false) {
  status.textContent = text
  status.classList.toggle('error', error)
}

function explain (err) {
  if (err.status === 401) {
    showKeyNote('a key is needed')
    return 'a key with metrics:read is needed (enter it above)'
  }
  if (err.status === 403) return `this key lacks a scope: ${err.message}`
  return err.message
}

/** the URLs of a range and filters: events by event type, and the totals (p95, revenue) */
export function queryOf (range, filters, now = Date.now()) {
  const r = RANGES[range]
  const common = new URLSearchParams()
  if (filters.event_type) common.set('event_type', filters.event_type)
  if (filters.region) common.set('region', filters.region)
  const with_ = (extra) => { const p = new URLSearchParams(common); for (const [k, v] of Object.entries(extra)) p.set(k, v); return p }
  const anomalies = (from) => `/v1/anomalies?${with_({ from })}`
  if (r.live !== undefined) {
    return {
      bucketMs: MINUTE,
      unit: 'minute',
      anomalies: anomalies(new Date(Math.floor(now / MINUTE) * MINUTE + MINUTE - Number.parseInt(r.live) * MINUTE).toISOString()),
      events: `/v1/metrics/live?${with_({ last: r.live, group_by: 'event_type', metrics: 'total_events' })}`,
      totals: `/v1/metrics/live?${with_({ last: r.live, metrics: 'p95_response,total_revenue' })}`
    }
  }
  const from = new Date(Math.floor(now / HOUR) * HOUR - r.hours * HOUR).toISOString()
  const hourly = (from, extra) => `/v1/metrics?${with_({ from, granularity: 'hour', ...extra })}`
  return {
    bucketMs: HOUR,
    unit: 'hour',
    anomalies: anomalies(from),
    events: hourly(from, { group_by: 'event_type', metrics: 'total_events' }),
    totals: hourly(from, { metrics: 'p95_response,total_revenue' }),
    /** the same queries from `since` on (the speed part) */
    since: (since) => ({
      anomalies: anomalies(from),
      events: hourly(since, { group_by: 'event_type', metrics: 'total_events' }),
      totals: hourly(since, { metrics: 'p95_response,total_revenue' })
    })
  }
}

/** `older` with everything from `fresh.meta.from` on replaced by `fresh` */
export function splice (older, fresh) {
  const cut = Date.parse(fresh.meta.from)
  const before = (x) => Date.parse(x.to) <= cut
  return {
    rows: [...older.rows.filter((r) => Date.parse(r.window_start) < cut), ...fresh.rows],
    meta: {
      ...fresh.meta,
      from: older.meta.from,
      sources: [...older.meta.sources.filter(before), ...fresh.meta.sources],
      gaps: [...older.meta.gaps.filter(before), ...fresh.meta.gaps]
    }
  }
}

let state = null // { query, events, totals, anomalies }
let timer = null
/** counts loads: an answer that arrives after a newer load began is dropped */
let generation = 0

function draw () {
  const { query, events, totals, anomalies } = state
  const marks = (metric) => anomalies.filter((a) => a.metric === metric)
  for (const el of document.querySelectorAll('.unit')) el.textContent = query.unit
  drawChart($('events'), columns(events.rows, events.meta, query.bucketMs, (r) => r.event_type ?? 'all', (r) => r.total_events, 0), events.meta,
    { stepped: true, marks: marks('total_events') })
  drawChart($('p95'), columns(totals.rows, totals.meta, query.bucketMs, () => 'p95 response', (r) => r.p95_response, null), totals.meta,
    { unit: ' ms', marks: marks('p95_response') })
  drawChart($('revenue'), columns(totals.rows, totals.meta, query.bucketMs, () => 'revenue', (r) => r.total_revenue, 0), totals.meta,
    { stepped: true, marks: marks('total_revenue') })
  const m = events.meta
  $('coverage').textContent = `· ${m.complete ? 'complete' : 'incomplete'}` +
    (m.batch_version === null ? '' : ` · gold v${m.batch_version}`) +
    (m.freshness.lag_ms === null ? '' : ` · speed lag ${(m.freshness.lag_ms / 1000).toFixed(1)} s`)
  $('gaps').replaceChildren(...m.gaps.map((g) => {
    const li = document.createElement('li')
    li.textContent = `gap ${new Date(g.from).toLocaleString()} – ${new Date(g.to).toLocaleString()}: ${g.reason}`
    return li
  }))
  document.body.dataset.query = query.events
  say(`updated ${new Date().toLocaleTimeString()} · speed part every ${REFRESH_MS / 1000} s`)
}

/**
 * Asks both queries of `urls` and the anomalies and, unless a newer load began meanwhile, hands the answers to `use`
 * (which draws and returns the counter it bumped, or false when it started another load), then
 * schedules the next refresh.
 */
async function ask (urls, use) {
  const mine = generation
  try {
    const [events, totals, found] = await Promise.all([getJson(urls.events), getJson(urls.totals), getJson(urls.anomalies)])
    if (mine !== generation) return
    const counter = use(events, totals, found.anomalies)
    if (counter === false) return
    document.body.dataset[counter] = String(Number(document.body.dataset[counter] ?? 0) + 1)
  } catch (err) {
    if (mine !== generation) return
    say(explain(err), true)
  }
  timer = setTimeout(refresh, REFRESH_MS)
}

async function load () {
  clearTimeout(timer)
  generation++
  const query = queryOf($('range').value, { event_type: $('event_type').value, region: $('region').value })
  await ask(query, (events, totals, anomalies) => {
    state = { query, events, totals, anomalies }
    draw()
    return 'loads'
  })
}

/** the speed part again: live ranges whole, hourly ones from the boundary (all again if it moved) */
async function refresh () {
  if (state === null || state.query.since === undefined || state.events.meta.boundary === null) return load()
  const boundary = state.events.meta.boundary
  await ask(state.query.since(boundary), (events, totals, anomalies) => {
    if (events.meta.boundary !== boundary || totals.meta.boundary !== boundary) {
      void load()
      return false
    }
    state = { ...state, events: splice(state.events, events), totals: splice(state.totals, totals), anomalies }
    draw()
    return 'refreshes'
  })
}

function table (pairs) {
  const t = document.createElement('table')
  for (const [label, value] of pairs) {
    const tr = t.insertRow()
    tr.insertCell().textContent = label
    const td = tr.insertCell()
    td.className = 'n'
    td.textContent = value
  }
  return t
}

const count = (n) => n.toLocaleString()
const percent = (x) => (x === null ? '–' : `${(x * 100).toFixed(2)} %`)

async function loadSide () {
  const quality = $('quality').querySelector('.body')
  const recon = $('reconciliation').querySelector('.body')
  try {
    const q = await getJson('/v1/quality')
    quality.replaceChildren(table([
      ['received', count(q.received)], ['valid', count(q.valid)], ['invalid', count(q.invalid)],
      ['duplicates', count(q.duplicates)], ['late', count(q.late)], ['quality', percent(q.quality_ratio)]
    ]))
  } catch (err) {
    quality.textContent = explain(err)
  }
  try {
    const { reconciliations } = await getJson('/v1/reconciliation?limit=1')
    const r = reconciliations[0]
    recon.replaceChildren(r === undefined
      ? 'none yet: one is made when gold publishes an hour the speed layer held'
      : table([
        ['hour', new Date(r.hour).toLocaleString()], ['gold version', `v${r.batch_version}`],
        ['speed events', count(r.speed_events)], ['batch events', count(r.batch_events)],
        ['events diff', `${count(r.events_diff)} (${percent(r.events_relative_diff)})`],
        ['revenue diff', `${r.revenue_diff.toFixed(2)} (${percent(r.revenue_relative_diff)})`],
        ['groups differing', count(r.differing_groups.length)]
      ]))
  } catch (err) {
    recon.textContent = explain(err)
  }
}

async function loadDimensions () {
  const d = await getJson('/v1/dimensions')
  for (const [id, values] of [['event_type', d.event_types], ['region', d.regions]]) {
    const select = $(id)
    select.replaceChildren(select.options[0], ...values.map((v) => new Option(v, v)))
  }
}

async function start () {
  if (!(await keyReady('/dashboard/config.json'))) {
    say('enter an API key above (or Use with none, for a server without keys)')
    return
  }
  try {
    await loadDimensions()
  } catch (err) {
    say(explain(err), true)
    return
  }
  await Promise.all([load(), loadSide()])
}

for (const id of ['range', 'event_type', 'region']) $(id).addEventListener('change', () => { void load() })
showKeyNote = keyForm($('key'), () => { void start() })
void start()
